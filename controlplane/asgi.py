"""ASGI entry point (``uvicorn controlplane.asgi:application``): the predict fast path, then Django."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.local")

django_application = get_asgi_application()

from controlplane.gateway.asgi import with_predict_fast_path  # noqa: E402  (needs Django set up)

application = with_predict_fast_path(django_application)
