"""Benchmarks behind `workbench bench`: one process, baselines side by side, JSON out."""
