"""The Rendezvous control plane: tenants, the model registry, routing, and the REST API."""

from controlplane.celery import app as celery_app

__all__ = ["celery_app"]
