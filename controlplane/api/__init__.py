"""The REST API (v1): URL wiring, error format and shared API helpers; views live in each app's apis.py."""
