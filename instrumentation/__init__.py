"""Mem0 instrumentation: wraps Memory/AsyncMemory/MemoryClient/AsyncMemoryClient, writes schema-v1 op logs and Prometheus metrics."""
