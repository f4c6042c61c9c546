"""Issue 14, acceptance 1: hostile artifacts run no code in the validator or a runner, and end ``failed``
with a readable report.

Each artifact goes through the real validation path (``version_validate``, what the Celery task calls,
running the real child process) and through the runner's ``load_model``. Each payload would write a
sentinel file if it ran; the tests check it does not exist. Good skops/ONNX/trusted-joblib models keep
validating ``ready``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pytest
from django.core.files.base import ContentFile
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from contracts.config import DeploymentSpec
from controlplane.registry.models import ModelVersion
from controlplane.registry.services import version_create
from controlplane.registry.validation import version_validate
from model_runner.loading import ModelLoadError, load_model
from tests.controlplane.conftest import IRIS_METADATA
from tests.controlplane.registry import artifacts
from tests.factories import ModelFactory, TenantFactory
from tests.security import hostile

Status = ModelVersion.Status
ROWS = [dict(zip(hostile.FEATURES, (5.1, 3.5, 1.4, 0.2), strict=True))] * 2


def _spec(fmt: str) -> DeploymentSpec:
    return DeploymentSpec(model="m", version=1, role="champion", format=fmt, sha256="0" * 64,
                          artifact_url="file:///unused", features=tuple(hostile.FEATURES))


def _validated(data: bytes, fmt: str, *, trusted_tenant: bool = False) -> ModelVersion:
    model = ModelFactory(tenant=TenantFactory(trusted_code=trusted_tenant))
    version = version_create(model=model, artifact_file=ContentFile(data, name=f"artifact.{fmt}"), format=fmt,
                             metadata=IRIS_METADATA)
    validated = version_validate(version_id=version.pk)
    assert validated is not None
    return validated


def _good_joblib() -> bytes:
    features, labels = load_iris(return_X_y=True)
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression(max_iter=300).fit(features, labels), buffer, compress=3)
    return buffer.getvalue()


SKOPS_CASES: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "function gadget (numpy.testing runstring)": (hostile.function_gadget_skops,
                                                  "numpy.testing._private.utils.runstring"),
    "builtins.eval": (lambda sentinel: hostile.builtin_skops("eval", sentinel), "builtins.eval"),
    "os.system": (lambda sentinel: hostile.builtin_skops("system", sentinel), "posix.system"),
    "ufunc FunctionTransformer skops trusts by default": (lambda _sentinel: hostile.ufunc_transformer_skops(),
                                                          "FunctionTransformer with a function"),
}
# Allowed types, hostile contents: refused after skops rebuilt them, before any prediction.
MALFORMED_SKOPS = {
    "tree pointing outside its arrays": (hostile.malformed_tree_skops, "decision tree #1 is malformed"),
    "tree wider than its estimator": (hostile.wide_tree_skops, "its tree 1000001"),
    "forest member wider than the forest": (hostile.wide_forest_member_skops, "one of its trees 1000001"),
}
ONNX_LOCATIONS = ["/etc/passwd", "../../etc/passwd", "artifact.skops"]
PICKLE_CASES: dict[str, tuple[Callable[[Path], bytes], str, str]] = {
    "fork bomb": (lambda _sentinel: hostile.fork_bomb_pickle(), "pickle", "posix.fork"),
    "os.system in a compressed joblib": (hostile.system_joblib, "joblib", "posix.system"),
    "STACK_GLOBAL from the memo": (hostile.memo_stack_global_pickle, "pickle", "posix.system"),
    "STACK_GLOBAL protocol 4": (hostile.stack_global_pickle, "joblib", "posix.system"),
}


# --- the runner's load_model (every runner, and the validator child, load through it) -------------------


@pytest.mark.parametrize("case", SKOPS_CASES)
def test_the_runner_refuses_a_hostile_skops_file_without_running_it(case: str, tmp_path: Path) -> None:
    build, named = SKOPS_CASES[case]
    sentinel = tmp_path / "code-ran"
    path = tmp_path / "model.skops"
    path.write_bytes(build(sentinel))

    with pytest.raises(ModelLoadError, match="skops file refused: untrusted types") as refused:
        load_model(_spec("skops"), path).predict_batch(ROWS)

    assert named in str(refused.value)
    assert not sentinel.exists()


@pytest.mark.parametrize("case", MALFORMED_SKOPS)
def test_the_runner_refuses_a_memory_unsafe_skops_model_before_predicting(case: str, tmp_path: Path) -> None:
    build, named = MALFORMED_SKOPS[case]
    path = tmp_path / "model.skops"
    path.write_bytes(build())

    with pytest.raises(ModelLoadError, match=named):
        load_model(_spec("skops"), path)  # predicting would read outside the tree's arrays


@pytest.mark.django_db
@pytest.mark.parametrize("case", MALFORMED_SKOPS)
def test_a_memory_unsafe_skops_upload_fails_validation_saying_why(case: str) -> None:
    build, named = MALFORMED_SKOPS[case]

    version = _validated(build(), "skops")

    assert version.status == Status.FAILED, version.report
    assert named in version.report


def test_the_function_gadget_does_run_code_once_trusted_so_the_test_can_fail(tmp_path: Path) -> None:
    """The gadget is real: what the old prefix check trusted executes the payload at the first prediction."""
    import skops.io

    sentinel = tmp_path / "code-ran"
    path = tmp_path / "model.skops"
    path.write_bytes(hostile.function_gadget_skops(sentinel))
    untrusted = skops.io.get_untrusted_types(file=path)
    assert all(t.startswith(("sklearn.", "numpy.", "scipy.")) for t in untrusted)  # the old check's rule

    with pytest.raises(TypeError):
        skops.io.load(path, trusted=untrusted).predict(np.zeros((2, 4)))

    assert sentinel.read_text() == "code ran"


@pytest.mark.parametrize("location", ONNX_LOCATIONS)
def test_the_runner_refuses_onnx_external_data_before_onnxruntime_opens_it(location: str, tmp_path: Path) -> None:
    (tmp_path / "artifact.skops").write_bytes(b"another artifact")
    path = tmp_path / "model.onnx"
    path.write_bytes(hostile.external_data_onnx(location))

    with pytest.raises(ModelLoadError, match="external file") as refused:
        load_model(_spec("onnx"), path)

    assert location in str(refused.value) and "single file" in str(refused.value)


def test_the_runner_refuses_an_onnx_model_that_would_configure_its_session(tmp_path: Path) -> None:
    import onnx

    proto = onnx.load_from_string(artifacts.iris_onnx())
    onnx.helper.set_model_props(proto, {"ort_config": '{"session_options": {}}'})
    path = tmp_path / "model.onnx"
    path.write_bytes(proto.SerializeToString())

    with pytest.raises(ModelLoadError, match="ort_config"):
        load_model(_spec("onnx"), path)


def _defuse_fork(monkeypatch: pytest.MonkeyPatch, sentinel: Path) -> None:
    """If the scan ever let the fork bomb through, it must not take the test machine down with it: the
    unpickler looks ``posix.fork`` up at load time, so the stub it would find records the call instead."""
    import posix

    def fork() -> int:
        sentinel.write_text("fork called")
        raise OSError("fork refused by the test")

    monkeypatch.setattr(posix, "fork", fork)
    monkeypatch.setattr("os.fork", fork)


@pytest.mark.parametrize("case", PICKLE_CASES)
def test_a_trusted_runner_refuses_a_hostile_pickle_without_unpickling_it(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, fmt, named = PICKLE_CASES[case]
    sentinel = tmp_path / "code-ran"
    _defuse_fork(monkeypatch, sentinel)
    path = tmp_path / f"model.{fmt}"
    path.write_bytes(build(sentinel))

    with pytest.raises(ModelLoadError, match="refused without loading it") as refused:
        load_model(_spec(fmt), path, trusted=True)

    assert named in str(refused.value)
    assert not sentinel.exists()


def test_a_trusted_runner_still_loads_a_good_joblib_model(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    path.write_bytes(_good_joblib())

    outputs = load_model(_spec("joblib"), path, trusted=True).predict_batch(ROWS)

    assert outputs[0]["label"] == 0 and set(outputs[0]["probabilities"]) == {"0", "1", "2"}


# --- the validation path: version_validate, its real child process, and the static check of code formats ---


@pytest.mark.django_db
@pytest.mark.parametrize("case", SKOPS_CASES)
def test_a_hostile_skops_upload_fails_validation_with_a_readable_report(case: str, tmp_path: Path) -> None:
    build, named = SKOPS_CASES[case]
    sentinel = tmp_path / "code-ran"

    version = _validated(build(sentinel), "skops")

    assert version.status == Status.FAILED, version.report
    assert version.report.startswith("error while loading the artifact: skops file refused: untrusted types")
    assert named in version.report
    assert not sentinel.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("location", ["/etc/passwd", "../../../../../etc/passwd"])
def test_an_onnx_upload_with_external_data_fails_validation(location: str) -> None:
    version = _validated(hostile.external_data_onnx(location), "onnx")

    assert version.status == Status.FAILED, version.report
    assert "keeps its data in an external file" in version.report and location in version.report


@pytest.mark.django_db
@pytest.mark.parametrize("case", PICKLE_CASES)
def test_a_hostile_pickle_from_a_trusted_tenant_fails_validation_unloaded(case: str, tmp_path: Path) -> None:
    build, fmt, named = PICKLE_CASES[case]
    sentinel = tmp_path / "code-ran"

    version = _validated(build(sentinel), fmt, trusted_tenant=True)

    assert version.status == Status.FAILED, version.report
    assert version.report.startswith("refused without loading it: ")
    assert named in version.report
    assert not sentinel.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("fmt", "build"), [("skops", artifacts.iris_skops), ("onnx", artifacts.iris_onnx)])
def test_good_models_still_validate_ready(fmt: str, build: Callable[[], bytes]) -> None:
    version = _validated(build(), fmt)

    assert version.status == Status.READY, version.report
    assert "smoke prediction" in version.report


@pytest.mark.django_db
def test_a_trusted_tenants_good_joblib_passes_the_static_scan() -> None:
    version = _validated(_good_joblib(), "joblib", trusted_tenant=True)

    assert version.status == Status.READY, version.report
    assert "passed the static pickle scan" in version.report and "not loaded" in version.report
