"""Snapshots of the memories a Mem0 instance holds now → raw_memory_snapshots.

One snapshot = one snapshot_id, one row per memory: owner ids, UTF-8 size, a sha256 of the normalised text
(exact duplicates hash alike), Mem0's created/updated times, categories, metadata keys (never values).
Texts are stored only when asked (`store_text=True`). API keys never reach the warehouse or a message.

OSS: `Memory.get_all` in mem0 2.2 insists on an entity id in `filters`; listing the whole instance goes to
the vector store directly (`memory.vector_store.list`, what get_all calls underneath), scope by scope when
ids are given. Platform: `MemoryClient.get_all(filters=..., page=, page_size=)` per entity, the entities
coming from `client.users()` (GET /v1/entities/) when no ids are given.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml

from memlens.collectors.base import CollectorError, IngestResult, collection_run, read_sql, utcnow
from memlens.config import Config, default_config
from memlens.instrumentation.events import normalise_query

ENTITY_KEYS = ("user_id", "agent_id", "run_id")
# Payload keys Mem0 itself manages (mem0/memory/main.py core_and_promoted_keys): not user metadata.
MEM0_PAYLOAD_KEYS = frozenset({"data", "hash", "created_at", "updated_at", "id", "text_lemmatized", "attributed_to",
                               "user_id", "agent_id", "run_id", "actor_id", "role", "expiration_date"})


@dataclass(frozen=True)
class MemoryRecord:
    memory_id: str
    text: str
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    categories: tuple[str, ...] | None = None
    metadata_keys: tuple[str, ...] | None = None


def text_hash(text: str) -> str:
    """sha256 of the text normalised like queries (NFKC, lower-case, collapsed whitespace)."""
    return hashlib.sha256(normalise_query(text).encode("utf-8")).hexdigest()


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _scope_and_times(item: Mapping[str, Any]) -> dict[str, str | None]:
    """user_id, agent_id, run_id, created_at, updated_at of a memory (same keys in OSS payloads and Platform items)."""
    return {k: _str_or_none(item.get(k)) for k in ("user_id", "agent_id", "run_id", "created_at", "updated_at")}


def _categories(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(str(c) for c in value) if isinstance(value, list | tuple) else (str(value),)


def _scopes(user_ids: Iterable[str] | None, agent_ids: Iterable[str] | None) -> list[dict[str, str]]:
    return [{"user_id": u} for u in user_ids or ()] + [{"agent_id": a} for a in agent_ids or ()]


def _unwrap(listing: Any) -> list[Any]:
    """Vector stores answer list() as [points] or ([points], next_page): same unwrapping as mem0's get_all."""
    if isinstance(listing, tuple | list) and listing and isinstance(listing[0], tuple | list):
        return list(listing[0])
    return list(listing or [])


def oss_records(memory: Any, user_ids: Iterable[str] | None, agent_ids: Iterable[str] | None, limit: int,
                result: IngestResult) -> Iterator[MemoryRecord]:
    seen: set[str] = set()
    for filters in _scopes(user_ids, agent_ids) or [None]:
        points = _unwrap(memory.vector_store.list(filters=filters, top_k=limit))
        if len(points) >= limit:
            result.messages.append(f"scope {filters or 'all'}: stopped at collector.snapshot_max_memories={limit}")
        for p in points:
            mid = str(p.id)
            if mid in seen:  # a memory matching two scopes (user and agent) is one row
                continue
            seen.add(mid)
            payload = p.payload or {}
            yield MemoryRecord(
                memory_id=mid, text=str(payload.get("data") or ""),
                **_scope_and_times(payload),
                categories=_categories(payload.get("categories")),
                metadata_keys=tuple(sorted(k for k in payload if k not in MEM0_PAYLOAD_KEYS and k != "categories")),
            )


def _platform_scopes(client: Any, user_ids, agent_ids) -> list[dict[str, str]]:
    scopes = _scopes(user_ids, agent_ids)
    if scopes:
        return scopes
    listing = client.users()
    entities = listing.get("results", []) if isinstance(listing, dict) else listing
    kinds = {"user": "user_id", "agent": "agent_id", "run": "run_id", "session": "run_id"}
    return [{kinds[e["type"]]: str(e["name"])} for e in entities if e.get("type") in kinds and e.get("name")]


def platform_records(client: Any, user_ids: Iterable[str] | None, agent_ids: Iterable[str] | None, page_size: int,
                     result: IngestResult) -> Iterator[MemoryRecord]:
    seen: set[str] = set()
    for filters in _platform_scopes(client, user_ids, agent_ids):
        page = 1
        while True:
            response = client.get_all(filters=filters, page=page, page_size=page_size)
            items = response.get("results", []) if isinstance(response, dict) else list(response or [])
            for m in items:
                mid = str(m.get("id"))
                if not m.get("id") or mid in seen:
                    continue
                seen.add(mid)
                metadata = m.get("metadata") or {}
                yield MemoryRecord(
                    memory_id=mid, text=str(m.get("memory") or ""),
                    **_scope_and_times(m),
                    categories=_categories(m.get("categories")),
                    metadata_keys=tuple(sorted(metadata)) if isinstance(metadata, dict) else None,
                )
            if not (isinstance(response, dict) and response.get("next")) or not items:
                break
            page += 1


def write_snapshot(con: duckdb.DuckDBPyConnection, source: str, target: str,
                   list_records: Callable[[IngestResult], Iterable[MemoryRecord]], store_text: bool) -> IngestResult:
    """List the memories inside a booked run and store them as one snapshot in one transaction.

    A listing that fails stores nothing and is recorded as a failed run.
    """
    with collection_run(con, "snapshot", target) as book:
        result = book.result
        rows = list(list_records(result))
        batch = pa.table({
            "memory_id": pa.array([r.memory_id for r in rows], pa.string()),
            "user_id": pa.array([r.user_id for r in rows], pa.string()),
            "agent_id": pa.array([r.agent_id for r in rows], pa.string()),
            "run_id": pa.array([r.run_id for r in rows], pa.string()),
            "text_bytes": pa.array([len(r.text.encode("utf-8")) for r in rows], pa.int32()),
            "text_hash": pa.array([text_hash(r.text) for r in rows], pa.string()),
            "memory_text": pa.array([r.text if store_text else None for r in rows], pa.string()),
            "created_at": pa.array([r.created_at for r in rows], pa.string()),
            "updated_at": pa.array([r.updated_at for r in rows], pa.string()),
            "categories": pa.array([list(r.categories) if r.categories is not None else None for r in rows],
                                   pa.list_(pa.string())),
            "metadata_keys": pa.array([list(r.metadata_keys) if r.metadata_keys is not None else None for r in rows],
                                      pa.list_(pa.string())),
        })
        snapshot_id = uuid.uuid4().hex
        con.register("snapshot_batch", batch)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(read_sql("snapshot_insert.sql"),
                        {"snapshot_id": snapshot_id, "taken_at": utcnow(), "source": source})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("snapshot_batch")
        result.files_seen = 1
        result.rows_loaded = len(rows)
        result.messages.append(f"snapshot {snapshot_id}: {len(rows)} memories from {source}"
                               + (" (texts stored)" if store_text else ""))
    return result


def snapshot_oss(con: duckdb.DuckDBPyConnection, memory: Any, user_ids: Iterable[str] | None = None,
                 store_text: bool = False, *, agent_ids: Iterable[str] | None = None,
                 cfg: Config | None = None) -> IngestResult:
    """Snapshot an OSS mem0.Memory (all memories, or only these users/agents)."""
    limit = (cfg or default_config()).collector.snapshot_max_memories
    return write_snapshot(con, "oss", type(memory).__name__,
                          lambda result: oss_records(memory, user_ids, agent_ids, limit, result), store_text)


def snapshot_platform(con: duckdb.DuckDBPyConnection, client: Any, user_ids: Iterable[str] | None = None,
                      store_text: bool = False, *, agent_ids: Iterable[str] | None = None,
                      cfg: Config | None = None) -> IngestResult:
    """Snapshot the Mem0 Platform through a MemoryClient (all entities, or only these users/agents)."""
    page_size = (cfg or default_config()).collector.platform_page_size
    return write_snapshot(con, "platform", "Mem0 Platform",
                          lambda result: platform_records(client, user_ids, agent_ids, page_size, result), store_text)


def _load_mem0_config(path: str) -> dict[str, Any]:
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CollectorError(f"mem0 config {p}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CollectorError(f"mem0 config {p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: "
                             f"{exc}") from exc
    if not isinstance(data, dict):
        raise CollectorError(f"mem0 config {p}: top level must be a mapping")
    return data


def snapshot_from_cli(con: duckdb.DuckDBPyConnection, args: Any, cfg: Config | None = None) -> IngestResult:
    """`memlens collect snapshot`: --mem0-config FILE (OSS) or --platform ($MEM0_API_KEY), --user, --store-text."""
    os.environ.setdefault("MEM0_TELEMETRY", "False")  # a read-only snapshot sends nothing anywhere
    users = list(getattr(args, "user", None) or []) or None
    store_text = bool(getattr(args, "store_text", False))
    if getattr(args, "platform", False):
        if not os.environ.get("MEM0_API_KEY"):
            raise CollectorError("--platform needs MEM0_API_KEY in the environment")
        from mem0 import MemoryClient

        client = MemoryClient(api_key=os.environ["MEM0_API_KEY"])
        return snapshot_platform(con, client, users, store_text=store_text, cfg=cfg)
    if not getattr(args, "mem0_config", None):
        raise CollectorError("give --mem0-config FILE (an OSS Memory.from_config dict) or --platform")
    from mem0 import Memory

    try:
        memory = Memory.from_config(_load_mem0_config(args.mem0_config))
    except (ImportError, ValueError, OSError) as exc:  # missing provider package, invalid config (pydantic)
        raise CollectorError(f"cannot build mem0.Memory from {args.mem0_config}: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    return snapshot_oss(con, memory, users, store_text=store_text, cfg=cfg)
