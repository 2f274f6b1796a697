"""Benchmarks of the merge-and-forward hot path (``python -m bench``), not part of the tests."""
