"""WSGI entry point, for servers that do not speak ASGI (the predict view needs ASGI to scale)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.local")

application = get_wsgi_application()
