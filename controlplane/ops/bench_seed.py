"""The benchmark seed: tenant ``bench`` with the two services the Kafka-direct benchmarks drive.

- ``three``: three models score every request (champion, fallback rank 1, challenger), deadline
  200 ms; measures the highest sustained throughput with the full fan-out (bench/throughput.py).
- ``late``: the champion sits in a pool no runner serves, so it never scores; a fallback in the
  default pool answers. Deadline 100 ms; measures deadline adherence (bench/deadline.py). ``late-2``
  and ``late-3`` are the same, for the second and third runs (see LATE_RUNS).
- ``mute``: every deployment in that unserved pool, deadline 100 ms: each answer is a timeout
  decided by the deadline timer alone, however long the benchmark runs.

Idempotent like the demo seed: rows are reused, the routing is republished (the broker of a
benchmark run is usually new), and a token file that still authenticates is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controlplane.ops.demo import EXAMPLE, FEATURES, INPUT_SCHEMA
from controlplane.ops.seeding import Say, tenant_model_ensure, token_ensure, version_ensure
from controlplane.routing.models import Service
from controlplane.routing.selectors import deployments_list
from controlplane.routing.services import (
    config_publish,
    deployments_replace,
    service_create,
    service_topics_ensure,
)
from controlplane.tenancy.models import Tenant

TENANT = "bench"
MODEL = "iris"
UNSERVED_POOL = "nowhere"


# Version number → how it is trained. Kept small: the benchmark is about the platform, not the models.
VERSIONS: dict[int, dict[str, Any]] = {
    1: {"kind": "logistic", "C": 1.0},
    2: {"kind": "logistic", "C": 0.1},
    3: {"kind": "forest", "n_estimators": 20},
}

# ``late`` loses its deadline path after one run: the rendezvous demotes the champion that never answers
# (after 20 misses, DemotionRules) and from then on the fallback answers at once. So each run of
# ``bench.deadline`` gets a service whose champion is not demoted yet: ``late``, then ``late-2``, ...
LATE_RUNS = 3


def _late(number: int) -> dict[str, Any]:
    return {
        "name": "Champion always late" + (f" (run {number})" if number > 1 else ""),
        "deadline_ms": 100,
        # One partition each: three of these are read by the runner and the rendezvous during every
        # benchmark, and a fetch costs the broker per partition it names.
        "partitions": 1,
        "routing": [
            {"model": MODEL, "version": 1, "role": "champion", "weight": 100, "rank": 0, "pool": UNSERVED_POOL},
            {"model": MODEL, "version": 2, "role": "fallback", "weight": 0, "rank": 1, "pool": "default"},
        ],
    }


SERVICES: dict[str, dict[str, Any]] = {
    "three": {
        "name": "Three models per request",
        "deadline_ms": 200,
        "routing": [
            {"model": MODEL, "version": 1, "role": "champion", "weight": 100, "rank": 0, "pool": "default"},
            {"model": MODEL, "version": 2, "role": "fallback", "weight": 0, "rank": 1, "pool": "default"},
            {"model": MODEL, "version": 3, "role": "challenger", "weight": 0, "rank": 0, "pool": "default"},
        ],
    },
    **{("late" if n == 1 else f"late-{n}"): _late(n) for n in range(1, LATE_RUNS + 1)},
    # Nothing ever scores: every answer is a timeout decided by the deadline timer alone.
    "mute": {
        "name": "Nobody answers",
        "deadline_ms": 100,
        "routing": [
            {"model": MODEL, "version": 1, "role": "champion", "weight": 100, "rank": 0, "pool": UNSERVED_POOL},
            {"model": MODEL, "version": 2, "role": "fallback", "weight": 0, "rank": 1, "pool": UNSERVED_POOL},
        ],
    },
}


def _train(number: int) -> Any:
    # Imported here: scikit-learn is only needed when a version actually has to be trained.
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    recipe = VERSIONS[number]
    features, labels = load_iris(return_X_y=True)
    if recipe["kind"] == "logistic":
        estimator: Any = LogisticRegression(C=recipe["C"], max_iter=500)
    else:
        estimator = RandomForestClassifier(n_estimators=recipe["n_estimators"], random_state=0)
    return estimator.fit(features, labels)


def _normalised(routing: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (d["model"], d["version"], d["role"], d["weight"], d["rank"], d["pool"], d.get("last_resort", False))
        for d in routing
    )


def _service_ensure(tenant: Tenant, slug: str, spec: dict[str, Any], say: Say) -> int:
    service = Service.objects.filter(tenant=tenant, slug=slug).first()
    if service is None:
        service = service_create(
            tenant=tenant,
            slug=slug,
            name=spec["name"],
            input_schema=INPUT_SCHEMA,
            deadline_ms=spec["deadline_ms"],
            partitions=spec.get("partitions", 4),
            actor="rdv_bench_seed",
        )
        say(f"service {slug}: created with its topics")
    else:
        if service.deadline_ms != spec["deadline_ms"]:
            service.deadline_ms = spec["deadline_ms"]
            service.save(update_fields=["deadline_ms"])
        service_topics_ensure(service=service)
        say(f"service {slug}: exists, topics ensured")
    if _normalised(deployments_list(service=service)) != _normalised(spec["routing"]):
        revision = deployments_replace(service=service, deployments=spec["routing"], actor="rdv_bench_seed")
    else:
        # The broker of a benchmark run is usually new: publish the snapshot again all the same.
        revision = config_publish(service=service, actor="rdv_bench_seed")
    say(f"service {slug}: routing published as revision {revision.number}")
    return revision.number


def bench_seed(*, token_path: Path, say: Say = lambda _: None) -> dict[str, Any]:
    model = tenant_model_ensure(
        tenant=TENANT, tenant_name="Benchmarks", model=MODEL, model_name="Iris classifiers for benchmarks", say=say
    )
    tenant = model.tenant
    versions = [
        version_ensure(
            model=model,
            number=number,
            train=lambda n=number: _train(n),
            metadata={"features": FEATURES, "example": EXAMPLE, "recipe": VERSIONS[number]},
            say=say,
        )
        for number in sorted(VERSIONS)
    ]
    revisions = {slug: _service_ensure(tenant, slug, spec, say) for slug, spec in SERVICES.items()}
    token_ensure(tenant=tenant, token_path=token_path, name="bench", say=say)
    return {
        "tenant": tenant.slug,
        "services": {
            slug: {"deadline_ms": spec["deadline_ms"], "revision": revisions[slug]} for slug, spec in SERVICES.items()
        },
        "versions": [{"version": v.number, "status": v.status} for v in versions],
        "token_file": str(token_path),
        "example": {"inputs": EXAMPLE},
    }
