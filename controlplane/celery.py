"""The control plane's Celery app: background work (validation, rollout analysis, roll-ups).

Workers start with ``celery -A controlplane worker -Q celery`` (the default queue: rollout analysis, the
automatic fallback, sweeps) and ``celery -A controlplane worker -Q validation`` (uploads' validation, on its
own queue so it never delays the rest), the scheduler with ``celery -A controlplane beat``; all read Django
settings under the ``CELERY_`` namespace. Tasks live in each app's
``tasks.py`` (autodiscovered), take ids, load and call a service: the rules stay in services.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.local")

app = Celery("controlplane")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
