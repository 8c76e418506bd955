"""Workloads that fill the warehouse: a labelled synthetic demo and a real offline Mem0."""
