"""memlens: observability and cost analytics for Mem0."""

__version__ = "0.1.0"
