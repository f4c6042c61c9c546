"""The skops allow-list is complete for what it names (each allowed class trains, saves and loads) and
closed to what it does not (functions, foreign types, loaders that call code)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import skops.io

from contracts.config import DeploymentSpec
from model_runner.loading import load_model
from model_runner.skops_allowlist import ALLOWED_ESTIMATORS, allowed_functions, allowed_types, schema_refusals
from tests.model_runner.allowed_estimators import X, fitted

# Allowed classes that are transformers: scored through a Pipeline ending in a classifier.
_PREDICTS = {"sklearn.preprocessing:LabelEncoder"}


def _spec(path: Path) -> DeploymentSpec:
    return DeploymentSpec(model="m", version=1, role="champion", format="skops", sha256="0" * 64,
                          artifact_url=path.as_uri(), features=("a", "b", "c", "d"))


@pytest.mark.parametrize("public", ALLOWED_ESTIMATORS)
def test_each_allowed_class_fitted_and_saved_with_skops_loads_through_load_model(public: str, tmp_path: Path) -> None:
    estimator = fitted(public)
    path = tmp_path / "model.skops"
    skops.io.dump(estimator, path)

    loaded = load_model(_spec(path), path)  # raises ModelLoadError naming any type missing from the list

    if hasattr(estimator, "predict") and public not in _PREDICTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = loaded.predict_batch([dict(zip("abcd", map(float, row), strict=True)) for row in X[:2]])
        assert len(outputs) == 2 and all(isinstance(output, dict) for output in outputs)


def test_whatever_skops_reports_for_the_allowed_classes_is_on_the_list(tmp_path: Path) -> None:
    """skops' own report must never be what widens the list: every type it reports is ours too."""
    allowed = allowed_types() | allowed_functions()
    path = tmp_path / "model.skops"
    for public in ALLOWED_ESTIMATORS:
        skops.io.dump(fitted(public), path)
        assert set(skops.io.get_untrusted_types(file=path)) <= allowed, public


def test_the_list_names_classes_never_prefixes_or_functions() -> None:
    assert all(name.count(".") >= 1 and not name.endswith(".") for name in allowed_types())
    assert "numpy.testing._private.utils.runstring" not in allowed_types() | allowed_functions()
    assert not any(name.startswith(("builtins.eval", "builtins.exec", "posix.", "os.")) for name in allowed_types())


def _node(loader: str, module: str, name: str, **extra: object) -> dict[str, object]:
    return {"__loader__": loader, "__module__": module, "__class__": name, **extra}


@pytest.mark.parametrize(("node", "refused"), [
    (_node("FunctionNode", "numpy", "exp"), "function numpy.exp"),
    (_node("TypeNode", "builtins", "eval"), "builtins.eval"),
    (_node("MethodNode", "sklearn.pipeline", "Pipeline"), "MethodNode"),
    (_node("OperatorFuncNode", "operator", "attrgetter"), "OperatorFuncNode"),
    (_node("PartialNode", "functools", "partial"), "PartialNode"),
    (_node("RandomGeneratorNode", "numpy.random._generator", "Generator"), "RandomGeneratorNode"),
    (_node("JsonNode", "posix", "system", content="1"), "posix.system stored as JsonNode"),
    (_node("RandomStateNode", "sklearn.pipeline", "Pipeline"), "sklearn.pipeline.Pipeline stored as RandomStateNode"),
    (_node("SomethingNew", "sklearn.pipeline", "Pipeline"), "SomethingNew"),
])
def test_hand_made_nodes_that_skops_might_trust_are_refused(node: dict[str, object], refused: str) -> None:
    schema = _node("ObjectNode", "sklearn.pipeline", "Pipeline",
                   content=_node("DictNode", "builtins", "dict", content={"steps": node}))

    [problem] = schema_refusals(schema)

    assert refused in problem


def test_a_node_hidden_deep_in_plain_json_containers_is_still_audited() -> None:
    hidden = {"a": [{"b": [_node("TypeNode", "posix", "system")]}]}

    assert schema_refusals({"content": hidden, "__loader__": "DictNode", "__module__": "builtins",
                            "__class__": "dict"}) == ["posix.system"]


def test_numpy_scalar_types_are_allowed_as_types() -> None:
    assert f"{np.float64.__module__}.{np.float64.__qualname__}" in allowed_types()
