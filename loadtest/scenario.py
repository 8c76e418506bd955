"""Scenario files: what a load test, benchmark or comparison runs, typed and validated.

A scenario is a YAML file (examples in `loadtest/scenarios/`). Every key is optional except `name`;
the defaults below are a search-heavy offline run. Bad input is an error naming the file, the line
and the field. A scenario never holds a secret: API keys and Redis URLs are read from the
environment variables it names.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from memlens.resources import read_text, resource

OPS_IN_MIX = ("search", "add", "update", "delete", "get", "get_all")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Mem0Target(_Strict):
    """Which Mem0 the users drive."""

    # offline: real mem0 Memory with the local MiniLM embedder and an in-process vector store
    #          (workloads/offline_mem0.py); config: Memory.from_config(config) — your own Qdrant,
    #          Redis vector store, embedder...; platform: MemoryClient with the key from api_key_env.
    backend: Literal["offline", "config", "platform"] = "offline"
    vector_store: Literal["qdrant", "faiss"] = "qdrant"  # offline only
    config: dict[str, Any] | None = None  # backend=config: the mem0 config dict (use env vars for keys)
    api_key_env: str = "MEM0_API_KEY"  # backend=platform: environment variable holding the key
    reranker: dict[str, Any] | None = None  # optional mem0 `reranker` section added to the config

    @model_validator(mode="after")
    def _config_needed(self) -> Mem0Target:
        if self.backend == "config" and not self.config:
            raise ValueError("backend 'config' needs a `config` mapping (a mem0 Memory.from_config dict)")
        for section in (self.config, self.reranker):
            secret = _secret_key(section)
            if secret:
                raise ValueError(f"`{secret}` holds a secret: leave it out (mem0 reads provider keys from the "
                                 "environment) so scenario files and the runs table never store one")
        return self


_SECRET_WORDS = ("api_key", "apikey", "password", "secret", "token")


def _secret_key(value: Any, path: str = "") -> str | None:
    """Dotted path of the first key that looks like a credential, in a nested mapping."""
    if isinstance(value, dict):
        for key, sub in value.items():
            here = f"{path}.{key}" if path else str(key)
            if any(w in str(key).lower() for w in _SECRET_WORDS) and sub not in (None, ""):
                return here
            found = _secret_key(sub, here)
            if found:
                return found
    return None


class SearchArgs(_Strict):
    """Arguments of every search (and top_k of get_all)."""

    top_k: int = Field(10, gt=0)  # the reference's "limit": mem0 2.2 OSS applies top_k and ignores `limit=`
    threshold: float | None = Field(None, ge=0)  # None = mem0's default
    rerank: bool = False  # ignored by mem0 unless a reranker is configured (mem0.reranker)


class CacheCfg(_Strict):
    """The instrumented search cache in front of Mem0 (instrumentation.cache)."""

    enabled: bool = False
    backend: Literal["memory", "redis"] = "memory"
    ttl_s: float = Field(300, gt=0)  # reference: user preferences 300–900 s
    max_entries: int = Field(10_000, gt=0)
    redis_url_env: str = "MEMLENS_REDIS_URL"  # backend=redis: environment variable holding the URL


class Mix(_Strict):
    """Operation mix of one simulated user: relative weights, normalised at run time."""

    search: float = Field(0.70, ge=0)
    add: float = Field(0.15, ge=0)
    update: float = Field(0.06, ge=0)
    delete: float = Field(0.03, ge=0)
    get: float = Field(0.02, ge=0)
    get_all: float = Field(0.04, ge=0)
    repeat_query_share: float = Field(0.4, ge=0, le=1)  # searches that repeat one of the user's earlier queries
    preload_memories: int = Field(10, ge=0)  # memories each user holds before the measured phase
    think_time_ms: float = Field(0, ge=0)  # mean pause between a user's ops (exponential); 0 = back to back

    @model_validator(mode="after")
    def _some_weight(self) -> Mix:
        if sum(self.weights().values()) <= 0:
            raise ValueError("at least one op weight must be > 0")
        return self

    def weights(self) -> dict[str, float]:
        return {op: getattr(self, op) for op in OPS_IN_MIX}


class Scenario(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = 7
    users: int = Field(4, gt=0)  # concurrency (loadtest --users overrides)
    duration_s: float = Field(10, gt=0)  # loadtest length (loadtest --duration overrides)
    ops_per_user: int = Field(30, gt=0)  # benchmark and compare: fixed work per user per round (repeatable)
    mode: Literal["thread", "async"] = "thread"  # thread: sync Memory; async: AsyncMemory on one event loop
    rounds: int = Field(3, gt=0)  # compare: A/B rounds (A B A B ...)
    mem0: Mem0Target = Mem0Target()
    search: SearchArgs = SearchArgs()
    cache: CacheCfg = CacheCfg()
    mix: Mix = Mix()
    # Optional memlens config overrides for this run (e.g. `prices`), merged over $MEMLENS_CONFIG / defaults.
    memlens: dict[str, Any] = Field(default_factory=dict)

    def config_hash(self) -> str:
        """sha256 (first 16 hex) of everything that changes what runs (not name/description)."""
        body = self.model_dump(exclude={"name", "description", "memlens"}, mode="json")
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at a pydantic error location (deepest node that exists)."""
    node, line = root, None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == str(key)]
            if not match:
                break
            k, node = match[0]
            line = k.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def parse_scenario(text: str, source: str = "<scenario>", overrides: dict[str, Any] | None = None) -> Scenario:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: top level must be a mapping, got {type(data).__name__}")
    data = {**data, **(overrides or {})}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(top level)"
            line = _line_of(root, err["loc"])
            where = f"{source} line {line}" if line else source
            problems.append(f"{where}: {field}: {err['msg']}")
        raise ScenarioError("; ".join(problems)) from exc


def builtin_scenarios() -> list[str]:
    """Names of the example scenarios shipped in the package (`loadtest/scenarios/NAME.yaml`)."""
    return sorted(p.name.removesuffix(".yaml") for p in resource(__package__, "scenarios").iterdir()
                  if p.name.endswith(".yaml"))


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """A scenario file, or the name of a shipped example (`limit10`, `cache-on`, ...) when no such file exists."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if str(path) not in builtin_scenarios():
            raise ScenarioError(f"scenario file not found: {path} (built-in scenarios: "
                                f"{', '.join(builtin_scenarios())})") from exc
        text = read_text(__package__, "scenarios", f"{path}.yaml")
    return parse_scenario(text, str(path), overrides)


def default_scenario(**overrides: Any) -> Scenario:
    """The built-in scenario used when no file is given."""
    return Scenario.model_validate({"name": "default", **overrides})
