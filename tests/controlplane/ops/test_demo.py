"""``manage.py rdv_demo`` seeds a working demo and can be run again without changing anything."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from controlplane.routing.models import ConfigRevision, Deployment
from controlplane.tenancy.models import Membership
from controlplane.tenancy.selectors import token_authenticate


def _run(token_file: Path) -> dict:
    out = StringIO()
    call_command("rdv_demo", token_file=token_file, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_demo_seed_is_idempotent(kafka, tmp_path: Path) -> None:  # noqa: ANN001
    token_file = tmp_path / "demo-token"

    first = _run(token_file)
    secret = token_file.read_text().strip()
    second = _run(token_file)

    assert [v["status"] for v in first["versions"]] == ["ready", "ready"]
    # 1: service created, 2: routing; a second run publishes the same routing again (the broker may
    # be new, or the public URL in the artifact links changed).
    assert (first["revision"], second["revision"]) == (2, 3)
    assert ConfigRevision.objects.count() == 3
    assert ConfigRevision.objects.get(number=3).snapshot["deployments"] == \
        ConfigRevision.objects.get(number=2).snapshot["deployments"]
    assert token_file.read_text().strip() == secret
    token = token_authenticate(secret=secret)
    assert (
        token is not None
        and token.tenant.slug == "demo"
        and set(token.scopes) == {"predict", "read", "deploy"}
    )
    roles = {(d.version.number, d.role) for d in Deployment.objects.select_related("version")}
    assert roles == {(1, "champion"), (2, "challenger")}
    # The console's demo login: a member (not staff) of the demo tenant, password demo (*extension (console)*).
    user = get_user_model().objects.get(username="demo")
    assert user.check_password("demo") and not user.is_staff
    assert list(Membership.objects.filter(user=user).values_list("tenant__slug", "role")) == [("demo", "owner")]
    assert first["console"]["username"] == "demo"
