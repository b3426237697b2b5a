"""Leaf helpers that import nothing else of sktransfer: version compatibility, atomic
writes, hashing, JSON values, peak memory."""
