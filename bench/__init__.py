"""Benchmarks: figures are ratios against a raw Kafka pipeline measured in the same run."""
