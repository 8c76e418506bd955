"""Optimization analyses: what-if cache simulator, projected savings, dedup, pruning, archival, advice."""
