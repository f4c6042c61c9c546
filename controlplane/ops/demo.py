"""The demo seed: a tenant with two iris classifiers, a service routing to them, and a token.

Idempotent so ``make run``-style scripts can call it on every start: existing rows are reused,
the routing is only republished when it differs, and a still-valid token file is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from controlplane.ops.seeding import Say, tenant_model_ensure, token_ensure, version_ensure
from controlplane.routing.models import Service
from controlplane.routing.selectors import deployments_list
from controlplane.routing.services import (
    config_publish,
    deployments_replace,
    service_create,
    service_topics_ensure,
)
from controlplane.tenancy.models import Membership, Tenant

TENANT = "demo"
# The console's demo login (*extension (console)*): a member (owner) of the demo tenant, not staff, so it
# sees what a tenant's engineer sees. Its password is set when the user is created, never reset.
CONSOLE_USER = "demo"
CONSOLE_PASSWORD = "demo"
MODEL = "iris"
SERVICE = "iris"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
EXAMPLE = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: {"type": "number"} for name in FEATURES},
    "required": FEATURES,
    "additionalProperties": False,
}
ROUTING: list[dict[str, Any]] = [
    {
        "model": MODEL,
        "version": 1,
        "role": "champion",
        "weight": 100,
        "rank": 0,
        "pool": "default",
        "last_resort": False,
    },
    {
        "model": MODEL,
        "version": 2,
        "role": "challenger",
        "weight": 100,
        "rank": 0,
        "pool": "default",
        "last_resort": False,
    },
]


def _train(number: int) -> Any:
    # Imported here: scikit-learn is only needed when the demo actually has to train something.
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    estimator = (
        LogisticRegression(max_iter=500) if number == 1 else RandomForestClassifier(n_estimators=20, random_state=0)
    )
    return estimator.fit(features, labels)


def console_user_ensure(*, tenant: Tenant, say: Say) -> None:
    user, created = get_user_model().objects.get_or_create(username=CONSOLE_USER)
    if created:
        user.set_password(CONSOLE_PASSWORD)
        user.save(update_fields=["password"])
        say(f"console user {CONSOLE_USER}: created (password {CONSOLE_PASSWORD!r})")
    Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": Membership.Role.OWNER})


def demo_seed(*, token_path: Path, say: Say = lambda _: None) -> dict[str, Any]:
    model = tenant_model_ensure(tenant=TENANT, tenant_name="Demo", model=MODEL, model_name="Iris classifier", say=say)
    tenant = model.tenant
    versions = [
        version_ensure(
            model=model,
            number=number,
            train=lambda n=number: _train(n),
            metadata={"features": FEATURES, "example": EXAMPLE},
            say=say,
        )
        for number in (1, 2)
    ]
    service = Service.objects.filter(tenant=tenant, slug=SERVICE).first()
    if service is None:
        service = service_create(
            tenant=tenant,
            slug=SERVICE,
            name="Iris",
            input_schema=INPUT_SCHEMA,
            deadline_ms=500,
            actor="rdv_demo",
        )
        say(f"service {service.slug}: created with its topics")
    else:
        service_topics_ensure(service=service)
        say(f"service {service.slug}: exists, topics ensured")
    if deployments_list(service=service) != ROUTING:
        revision = deployments_replace(service=service, deployments=ROUTING, actor="rdv_demo").number
        say(f"routing: published revision {revision}")
    else:
        # Publish again all the same: the broker may be new, or the public URL in the snapshot changed.
        revision = config_publish(service=service, actor="rdv_demo").number
        say(f"routing: unchanged, republished as revision {revision}")
    token_ensure(tenant=tenant, token_path=token_path, name="demo", say=say)
    console_user_ensure(tenant=tenant, say=say)
    return {
        "tenant": tenant.slug,
        "service": service.slug,
        "model": model.slug,
        "versions": [
            {"version": v.number, "status": v.status, "format": v.format, "sha256": v.sha256} for v in versions
        ],
        "revision": revision,
        "token_file": str(token_path),
        "predict_url": f"{settings.RDV_PUBLIC_URL}/api/v1/tenants/{TENANT}/services/{SERVICE}/predict",
        "example": {"inputs": EXAMPLE},
        "console": {"url": f"{settings.RDV_PUBLIC_URL}/", "username": CONSOLE_USER, "password": CONSOLE_PASSWORD},
    }
