"""prunelab: a reproducible replication pipeline for neural-network pruning research."""

__version__ = "0.1.0"
