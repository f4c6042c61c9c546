"""rdvctl: a small command-line client of the Rendezvous HTTP API (v1) for CI pipelines."""

__version__ = "0.1.0"
