"""Operators see rollouts in the console, read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from controlplane.rollouts.services import rollout_start
from tests.controlplane.rollouts.builders import staged_service


@pytest.mark.django_db
def test_rollout_pages_render_read_only() -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))
    rollout = rollout_start(service=staged_service(), model="iris", version=2, step_seconds=30, actor="ci")

    listing = client.get("/admin/rollouts/rollout/")
    assert listing.status_code == 200 and b"running" in listing.content
    assert client.get(f"/admin/rollouts/rollout/{rollout.pk}/change/").status_code == 200
    assert client.get("/admin/rollouts/rollout/add/").status_code == 403
