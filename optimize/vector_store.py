"""Vector store advice (reference 5.1-5.3) driven by measured scale, growth, latency and traffic, plus config code.

Decision matrix of the reference: Chroma to start, Qdrant for production / high scale, pgvector when a
Postgres already runs, Milvus for billions of vectors. Here "start" means few vectors even after the growth
horizon *and* search p95 within target; the scale bounds are config keys.

mem0 2.2.1 note (checked): its QdrantConfig forbids unknown keys, so the reference's `hnsw_config`,
`quantization_config`, `prefer_grpc` and `connection_pool_size` inside the mem0 config raise a validation
error. The generated code passes a tuned `QdrantClient` (gRPC) through mem0's `client` field and sets HNSW
and int8 quantisation on the collection with qdrant-client instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from memlens import figures
from memlens.config import Config
from memlens.resources import read_sql

_MEASURE_SQL = read_sql(__package__, "vector_store_measure.sql")


@dataclass(frozen=True)
class Measured:
    vectors_now: int
    growth_per_month: float  # the layer's memories growth per month (or its estimate), 0 when unknown
    search_p95_ms: float | None
    peak_ops_per_s: float
    growth_source: str = "measured"  # measured | estimate (7-day rate x 30 / 7) | unknown (no Mem0 history)


@dataclass(frozen=True)
class StoreAdvice:
    store: str  # qdrant | chroma | pgvector | milvus
    reasons: list[str]
    measured: Measured
    projected_vectors: int
    pool_size: int
    mem0_config: dict
    code: str


def measure(con: duckdb.DuckDBPyConnection) -> Measured:
    """Vectors now: the latest snapshot's count, else the memories Mem0's history holds, else net adds in the log.
    Growth, search P95 and peak throughput are the metric layer's figures over the whole warehouse (the same the
    Growth, Overview and Latency pages show): memories growth per month, or its 7-day estimate with less than 30
    days of history; 0 (said in the reasons) without a history."""
    net_all, held = con.execute(_MEASURE_SQL).fetchone()
    f = figures.values(con, ("memories", "memories_growth_month", "memories_growth_month_estimate",
                             "search_p95_ms", "peak_ops_per_s"))
    now = int(held or 0) or int(f["memories"] or 0) or max(int(net_all or 0), 0)
    if f["memories_growth_month"] is not None:
        growth, source = f["memories_growth_month"], "measured"
    elif f["memories_growth_month_estimate"] is not None:
        growth, source = f["memories_growth_month_estimate"], "estimate"
    else:
        growth, source = 0.0, "unknown"
    return Measured(now, float(growth), f["search_p95_ms"], float(f["peak_ops_per_s"] or 0.0), source)


def choose_store(m: Measured, cfg: Config, has_postgres: bool = False) -> tuple[str, list[str], int]:
    v = cfg.optimize.vector_store
    projected = round(m.vectors_now * (1 + max(m.growth_per_month, 0.0)) ** v.horizon_months)
    rate = {"measured": f"{m.growth_per_month:+.1%}/month",
            "estimate": f"{m.growth_per_month:+.1%}/month (estimate: 7-day growth x 30 / 7)",
            "unknown": "growth unknown (no Mem0 history: `memlens collect history`)"}[m.growth_source]
    why = [f"{m.vectors_now:,} vectors now, {rate} -> {projected:,} in "
           f"{v.horizon_months:g} months (reference: plan for 6 months of growth)"]
    slow = m.search_p95_ms is not None and m.search_p95_ms > cfg.targets.latency_p95_ms
    if m.search_p95_ms is not None:
        why.append(f"search p95 {m.search_p95_ms:.0f} ms vs target {cfg.targets.latency_p95_ms:.0f} ms")
    if projected >= v.enterprise_min_vectors:
        why.append(f">= {v.enterprise_min_vectors:,} vectors: Milvus (enterprise, billions of vectors)")
        return "milvus", why, projected
    if has_postgres and projected <= v.pgvector_max_vectors:
        why.append(f"Postgres already runs and <= {v.pgvector_max_vectors:,} vectors: pgvector (no new infra)")
        return "pgvector", why, projected
    if projected <= v.prototype_max_vectors and not slow:
        why.append(f"<= {v.prototype_max_vectors:,} vectors and latency within target: Chroma (easy setup)")
        return "chroma", why, projected
    why.append("production scale or latency above target: Qdrant (best performance)")
    return "qdrant", why, projected


def pool_size(peak_ops_per_s: float, cfg: Config) -> int:
    v = cfg.optimize.vector_store
    lo, hi = v.traffic_ops_per_s
    return v.pool_sizes[0] if peak_ops_per_s < lo else v.pool_sizes[1] if peak_ops_per_s < hi else v.pool_sizes[2]


def store_config(store: str, cfg: Config, dims: int, pool: int) -> tuple[dict, str]:
    """(mem0 vector_store config accepted by mem0 2.2.1, Python code applying the tuning)."""
    v = cfg.optimize.vector_store
    if store == "qdrant":
        conf = {"provider": "qdrant", "config": {"host": "localhost", "port": 6333, "collection_name": "mem0",
                                                 "embedding_model_dims": dims, "on_disk": True}}
        code = f'''from mem0 import Memory
from qdrant_client import QdrantClient, models

# gRPC and a bounded connection pool (reference 5.3), passed to mem0 as an existing client.
client = QdrantClient(host="localhost", port=6333, grpc_port=6334, prefer_grpc=True, timeout=5,
                      pool_size={pool})
config = {{"vector_store": {{"provider": "qdrant", "config": {{
    "client": client, "host": "localhost", "port": 6333,  # mem0 2.2.1 wants host/port next to a client
    "collection_name": "mem0", "embedding_model_dims": {dims}, "on_disk": True}}}}}}
memory = Memory.from_config(config)

# HNSW and int8 scalar quantisation (reference 5.2: ~4x less vector memory) on the collection itself.
client.update_collection(
    collection_name="mem0",
    hnsw_config=models.HnswConfigDiff(m={v.hnsw_m}, ef_construct={v.hnsw_ef_construct}, on_disk=True),
    quantization_config=models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
        type=models.ScalarType.INT8, quantile={v.quantile}, always_ram=True)),
)
'''
    elif store == "pgvector":
        conf = {"provider": "pgvector", "config": {"collection_name": "mem0", "embedding_model_dims": dims,
                                                   "hnsw": True, "minconn": max(1, pool // 4), "maxconn": pool}}
        code = ("from mem0 import Memory\n\n# Credentials from the environment, never in code: "
                "connection_string=os.environ[...]\nconfig = {\"vector_store\": "
                + json.dumps(conf) + "}\nmemory = Memory.from_config(config)\n")
    elif store == "milvus":
        conf = {"provider": "milvus", "config": {"url": "http://localhost:19530", "collection_name": "mem0",
                                                 "embedding_model_dims": dims, "metric_type": "COSINE"}}
        code = "from mem0 import Memory\n\nmemory = Memory.from_config({\"vector_store\": " + json.dumps(conf) + "})\n"
    elif store == "chroma":
        conf = {"provider": "chroma", "config": {"collection_name": "mem0", "path": "./chroma"}}
        code = "from mem0 import Memory\n\nmemory = Memory.from_config({\"vector_store\": " + json.dumps(conf) + "})\n"
    else:
        raise ValueError(f"unknown vector store {store!r}")
    return conf, code


def advise_store(con: duckdb.DuckDBPyConnection, cfg: Config, dims: int, has_postgres: bool = False) -> StoreAdvice:
    m = measure(con)
    store, why, projected = choose_store(m, cfg, has_postgres)
    pool = pool_size(m.peak_ops_per_s, cfg)
    why.append(f"peak {m.peak_ops_per_s:.1f} ops/s -> connection pool {pool}")
    conf, code = store_config(store, cfg, dims, pool)
    return StoreAdvice(store, why, m, projected, pool, conf, code)


def cache_config_code(kind: str, ttl_s: float, max_entries: int) -> str:
    """Code wiring memlens's cache in front of Mem0 with the TTL/size the what-if simulator chose."""
    ttl = round(ttl_s)
    if kind == "lru":
        return f'''from instrumentation import instrument
from memlens.instrumentation.cache import SearchCache

# In-process TTL + LRU cache; a user's entries are dropped on that user's add/update/delete/delete_all.
memory = instrument(memory, cache=SearchCache(ttl_s={ttl}, max_entries={max_entries}))
'''
    if kind == "redis":
        return f'''import os

import redis

from memlens.instrumentation import instrument
from memlens.instrumentation.cache import RedisSearchCache

# Shared cache (keys mem0:search:{{user_id}}:{{md5}}, SETEX {ttl} s); the URL comes from the environment.
client = redis.Redis.from_url(os.environ["REDIS_URL"])
memory = instrument(memory, cache=RedisSearchCache(client, ttl_s={ttl}))
'''
    raise ValueError(f"cache kind must be 'lru' or 'redis', got {kind!r}")
