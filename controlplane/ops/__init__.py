"""Operator commands that span apps: ensuring platform topics, seeding the demo."""
