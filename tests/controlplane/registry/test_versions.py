"""Registering versions: numbered per model, hashed, stored as ``validating``, and only ``ready`` once the
smoke test passed in a separate process. These tests run ``version_validate`` — what the Celery task
calls — in the test itself; tests/e2e/test_validation.py has a real worker do it."""

from __future__ import annotations

import hashlib
import io
import pickle
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.test import override_settings
from django.utils import timezone

from controlplane.errors import InvalidInput
from controlplane.registry.models import ModelVersion
from controlplane.registry.sandbox import Limits
from controlplane.registry.services import version_create
from controlplane.registry.validation import version_validate, versions_validation_sweep
from tests.controlplane.conftest import FEATURES, IRIS_METADATA
from tests.controlplane.registry import artifacts
from tests.factories import ModelFactory, TenantFactory

pytestmark = pytest.mark.django_db
Status = ModelVersion.Status


def _create(path: Path, *, fmt: str = "skops", metadata: dict | None = None, model=None) -> ModelVersion:  # noqa: ANN001
    with path.open("rb") as handle:
        return version_create(
            model=model or ModelFactory(),
            artifact_file=File(handle, name=path.name),
            format=fmt,
            metadata=IRIS_METADATA if metadata is None else metadata,
        )


def _bytes(data: bytes, *, fmt: str = "skops", model=None, metadata: dict | None = None) -> ModelVersion:  # noqa: ANN001
    return version_create(
        model=model or ModelFactory(),
        artifact_file=ContentFile(data, name=f"artifact.{fmt}"),
        format=fmt,
        metadata=IRIS_METADATA if metadata is None else metadata,
    )


def _validated(version: ModelVersion, limits: Limits | None = None) -> ModelVersion:
    validated = version_validate(version_id=version.pk, limits=limits)
    assert validated is not None
    return validated


def test_an_upload_is_stored_validating_then_the_smoke_test_makes_it_ready(iris_skops_path: Path) -> None:
    version = _create(iris_skops_path)

    data = iris_skops_path.read_bytes()
    assert version.status == Status.VALIDATING and version.validated_at is None
    assert version.sha256 == hashlib.sha256(data).hexdigest() and version.size == len(data)
    assert version.artifact.read() == data

    validated = _validated(version)

    assert validated.status == Status.READY, validated.report
    assert "LogisticRegression" in validated.report and "smoke prediction" in validated.report
    assert "separate process" in validated.report and validated.validated_at is not None
    assert validated.validation_attempts == 1
    assert ModelVersion.objects.get(pk=version.pk).status == Status.READY


def test_a_decided_version_is_not_validated_again(iris_skops_path: Path) -> None:
    version = _validated(_create(iris_skops_path))

    again = _validated(version)  # a redelivered task

    assert (again.status, again.report, again.validation_attempts) == (Status.READY, version.report, 1)


def test_versions_are_numbered_per_model(iris_skops_path: Path) -> None:
    model = ModelFactory()
    numbers = [_create(iris_skops_path, model=model).number for _ in range(3)]
    other = _create(iris_skops_path)

    assert numbers == [1, 2, 3] and other.number == 1


@pytest.mark.parametrize("fmt", ["joblib", "pickle", "python"])
def test_a_tenant_cannot_upload_a_format_that_runs_code(tmp_path: Path, fmt: str) -> None:
    class Boom:
        def __reduce__(self):  # noqa: ANN204 - runs only if someone unpickles it
            return (Path(tmp_path / "pwned").touch, ())

    path = tmp_path / "model.bin"
    path.write_bytes(pickle.dumps(Boom()))

    with pytest.raises(InvalidInput) as refused:
        _create(path, fmt=fmt)

    message = refused.value.detail["format"]
    assert "runs code when it is loaded" in message and "skops" in message and "onnx" in message
    assert not ModelVersion.objects.exists()
    assert not (tmp_path / "pwned").exists()


def test_a_trusted_tenants_pickle_is_checked_but_never_loaded(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self):  # noqa: ANN204
            return (Path(tmp_path / "pwned").touch, ())

    model = ModelFactory(tenant=TenantFactory(trusted_code=True))
    path = tmp_path / "model.joblib"
    path.write_bytes(pickle.dumps(Boom(), protocol=4))
    plain = tmp_path / "plain.joblib"
    plain.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))

    gadget = _validated(_create(path, fmt="joblib", model=model))
    harmless = _validated(_create(plain, fmt="joblib", model=model))

    assert gadget.status == Status.FAILED, gadget.report
    assert gadget.report.startswith("refused without loading it:") and "builtins.getattr" in gadget.report
    assert harmless.status == Status.READY, harmless.report
    assert "not loaded" in harmless.report and "trusted pools" in harmless.report
    assert not (tmp_path / "pwned").exists()


def test_a_trusted_tenants_broken_pickle_or_python_file_fails(tmp_path: Path) -> None:
    model = ModelFactory(tenant=TenantFactory(trusted_code=True))

    garbage = _validated(_bytes(b"PK\x03\x04 not a pickle", fmt="joblib", model=model))
    python_ok = _validated(_bytes(b"# scorer\nmy_models.churn:score\n", fmt="python", model=model))
    python_bad = _validated(_bytes(b"import os\nos.system('x')\n", fmt="python", model=model))

    assert garbage.status == Status.FAILED and "not a joblib file" in garbage.report
    assert python_ok.status == Status.READY and "my_models.churn:score" in python_ok.report
    assert python_bad.status == Status.FAILED and "one line 'package.module:callable'" in python_bad.report


def test_random_bytes_fail_with_a_report() -> None:
    version = _validated(_bytes(artifacts.BROKEN_BYTES))

    assert version.status == Status.FAILED
    assert version.report.startswith("error while loading the artifact: not a readable skops file")


def test_a_skops_file_holding_an_untrusted_type_fails_listing_it() -> None:
    version = _validated(_bytes(artifacts.untrusted_type_skops()))

    assert version.status == Status.FAILED
    assert "untrusted types tests.controlplane.registry.artifacts.HomeMadeClassifier" in version.report


def test_an_example_missing_a_feature_fails_before_anything_is_loaded(iris_skops_path: Path) -> None:
    version = _validated(_create(iris_skops_path, metadata={"features": FEATURES, "example": {"sepal_length": 1.0}}))

    assert version.status == Status.FAILED
    assert version.report == "before loading: metadata.example lacks feature(s) " \
        "sepal_width, petal_length, petal_width"


def test_an_onnx_model_is_validated_with_onnxruntime() -> None:
    version = _validated(_bytes(artifacts.iris_onnx(), fmt="onnx"))

    assert version.status == Status.READY, version.report
    assert "loaded onnx model" in version.report and "output_probability" in version.report


def test_a_broken_onnx_file_fails_with_a_report() -> None:
    version = _validated(_bytes(b"\x08\x07garbage", fmt="onnx"))

    assert version.status == Status.FAILED and "onnx load failed" in version.report


def test_a_load_above_the_memory_limit_fails_saying_so() -> None:
    version = _validated(_bytes(artifacts.oversized_skops(320)), limits=Limits(timeout_s=120, memory_mb=200, cpu_s=60))

    assert version.status == Status.FAILED
    assert version.report.startswith("memory limit: loading the artifact needed more than the 200 MB")


def test_a_prediction_past_the_timeout_fails_saying_so() -> None:
    version = _validated(_bytes(artifacts.spinning_onnx(), fmt="onnx"), limits=Limits(timeout_s=8, memory_mb=512,
                                                                                       cpu_s=60))

    assert version.status == Status.FAILED
    assert version.report.startswith("timeout: validation did not finish within 8 s")
    assert "running the smoke prediction" in version.report


def test_an_artifact_changed_in_storage_fails(iris_skops_path: Path) -> None:
    version = _create(iris_skops_path)
    Path(version.artifact.path).write_bytes(b"tampered")

    validated = _validated(version)

    assert validated.status == Status.FAILED and "does not match its sha256" in validated.report


@override_settings(RDV_VALIDATION_TIMEOUT_S=10, RDV_VALIDATION_MAX_ATTEMPTS=2)
def test_the_sweep_requeues_lost_validations_and_fails_endless_ones(django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    now = timezone.now()
    lost = _bytes(b"x" * 10)
    crashed = _bytes(b"y" * 10)
    fresh = _bytes(b"z" * 10)
    ModelVersion.objects.filter(pk__in=[lost.pk, crashed.pk]).update(validation_queued_at=now - timedelta(minutes=5))
    ModelVersion.objects.filter(pk=crashed.pk).update(validation_attempts=2)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        counts = versions_validation_sweep(now=now)

    assert counts == {"requeued": 1, "failed": 1}
    assert len(queued) == 1
    assert ModelVersion.objects.get(pk=lost.pk).validation_queued_at == now
    failed = ModelVersion.objects.get(pk=crashed.pk)
    assert failed.status == Status.FAILED and "started 2 times without finishing" in failed.report
    assert ModelVersion.objects.get(pk=fresh.pk).status == Status.VALIDATING


def test_bad_metadata_or_format_is_invalid_input() -> None:
    model = ModelFactory()
    with pytest.raises(InvalidInput):
        version_create(model=model, artifact_file=ContentFile(b"x", name="a"), format="pt", metadata={})
    with pytest.raises(InvalidInput):
        version_create(
            model=model, artifact_file=ContentFile(b"x", name="a"), format="skops", metadata={"features": "x"}
        )
    with pytest.raises(InvalidInput):
        version_create(
            model=model, artifact_file=File(io.BytesIO(b""), name="a"), format="skops", metadata={}
        )
