"""Mem0 instrumentation: wraps Memory/AsyncMemory/MemoryClient/AsyncMemoryClient, writes op logs (memlens/schema.py)
and Prometheus metrics, and optionally serves user-scoped searches from a cache."""

from memlens.instrumentation.cache import RedisSearchCache, SearchCache
from memlens.instrumentation.metrics import MemlensMetrics, start_metrics_server
from memlens.instrumentation.wrap import instrument
from memlens.instrumentation.writer import OpLogWriter

__all__ = ["MemlensMetrics", "OpLogWriter", "RedisSearchCache", "SearchCache", "instrument", "start_metrics_server"]
