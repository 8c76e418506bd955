"""Mem0 instrumentation: wraps Memory/AsyncMemory/MemoryClient/AsyncMemoryClient, writes schema-v1 op logs
and Prometheus metrics, and optionally serves user-scoped searches from a cache."""

from instrumentation.cache import RedisSearchCache, SearchCache
from instrumentation.metrics import MemlensMetrics, start_metrics_server
from instrumentation.wrap import instrument
from instrumentation.writer import OpLogWriter

__all__ = ["MemlensMetrics", "OpLogWriter", "RedisSearchCache", "SearchCache", "instrument", "start_metrics_server"]
