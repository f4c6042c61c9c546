"""The Rendezvous control plane: tenants, the model registry, routing, and the REST API."""
