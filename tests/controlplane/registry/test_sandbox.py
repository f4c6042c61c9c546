"""How the validator's child process is started and how its end is explained (no database needed)."""

from __future__ import annotations

import signal
from pathlib import Path

from contracts.smoke import SmokeRequest
from controlplane.registry.sandbox import Limits, SandboxResult, _child_env, failure_explain, sandbox_run

LIMITS = Limits(timeout_s=30, memory_mb=256, cpu_s=5)


def _ended(**fields: object) -> SandboxResult:
    base = {"outcome": None, "last_stage": "loading", "returncode": 0, "timed_out": False, "elapsed_s": 1.0,
            "stderr_tail": ""}
    return SandboxResult(**{**base, **fields})


def test_the_child_gets_no_secret_from_the_control_planes_environment(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("DATABASE_URL", "postgres://secret")
    monkeypatch.setenv("RDV_RUNNER_TOKEN", "secret")

    env = _child_env("/tmp/x")

    assert "secret" not in " ".join(env.values())
    assert env["HOME"] == "/tmp/x" and env["OMP_NUM_THREADS"] == "1"


def test_each_way_of_ending_is_explained() -> None:
    assert failure_explain(_ended(timed_out=True, last_stage="predicting"), LIMITS) == (
        "timeout: validation did not finish within 30 s (RDV_VALIDATION_TIMEOUT_S) while running the smoke "
        "prediction; the validator process was killed"
    )
    assert failure_explain(_ended(returncode=-signal.SIGXCPU, last_stage="predicting"), LIMITS).startswith(
        "CPU limit: running the smoke prediction used more than 5 s of CPU time (RDV_VALIDATION_CPU_S)"
    )
    assert "256 MB memory limit" in failure_explain(_ended(returncode=-signal.SIGSEGV), LIMITS)
    assert "out-of-memory killer" in failure_explain(_ended(returncode=-signal.SIGKILL), LIMITS)
    crashed = failure_explain(_ended(returncode=1, stderr_tail="Traceback\n  ...\nImportError: no numpy\n"), LIMITS)
    assert crashed == "the validator process exited with status 1 while loading the artifact:\nTraceback\n  ...\n" \
        "ImportError: no numpy"
    memory = {"ok": False, "stage": "loading", "kind": "memory", "message": "Unable to allocate 1 GiB"}
    assert failure_explain(_ended(outcome=memory), LIMITS).startswith(
        "memory limit: loading the artifact needed more than the 256 MB allowed"
    )
    error = {"ok": False, "stage": "predicting", "kind": "error", "message": "ValueError: bad shape"}
    assert failure_explain(_ended(outcome=error), LIMITS) == (
        "error while running the smoke prediction: ValueError: bad shape"
    )


def test_a_real_child_reports_its_outcome_on_stdout(tmp_path: Path) -> None:
    artifact = tmp_path / "broken.onnx"
    artifact.write_bytes(b"\x08\x07garbage")
    request = SmokeRequest(artifact=str(artifact), format="onnx", model="m", version=1, sha256="0" * 64,
                           features=["a"], example={"a": 1.0}, memory_mb=256, cpu_s=5)

    result = sandbox_run(request=request, limits=LIMITS)

    assert not result.ok and result.returncode == 0 and not result.timed_out
    assert result.outcome is not None and "onnx load failed" in result.outcome["message"]
    assert len(result.stderr_tail) <= 64 * 1024


def test_a_real_child_over_its_cpu_limit_is_reported_as_such(tmp_path: Path) -> None:
    """In the sandbox the child's signal reaches us as bwrap's exit status 128 + N; the report still names it."""
    from tests.controlplane.conftest import EXAMPLE, FEATURES
    from tests.controlplane.registry.artifacts import spinning_onnx

    artifact = tmp_path / "spin.onnx"
    artifact.write_bytes(spinning_onnx())
    request = SmokeRequest(artifact=str(artifact), format="onnx", model="m", version=1, sha256="0" * 64,
                           features=FEATURES, example=EXAMPLE, memory_mb=512, cpu_s=2)
    limits = Limits(timeout_s=60, memory_mb=512, cpu_s=2)

    result = sandbox_run(request=request, limits=limits)

    assert result.returncode == -signal.SIGXCPU and not result.timed_out, result
    assert failure_explain(result, limits).startswith("CPU limit: running the smoke prediction used more than 2 s")


def test_the_sandbox_mounts_code_and_its_own_artifact_copy_but_not_the_store_or_the_repository(tmp_path: Path) -> None:
    from django.conf import settings

    from controlplane.registry import confinement
    from controlplane.registry.sandbox import ROOT

    copy = tmp_path / "artifact"
    argv = confinement.bwrap_argv(bwrap="bwrap", artifact=copy, code_root=ROOT, env={"PYTHONPATH": "/rdv/code"},
                                  command=["python"], as_root=True)
    binds = {argv[i + 1]: argv[i + 2] for i, arg in enumerate(argv) if arg in ("--ro-bind", "--bind")}

    assert binds[str(copy)] == confinement.ARTIFACT_PATH
    assert binds[str(ROOT / "model_runner")] == "/rdv/code/model_runner"
    assert str(ROOT) not in binds and str(settings.MEDIA_ROOT) not in binds
    assert not any(source.startswith(str(settings.MEDIA_ROOT)) for source in binds)
    assert "--bind" not in argv  # read-only, all of it
    assert {"--unshare-net", "--unshare-pid", "--new-session", "--die-with-parent", "--clearenv"} <= set(argv)


def test_a_sandbox_that_would_mount_the_artifact_store_refuses_to_start(tmp_path: Path) -> None:
    """E.g. a store configured inside the code the child needs: nothing is loaded, the report says why."""
    from controlplane.registry.confinement import Confinement
    from controlplane.registry.sandbox import ROOT

    artifact = tmp_path / "model.onnx"
    artifact.write_bytes(b"\x08\x07")
    request = SmokeRequest(artifact=str(artifact), format="onnx", model="m", version=1, sha256="0" * 64,
                           features=["a"], example={"a": 1.0}, memory_mb=256, cpu_s=5)

    result = sandbox_run(request=request, limits=LIMITS, confined=Confinement(store=ROOT / "model_runner" / "x"))

    assert not result.ok and result.returncode is None
    assert failure_explain(result, LIMITS).startswith(
        f"error while starting the validator: the validation sandbox is not available: it would mount "
        f"{ROOT / 'model_runner'}, which holds the artifact store"
    )
