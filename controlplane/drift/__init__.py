"""Drift of a service's inputs: the canary runners' merged reports, scored against one reference (DESIGN.md §7)."""
