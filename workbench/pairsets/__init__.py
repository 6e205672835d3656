"""Pair sets, the preference data DPO trains on, built three ways: GT-Pairs (the real video
wins over a generator's rollout: `gtpair`), annotated pairs from people's votes on rollout
battles (`voted`) and from a simulated annotator when too few people voted (`simulated`).
A service both faces call (docs/design.md, floor 4); training only reads the stored pairs."""
