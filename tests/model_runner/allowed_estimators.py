"""Each allowed skops class fitted on a tiny dataset, as a tenant would upload it (shared by tests)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from model_runner.skops_allowlist import ALLOWED_ESTIMATORS

_RNG = np.random.default_rng(3)
X = np.abs(_RNG.normal(size=(60, 4))) + 0.1
Y_CLASS = (X[:, 0] + X[:, 1] > X[:, 2] + X[:, 3]).astype(int) + (X[:, 0] > 1.2).astype(int)
Y_VALUE = X @ np.array([1.0, -2.0, 0.5, 3.0])


def _cls(public: str) -> Any:
    module_name, _, name = public.partition(":")
    return getattr(importlib.import_module(module_name), name)


def _tree() -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=3, random_state=0)


def _linear() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=300)


def _regressor() -> Any:
    from sklearn.linear_model import Ridge

    return Ridge()


# How to build the ones that need arguments; the others are made with defaults (small where it matters).
_BUILDERS: dict[str, Callable[[], Any]] = {
    "sklearn.ensemble:RandomForestClassifier": lambda: _cls("sklearn.ensemble:RandomForestClassifier")(n_estimators=3),
    "sklearn.ensemble:RandomForestRegressor": lambda: _cls("sklearn.ensemble:RandomForestRegressor")(n_estimators=3),
    "sklearn.ensemble:ExtraTreesClassifier": lambda: _cls("sklearn.ensemble:ExtraTreesClassifier")(n_estimators=3),
    "sklearn.ensemble:ExtraTreesRegressor": lambda: _cls("sklearn.ensemble:ExtraTreesRegressor")(n_estimators=3),
    "sklearn.ensemble:GradientBoostingClassifier": lambda: _cls("sklearn.ensemble:GradientBoostingClassifier")(
        n_estimators=3),
    "sklearn.ensemble:GradientBoostingRegressor": lambda: _cls("sklearn.ensemble:GradientBoostingRegressor")(
        n_estimators=3),
    "sklearn.ensemble:AdaBoostClassifier": lambda: _cls("sklearn.ensemble:AdaBoostClassifier")(n_estimators=3),
    "sklearn.ensemble:AdaBoostRegressor": lambda: _cls("sklearn.ensemble:AdaBoostRegressor")(n_estimators=3),
    "sklearn.ensemble:BaggingClassifier": lambda: _cls("sklearn.ensemble:BaggingClassifier")(n_estimators=3),
    "sklearn.ensemble:BaggingRegressor": lambda: _cls("sklearn.ensemble:BaggingRegressor")(n_estimators=3),
    "sklearn.ensemble:VotingClassifier": lambda: _cls("sklearn.ensemble:VotingClassifier")(
        [("tree", _tree()), ("linear", _linear())], voting="soft"),
    "sklearn.ensemble:VotingRegressor": lambda: _cls("sklearn.ensemble:VotingRegressor")([("ridge", _regressor())]),
    "sklearn.ensemble:StackingClassifier": lambda: _cls("sklearn.ensemble:StackingClassifier")(
        [("tree", _tree())], final_estimator=_linear(), cv=2),
    "sklearn.ensemble:StackingRegressor": lambda: _cls("sklearn.ensemble:StackingRegressor")(
        [("ridge", _regressor())], cv=2),
    "sklearn.neighbors:KNeighborsClassifier": lambda: _cls("sklearn.neighbors:KNeighborsClassifier")(n_neighbors=3),
    "sklearn.neighbors:KNeighborsRegressor": lambda: _cls("sklearn.neighbors:KNeighborsRegressor")(n_neighbors=3),
    "sklearn.preprocessing:QuantileTransformer": lambda: _cls("sklearn.preprocessing:QuantileTransformer")(
        n_quantiles=10),
    "sklearn.preprocessing:KBinsDiscretizer": lambda: _cls("sklearn.preprocessing:KBinsDiscretizer")(
        n_bins=3, quantile_method="averaged_inverted_cdf"),
    "sklearn.pipeline:Pipeline": lambda: _cls("sklearn.pipeline:Pipeline")(
        [("scale", _cls("sklearn.preprocessing:StandardScaler")()), ("model", _linear())]),
    "sklearn.pipeline:FeatureUnion": lambda: _cls("sklearn.pipeline:FeatureUnion")(
        [("scale", _cls("sklearn.preprocessing:StandardScaler")()), ("pca", _cls("sklearn.decomposition:PCA")(2))]),
    "sklearn.compose:ColumnTransformer": lambda: _cls("sklearn.compose:ColumnTransformer")(
        [("scale", _cls("sklearn.preprocessing:StandardScaler")(), [0, 1]),
         ("impute", _cls("sklearn.impute:SimpleImputer")(), [2])], remainder="passthrough"),
    "sklearn.decomposition:PCA": lambda: _cls("sklearn.decomposition:PCA")(2),
    "sklearn.decomposition:TruncatedSVD": lambda: _cls("sklearn.decomposition:TruncatedSVD")(2),
    "sklearn.feature_selection:SelectKBest": lambda: _cls("sklearn.feature_selection:SelectKBest")(k=2),
    "sklearn.calibration:CalibratedClassifierCV": lambda: _cls("sklearn.calibration:CalibratedClassifierCV")(
        _linear(), cv=2),
    "sklearn.multiclass:OneVsRestClassifier": lambda: _cls("sklearn.multiclass:OneVsRestClassifier")(_linear()),
    "sklearn.multiclass:OneVsOneClassifier": lambda: _cls("sklearn.multiclass:OneVsOneClassifier")(_linear()),
    "sklearn.neural_network:MLPClassifier": lambda: _cls("sklearn.neural_network:MLPClassifier")(
        hidden_layer_sizes=(3,), max_iter=20),
    "sklearn.neural_network:MLPRegressor": lambda: _cls("sklearn.neural_network:MLPRegressor")(
        hidden_layer_sizes=(3,), max_iter=20),
}
_REGRESSORS = {"LinearRegression", "Ridge", "Lasso", "ElasticNet", "SGDRegressor", "HuberRegressor",
               "BayesianRidge", "PoissonRegressor", "SVR", "LinearSVR", "NuSVR", "DummyRegressor"}


def fitted(public: str) -> Any:
    """The allowed class ``public`` fitted on the tiny dataset (transformers fitted without a target)."""
    import warnings

    estimator = _BUILDERS[public]() if public in _BUILDERS else _cls(public)()
    name = public.partition(":")[2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "LabelEncoder":
            return estimator.fit(Y_CLASS)
        target = Y_VALUE if name in _REGRESSORS or name.endswith("Regressor") else Y_CLASS
        if name == "PoissonRegressor":
            target = np.abs(target) + 0.1
        return estimator.fit(X, target)


ALL = ALLOWED_ESTIMATORS
