"""ASGI entry point: the gateway's async predict view needs it (``uvicorn controlplane.asgi:application``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.local")

application = get_asgi_application()
