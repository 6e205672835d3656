"""Reg-DPO Workbench: GT-Pair data, Reg-DPO training, judges, a store and a voting app."""

__version__ = "0.1.0"
