"""The demo seed: a tenant with two iris classifiers, a service routing to them, and a token.

Idempotent so ``make run``-style scripts can call it on every start: existing rows are reused,
the routing is only republished when it differs, and a still-valid token file is kept.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File

from controlplane.registry.models import Model, ModelVersion
from controlplane.registry.services import model_create, version_create
from controlplane.routing.models import Service
from controlplane.routing.selectors import deployments_list
from controlplane.routing.services import (
    config_publish,
    deployments_replace,
    service_create,
    service_topics_ensure,
)
from controlplane.tenancy.models import Tenant
from controlplane.tenancy.selectors import token_authenticate
from controlplane.tenancy.services import tenant_create, token_create

TENANT = "demo"
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

Say = Callable[[str], None]


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


def _version_ensure(model: Model, number: int, say: Say) -> ModelVersion:
    existing = model.versions.filter(number=number).first()
    if existing is not None:
        say(f"version {number}: exists ({existing.status})")
        return existing
    import skops.io

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"iris-v{number}.skops"
        skops.io.dump(_train(number), path)
        with path.open("rb") as handle:
            version = version_create(
                model=model,
                artifact_file=File(handle, name=path.name),
                format=ModelVersion.Format.SKOPS,
                metadata={"features": FEATURES, "example": EXAMPLE},
            )
    say(f"version {version.number}: trained and registered ({version.status}: {version.report})")
    return version


def _token_ensure(tenant: Tenant, token_path: Path, say: Say) -> str:
    if token_path.exists():
        secret = token_path.read_text().strip()
        token = token_authenticate(secret=secret)
        if token is not None and token.tenant_id == tenant.pk:
            say(f"token: reusing {token_path}")
            return secret
    _, secret = token_create(tenant=tenant, name="demo", scopes=["predict", "read", "deploy"])
    token_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    say(f"token: created, secret written to {token_path}")
    return secret


def demo_seed(*, token_path: Path, say: Say = lambda _: None) -> dict[str, Any]:
    tenant = Tenant.objects.filter(slug=TENANT).first() or tenant_create(slug=TENANT, name="Demo")
    say(f"tenant {tenant.slug}: ready")
    model = Model.objects.filter(tenant=tenant, slug=MODEL).first() or model_create(
        tenant=tenant, slug=MODEL, name="Iris classifier"
    )
    versions = [_version_ensure(model, number, say) for number in (1, 2)]
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
    _token_ensure(tenant, token_path, say)
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
    }
