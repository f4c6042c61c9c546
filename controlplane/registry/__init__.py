"""The model registry: models, their immutable versions (artifacts) and the validation that gates them."""
