"""Preference training: GT-Pairs, losses, the trainer and parallelism."""
