"""Load tests, benchmarks and A/B comparisons of Mem0 configs (`memlens loadtest|benchmark|compare`)."""
