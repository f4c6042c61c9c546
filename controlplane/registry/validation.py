"""Validating a version before it may be deployed (DESIGN.md §5): ``validating`` → ``ready`` or ``failed``.

``version_validate`` is what the Celery task calls (and what seeds and tests call directly): it runs
the smoke test — load exactly as a runner would, score ``metadata.example`` — in a separate process
with time, memory and CPU limits (``sandbox``), and records the outcome with a report a user can act
on. Formats that run code when loaded are never opened here, not even in the child: on the control
plane's host a child process is no sandbox for other tenants' files or the database credentials.
They get a static check — the pickle opcode scan the trusted runners also run before loading
(``contracts.pickle_scan``) — and a report that says they were not loaded (``trusted_format_check``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contracts.pickle_scan import PickleRefused, pickle_file_refusals, pickle_report
from contracts.smoke import SmokeRequest, example_problem
from controlplane.registry.models import ModelVersion
from controlplane.registry.sandbox import Limits, SandboxResult, failure_explain, sandbox_run
from controlplane.registry.trust import is_code_format

log = logging.getLogger(__name__)

Status = ModelVersion.Status
PENDING = (Status.REGISTERED, Status.VALIDATING)
VALIDATE_TASK = "registry.version_validate"
_PYTHON_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
# First bytes of what joblib.dump and pickle.dump write: a pickle of protocol 2 or later, or one of
# the compressors joblib supports (zlib, gzip, bz2, xz, lzma, lz4).
_PICKLE_HEADERS = tuple(b"\x80" + bytes([protocol]) for protocol in range(2, 6))
_JOBLIB_COMPRESSED = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00",
                      b"\x5d\x00\x00", b"\x04\x22\x4d\x18", b"ZF")


class ValidationFailed(Exception):
    """A readable reason the version cannot serve; becomes the version's report."""


def validation_limits() -> Limits:
    return Limits(
        timeout_s=float(settings.RDV_VALIDATION_TIMEOUT_S),
        memory_mb=int(settings.RDV_VALIDATION_MEMORY_MB),
        cpu_s=int(settings.RDV_VALIDATION_CPU_S),
    )


def version_validation_enqueue(*, version: ModelVersion) -> None:
    """Queue the validation task once the current transaction commits (the worker must see the row).

    A broker that is down does not fail the upload: the version stays ``validating`` and the sweep
    (``versions_validation_sweep``) queues it again.
    """
    version_id = version.pk

    def send() -> None:
        from controlplane.celery import app

        try:
            app.send_task(VALIDATE_TASK, args=[version_id])
        except Exception:  # kombu raises several kinds of connection errors
            log.warning("could not queue the validation of version id %s; the sweep will retry", version_id,
                        exc_info=True)

    transaction.on_commit(send)


def versions_validation_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Queue again what waited too long; fail what was started too often without finishing.

    "Too long" is the validation timeout plus two minutes: a task still running within it is left alone.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.RDV_VALIDATION_TIMEOUT_S + 120)
    requeued = failed = 0
    waiting = ModelVersion.objects.filter(status__in=PENDING, validation_queued_at__lt=stale)
    for version_id in waiting.values_list("pk", flat=True):
        with transaction.atomic():
            version = ModelVersion.objects.select_for_update().filter(pk=version_id, status__in=PENDING).first()
            if version is None:
                continue
            if version.validation_attempts >= settings.RDV_VALIDATION_MAX_ATTEMPTS:
                _record(version, Status.FAILED, (
                    f"validation was started {version.validation_attempts} times without finishing "
                    "(a worker killed mid-task each time, e.g. by the system's out-of-memory killer)"
                ))
                failed += 1
                continue
            version.validation_queued_at = now
            version.save(update_fields=["validation_queued_at"])
            version_validation_enqueue(version=version)
            requeued += 1
    return {"requeued": requeued, "failed": failed}


def version_validate(*, version_id: int, limits: Limits | None = None) -> ModelVersion | None:
    """Validate the version and record ``ready`` or ``failed``; one already decided is left as it is.

    Safe to run twice (a redelivered task, the sweep): the first outcome recorded wins.
    """
    with transaction.atomic():
        version = (
            ModelVersion.objects.select_for_update().select_related("model__tenant").filter(pk=version_id).first()
        )
        if version is None:
            log.warning("version id %s no longer exists; nothing to validate", version_id)
            return None
        if version.status not in PENDING:
            return version
        version.status = Status.VALIDATING
        version.validation_attempts += 1
        version.report = (
            f"validating since {timezone.now():%Y-%m-%d %H:%M:%S} UTC (attempt {version.validation_attempts}): "
            "loading the artifact and running the smoke prediction in a separate process"
        )
        version.save(update_fields=["status", "validation_attempts", "report"])
    try:
        status, report = Status.READY, _validate(version, limits or validation_limits())
    except ValidationFailed as exc:
        status, report = Status.FAILED, str(exc)
    except Exception as exc:  # never leave a version stuck in "validating" for a bug of ours
        log.exception("validating %s crashed", version)
        status, report = Status.FAILED, f"validation crashed: {type(exc).__name__}: {exc}"
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model__tenant").get(pk=version_id)
        if locked.status in PENDING:
            _record(locked, status, report)
    return locked


def _record(version: ModelVersion, status: str, report: str) -> None:
    version.status, version.report, version.validated_at = status, report, timezone.now()
    version.save(update_fields=["status", "report", "validated_at"])


def _validate(version: ModelVersion, limits: Limits) -> str:
    """The ``ready`` report; raises ValidationFailed with the ``failed`` one."""
    with _artifact_path(version) as path:
        try:
            digest = _sha256(path)
        except OSError as exc:
            raise ValidationFailed(f"the stored artifact cannot be read: {exc}") from exc
        if digest != version.sha256:
            raise ValidationFailed(
                f"the stored artifact does not match its sha256 (recorded {version.sha256}, found {digest})"
            )
        probe = _sandbox_probe(version, path)
        if is_code_format(version.format) and not probe:
            return trusted_format_check(version=version, path=path)
        problem = example_problem(version.features, version.metadata.get("example"))
        if problem:
            raise ValidationFailed(f"before loading: {problem}")
        request = SmokeRequest(
            artifact=str(path),
            format=version.format,
            model=version.model.slug,
            version=version.number,
            sha256=version.sha256,
            features=version.features,
            example=dict(version.metadata["example"]),
            memory_mb=limits.memory_mb,
            cpu_s=limits.cpu_s,
            probe=probe,
        )
        result = sandbox_run(request=request, limits=limits)
    if not result.ok:
        raise ValidationFailed(failure_explain(result, limits))
    return _ready_report(version, result, limits)


def _ready_report(version: ModelVersion, result: SandboxResult, limits: Limits) -> str:
    outcome = result.outcome or {}
    output = json.dumps(outcome.get("output"), sort_keys=True)
    if len(output) > 300:
        output = output[:297] + "..."
    return (
        f"loaded {version.format} {outcome.get('model_type')} in {outcome.get('load_ms')} ms; "
        f"smoke prediction on metadata.example in {outcome.get('predict_ms')} ms → {output}; "
        f"peak memory {outcome.get('peak_rss_mb')} MB. Validated in a separate process in {result.elapsed_s:g} s "
        f"(limits: {limits.describe()})."
    )


def trusted_format_check(*, version: ModelVersion, path: Path) -> str:
    """A code format of a trusted tenant: checked without loading it, ``ready`` with a report saying so."""
    if not version.model.tenant.trusted_code:
        raise ValidationFailed(
            f"refused: format {version.format!r} runs code when loaded and tenant "
            f"{version.model.tenant.slug!r} is not trusted to run code"
        )
    if version.format == ModelVersion.Format.PYTHON:
        target = _python_target(path)
        what = f"names {target}, which the trusted pool's runners import from their own code"
    else:
        with path.open("rb") as handle:
            head = handle.read(8)
        if not head.startswith(_PICKLE_HEADERS + _JOBLIB_COMPRESSED):
            raise ValidationFailed(
                f"not a {version.format} file (it starts with {head[:4].hex()}: neither a pickle of "
                "protocol 2 or later nor a joblib-compressed file)"
            )
        try:
            refused = pickle_file_refusals(path)
        except PickleRefused as exc:
            raise ValidationFailed(f"refused without loading it: {exc}") from exc
        if refused:
            raise ValidationFailed(f"refused without loading it: {pickle_report(refused)}")
        what = ("passed the static pickle scan (it references only scikit-learn, NumPy and SciPy classes and "
                "vetted reconstruction functions)")
    return (
        f"not loaded: format {version.format!r} runs code when loaded, so the control plane never "
        f"opens it; the file {what}. Only runners of trusted pools load it: a load failure there shows as "
        "error scores and the rendezvous falls back."
    )


def _sandbox_probe(version: ModelVersion, path: Path) -> str:
    """Test settings only: the probe module a ``python`` artifact names, to run inside the sandbox, or "".

    ``RDV_VALIDATION_TEST_PROBE_DIR`` is None in every other settings module (production resets it).
    """
    probe_dir = settings.RDV_VALIDATION_TEST_PROBE_DIR
    if probe_dir is None or version.format != ModelVersion.Format.PYTHON:
        return ""
    try:
        target = _python_target(path)
    except ValidationFailed:
        return ""
    return target if (Path(probe_dir) / f"{target.partition(':')[0]}.py").is_file() else ""


def _python_target(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"a python artifact must be a UTF-8 text file: {exc}") from exc
    lines = [line.strip() for line in text.splitlines()]
    meaningful = [line for line in lines if line and not line.startswith("#")]
    if len(meaningful) != 1 or not _PYTHON_TARGET.match(meaningful[0]):
        raise ValidationFailed("a python artifact must hold one line 'package.module:callable'")
    return meaningful[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _artifact_path(version: ModelVersion) -> Iterator[Path]:
    """A local path of the artifact: the stored file itself, or a temporary copy for remote storage."""
    try:
        stored = Path(version.artifact.path)
    except NotImplementedError:
        stored = None
    if stored is not None:
        yield stored
        return
    with tempfile.TemporaryDirectory(prefix="rdv-artifact-") as tmp:
        local = Path(tmp) / "artifact"
        with version.artifact.open("rb") as source, local.open("wb") as target:
            shutil.copyfileobj(source, target)
        yield local
