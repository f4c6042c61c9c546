"""One model runner hosting 500 model versions across 50 services (issue 4, acceptance 1).

Everything goes through the control plane's own services, in this process, on its database:
versions are trained here from scikit-learn's bundled datasets, saved with skops and registered with
``version_create`` (hashed, stored, validated); routing is set with ``deployments_replace``, which
publishes each service's snapshot to ``rdv.config`` as the API does; the runner downloads every
artifact over HTTP from the control plane (uvicorn serving ``controlplane.asgi`` in a thread here).

Measured:
- per version, from the runner's log: cold-load time (download + sha256 check + skops load) and
  resident size (``model_runner.footprint``: the loaded object graph);
- the runner's RSS (``/proc/<pid>/status``): idle with no models, with the 100 versions it preloads
  (champion and fallback of each service), and with all 500 loaded; the marginal RSS per model is
  (all − preloaded) / 400;
- one request per service, read straight from each service's scores topic: every version must
  answer ``ok`` (500 scores), first cold (the 400 challengers load lazily on that request), then warm;
- a version newly added through the control plane: train, register, then time from the
  ``deployments_replace`` call (publish included) to its first ``ok`` score, while a request is sent
  to the service every 50 ms. Alternately staged as a challenger (loaded on its first request) and
  promoted to champion (preloaded when the config arrives).

Run by ``make bench-runner`` (scripts/bench_runner.sh), which provides a fresh broker and database:

    python -m bench.runner_capacity [--services 50] [--versions 10] [--new-versions 6]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
TENANT = "capacity"
LOADED = re.compile(r"loaded (\S+)/(\S+) v(\d+) \((\w+)\) in ([\d.]+) ms \(fetch ([\d.]+) ms\), (\d+) bytes resident")


@dataclass
class Dataset:
    name: str
    features: list[str]
    X: Any
    y: Any


@dataclass
class Hosted:
    service: str
    model: str
    dataset: Dataset
    versions: list[int] = field(default_factory=list)


def _datasets() -> list[Dataset]:
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    out = []
    for loader in (load_iris, load_wine, load_breast_cancer):
        bunch = loader()
        names = [re.sub(r"[^a-z0-9]+", "_", str(n).lower()).strip("_") for n in bunch.feature_names]
        out.append(Dataset(loader.__name__.removeprefix("load_"), names, bunch.data, bunch.target))
    return out


def _train(dataset: Dataset, number: int, seed: int) -> Any:
    """Every third version a 10-tree forest, the others a scaled logistic regression; each on its own
    bootstrap sample so every artifact (and sha256) differs."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(dataset.y), size=len(dataset.y), replace=True)
    X, y = dataset.X[rows], dataset.y[rows]
    if number % 3 == 0:
        return RandomForestClassifier(n_estimators=10, max_depth=6, random_state=seed).fit(X, y)
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1 * number, max_iter=1000)).fit(X, y)


def _register(model: Any, dataset: Dataset, number: int, seed: int, workdir: Path) -> int:
    import skops.io
    from django.core.files import File

    from controlplane.registry.services import version_create

    path = workdir / f"{model.slug}-{seed}.skops"
    skops.io.dump(_train(dataset, number, seed), path)
    example = dict(zip(dataset.features, map(float, dataset.X[0]), strict=True))
    with path.open("rb") as handle:
        version = version_create(
            model=model,
            artifact_file=File(handle, name=path.name),
            format="skops",
            metadata={"features": dataset.features, "example": example},
            actor="bench",
        )
    path.unlink()
    _validate_in_process(version, dataset, example)
    if version.status != "ready":
        raise RuntimeError(f"{model.slug} v{version.number} is {version.status}: {version.report}")
    return version.number


def _validate_in_process(version: Any, dataset: Dataset, example: dict[str, float]) -> None:
    """The smoke test the Celery task runs, here in this process: the bench's own artifacts need no
    sandbox, and a child process per version (seconds of imports each) would take the 500 half an hour.
    """
    from django.utils import timezone

    from contracts.smoke import SmokeRequest
    from model_runner.smoke import smoke_test

    outcome = smoke_test(
        SmokeRequest(
            artifact=version.artifact.path, format=version.format, model=version.model.slug, version=version.number,
            sha256=version.sha256, features=list(dataset.features), example=example, memory_mb=0, cpu_s=0,
        )
    )
    version.status = "ready" if outcome.ok else "failed"
    version.report = (
        f"smoke test passed in the benchmark's seed ({outcome.model_type}, load {outcome.load_ms} ms)"
        if outcome.ok
        else f"{outcome.stage}: {outcome.message}"
    )
    version.validated_at = timezone.now()
    version.save(update_fields=["status", "report", "validated_at"])


def _routing(model: str, versions: list[int]) -> list[dict[str, Any]]:
    table = [
        {"model": model, "version": versions[0], "role": "champion", "weight": 100, "rank": 0},
        {"model": model, "version": versions[1], "role": "fallback", "weight": 0, "rank": 1},
    ]
    return table + [{"model": model, "version": v, "role": "challenger", "weight": 0, "rank": 0} for v in versions[2:]]


def seed(services: int, versions: int, partitions: int) -> list[Hosted]:
    from controlplane.registry.services import model_create
    from controlplane.routing.services import deployments_replace, service_create
    from controlplane.tenancy.services import tenant_create

    tenant = tenant_create(slug=TENANT, name="Runner capacity benchmark")
    datasets = _datasets()
    hosted = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(services):
            dataset = datasets[index % len(datasets)]
            slug = f"s{index:02d}"
            model = model_create(tenant=tenant, slug=f"m{index:02d}", name=f"{dataset.name} model {index}")
            entry = Hosted(slug, model.slug, dataset)
            for number in range(1, versions + 1):
                entry.versions.append(_register(model, dataset, number, index * 1000 + number, Path(tmp)))
            schema = {
                "type": "object",
                "properties": {name: {"type": "number"} for name in dataset.features},
                "required": dataset.features,
            }
            service = service_create(
                tenant=tenant, slug=slug, name=f"{dataset.name} {index}", input_schema=schema, deadline_ms=1000,
                partitions=partitions, actor="bench",
            )
            deployments_replace(service=service, deployments=_routing(model.slug, entry.versions), actor="bench")
            hosted.append(entry)
            _say(f"seeded {slug}: {versions} versions of {model.slug} ({dataset.name})", every=10, index=index)
    _say(f"seeded {services} services, {services * versions} versions in {time.monotonic() - started:.0f} s")
    return hosted


def _say(text: str, every: int = 1, index: int = 0) -> None:
    if index % every == 0:
        print(f"[bench] {text}", file=sys.stderr, flush=True)


class Gateway:
    """The control plane's ASGI app in a thread: the runner downloads artifacts from it."""

    def __init__(self, port: int) -> None:
        import uvicorn

        from controlplane.asgi import application

        config = uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the control plane did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Runner:
    def __init__(self, pool: str, log_path: Path, cache: Path) -> None:
        from django.conf import settings

        from contracts.kafka.acls import role_env
        from contracts.pool_tokens import pool_token

        env = {
            **os.environ,
            **role_env("runner", os.environ),  # the runner's own Kafka principal
            "PYTHONUNBUFFERED": "1",
            "RDV_LOG_LEVEL": "INFO",
            "RDV_RUNNER_POOL": pool,
            # Each runner holds its own pool's token (DESIGN.md §6, *Artifact access*).
            "RDV_RUNNER_TOKEN": pool_token(secret=settings.RDV_RUNNER_SECRET, pool=pool),
            "RDV_RUNNER_ID": f"capacity-{pool}",
            "RDV_ARTIFACT_CACHE": str(cache),
        }
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "model_runner"], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def text(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, predicate: Any, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.text()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"runner: {what} did not happen:\n{self.text()[-3000:]}")
            time.sleep(0.1)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def loads(self) -> list[tuple[str, int, float, float, int]]:
        """(model, version, load ms, of which fetch ms, resident bytes) per load line of this tenant."""
        return [
            (m.group(2), int(m.group(3)), float(m.group(5)), float(m.group(6)), int(m.group(7)))
            for m in LOADED.finditer(self.text())
            if m.group(1) == TENANT
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


class Traffic:
    """Requests produced straight to the services' requests topics; scores read from their scores topics."""

    def __init__(self, hosted: list[Hosted], partitions: int) -> None:
        from contracts.kafka import END, KafkaSettings, TopicPartition, make_consumer, make_producer
        from contracts.topics import service_topics

        settings = KafkaSettings.from_env()
        self.producer = make_producer(settings)
        self.consumer = make_consumer(settings, group_id=None, auto_offset_reset="latest")
        self.consumer.assign(
            [
                TopicPartition(service_topics(TENANT, h.service).scores, p, END)
                for h in hosted
                for p in range(partitions)
            ]
        )
        self.scores: list[tuple[float, Any]] = []
        self._count = 0

    def send(self, hosted: Hosted, tag: str) -> tuple[str, float]:
        from contracts.codec import encode
        from contracts.messages import Request
        from contracts.topics import service_topics

        self._count += 1
        request_id = f"{tag}-{hosted.service}-{self._count}"
        sent_at = time.time()
        inputs = dict(zip(hosted.dataset.features, map(float, hosted.dataset.X[self._count % 100]), strict=True))
        request = Request(
            request_id=request_id, tenant=TENANT, service=hosted.service, sent_at=sent_at, deadline_ms=120_000,
            config_revision=0, inputs=inputs,
        )
        self.producer.produce(
            service_topics(TENANT, hosted.service).requests, encode(request), key=request_id.encode()
        )
        self.producer.poll(0)
        return request_id, sent_at

    def read(self, seconds: float) -> list[tuple[float, Any]]:
        from contracts.codec import decode_scores

        got = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            record = self.consumer.poll(min(0.05, max(0.0, deadline - time.monotonic())))
            if record is not None and record.value is not None:
                now = time.time()
                got += [(now, score) for score in decode_scores(record.value)]  # a ScoreBatch
        self.scores += got
        return got

    def close(self) -> None:
        self.producer.flush(10)
        self.producer.close()
        self.consumer.close()


def score_round(traffic: Traffic, hosted: list[Hosted], tag: str, timeout: float) -> dict[str, Any]:
    sent = {}
    for entry in hosted:
        request_id, sent_at = traffic.send(entry, tag)
        sent[request_id] = (entry, sent_at)
    traffic.producer.flush(10)
    expected = sum(len(e.versions) for e in hosted)
    started = time.monotonic()
    seen: dict[tuple[str, str, int], tuple[float, Any]] = {}
    while len(seen) < expected and time.monotonic() - started < timeout:
        for arrived, score in traffic.read(0.2):
            if score.request_id in sent:
                seen.setdefault((score.request_id, score.model, score.version), (arrived, score))
    latencies = [(arrived - sent[s.request_id][1]) * 1000 for arrived, s in seen.values()]
    answered = {(sent[s.request_id][0].service, s.model, s.version) for _a, s in seen.values() if s.status == "ok"}
    errors = sorted({s.error for _a, s in seen.values() if s.status != "ok"})
    return {
        "requests": len(sent),
        "expected_scores": expected,
        "scores": len(seen),
        "ok_versions": len(answered),
        "errors": errors[:5],
        "all_answered_s": round(max(latencies) / 1000, 2) if latencies else None,
        "score_latency_p50_ms": round(percentile(latencies, 50), 1),
        "score_latency_p99_ms": round(percentile(latencies, 99), 1),
    }


def first_score_of_new_version(traffic: Traffic, entry: Hosted, role: str, seed_value: int) -> dict[str, Any]:
    from controlplane.registry.models import Model
    from controlplane.routing.models import Service
    from controlplane.routing.services import deployment_promote, deployments_replace

    model = Model.objects.get(tenant__slug=TENANT, slug=entry.model)
    service = Service.objects.get(tenant__slug=TENANT, slug=entry.service)
    with tempfile.TemporaryDirectory() as tmp:
        number = _register(model, entry.dataset, 1, seed_value, Path(tmp))
    started = time.time()
    if role == "champion":
        deployment_promote(service=service, model=entry.model, version=number, actor="bench")
    else:
        table = _routing(entry.model, entry.versions) + [
            {"model": entry.model, "version": number, "role": "challenger", "weight": 0, "rank": 0}
        ]
        deployments_replace(service=service, deployments=table, actor="bench")
    published = time.time()
    first = None
    next_send = 0.0
    while first is None and time.time() - started < 30:
        if time.monotonic() >= next_send:
            traffic.send(entry, f"new{number}")
            next_send = time.monotonic() + 0.05
        for arrived, score in traffic.read(0.01):
            if score.model == entry.model and score.version == number and score.status == "ok":
                first = arrived
    entry.versions.append(number)
    return {
        "service": entry.service,
        "version": number,
        "role": role,
        "publish_ms": round((published - started) * 1000, 1),
        "first_score_s": round(first - started, 3) if first else None,
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--versions", type=int, default=10, help="versions per service")
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--new-versions", type=int, default=6)
    parser.add_argument("--port", type=int, default=int(os.environ.get("RDV_HTTP_PORT", "8178")))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.local")
    os.environ["RDV_PUBLIC_URL"] = f"http://127.0.0.1:{args.port}"
    import django

    django.setup()
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "load_average_start": os.getloadavg()}
    hosted = seed(args.services, args.versions, args.partitions)
    gateway = Gateway(args.port)
    work = Path(tempfile.mkdtemp(prefix="rdv-capacity-"))
    args.out.mkdir(parents=True, exist_ok=True)

    idle = Runner("idle", work / "runner-idle.log", work / "cache-idle")
    idle.wait_for(lambda text: " ready" in text, "ready (idle pool)", 90)
    time.sleep(1)
    report["rss_idle_mb"] = round(idle.rss_mb(), 1)
    idle.stop()

    runner = Runner("default", args.out / "runner-capacity.log", work / "cache")
    traffic = Traffic(hosted, args.partitions)
    try:
        started = time.monotonic()
        runner.wait_for(lambda text: " ready" in text, "ready", 180)
        report["ready_s"] = round(time.monotonic() - started, 1)
        # Champions and fallbacks (the versions that may answer) load with the config; challengers lazily.
        preloaded = 2 * args.services
        runner.wait_for(lambda _t: len(runner.loads()) >= preloaded, "answering versions preloaded", 300)
        report["preloaded_versions"] = preloaded
        report["preloaded_s"] = round(time.monotonic() - started, 1)
        time.sleep(1)
        report["rss_preloaded_mb"] = round(runner.rss_mb(), 1)
        _say(f"runner ready; {len(runner.loads())} versions preloaded; RSS {report['rss_preloaded_mb']} MB")

        report["cold_round"] = score_round(traffic, hosted, "cold", timeout=300)
        _say(f"cold round: {report['cold_round']}")
        report["warm_round"] = score_round(traffic, hosted, "warm", timeout=60)
        _say(f"warm round: {report['warm_round']}")
        time.sleep(1)
        report["rss_all_mb"] = round(runner.rss_mb(), 1)

        loads = runner.loads()
        load_ms = [ms for _m, _v, ms, _f, _b in loads]
        fetch_ms = [f for _m, _v, _ms, f, _b in loads]
        deserialise_ms = [ms - f for _m, _v, ms, f, _b in loads]
        resident_kb = [b / 1024 for _m, _v, _ms, _f, b in loads]
        lazily = len(loads) - preloaded
        report["versions_loaded"] = len({(m, v) for m, v, _ms, _f, _b in loads})
        report["cold_load_ms"] = _spread(load_ms)
        report["cold_load_fetch_ms"] = _spread(fetch_ms)
        report["cold_load_deserialise_ms"] = _spread(deserialise_ms)
        report["resident_kb"] = {"median": round(statistics.median(resident_kb), 1),
                                 "p90": round(percentile(resident_kb, 90), 1), "max": round(max(resident_kb), 1),
                                 "total_mb": round(sum(resident_kb) / 1024, 2)}
        report["rss_marginal_kb_per_model"] = (
            round((report["rss_all_mb"] - report["rss_preloaded_mb"]) * 1024 / lazily, 1) if lazily else None
        )

        new = []
        for k in range(args.new_versions):
            role = "champion" if k % 2 else "challenger"
            entry = hosted[(k * 7) % len(hosted)]
            new.append(first_score_of_new_version(traffic, entry, role, 900_000 + k))
            _say(f"new version: {new[-1]}")
        report["new_versions"] = new
        firsts = [n["first_score_s"] for n in new if n["first_score_s"] is not None]
        report["new_version_first_score_s"] = {
            "median": round(statistics.median(firsts), 3) if firsts else None,
            "max": max(firsts) if firsts else None,
            "served": f"{len(firsts)}/{len(new)}",
        }
        report["rss_end_mb"] = round(runner.rss_mb(), 1)
    finally:
        traffic.close()
        runner.stop()
        gateway.stop()
    report["load_average_end"] = os.getloadavg()
    out = args.out / f"runner-capacity-{int(time.time())}.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    _say(f"report written to {out}")
    cold = report["cold_round"]
    every = args.services * args.versions
    return 0 if cold["ok_versions"] == every == report["warm_round"]["ok_versions"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
