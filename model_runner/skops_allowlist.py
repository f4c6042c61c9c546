"""The classes a ``skops`` artifact may contain, and the audit of a file against them (issue 14).

skops checks a file against *its* trusted types plus the ones the caller passes, and trusts a lot by
default without reporting it to ``get_untrusted_types``: every scikit-learn estimator (including
``FunctionTransformer``, whose ``func`` is called at prediction), every NumPy/SciPy ufunc as a
function, builtins types. A caller that trusts whatever ``get_untrusted_types`` reports under a
``sklearn.``/``numpy.`` prefix therefore loads a Pipeline of ``FunctionTransformer``s ending in
``numpy.testing._private.utils.runstring``: arbitrary Python at the first prediction.

So this module audits the file's schema itself, node by node, before skops sees it: every node's
loader must be one of ``ALLOWED_LOADERS`` (no functions, methods, partials, ``operator`` getters) and
every type it names must be in the explicit allow-list below — named classes, never a prefix. The
audit's findings and skops' own report must both be empty for the file to load; the runner and the
validator (which runs the runner's ``load_model``) share this one list.

``tests/model_runner/test_skops_allowlist.py`` trains each allowed estimator, saves it with skops and
loads it through ``load_model``: the list is proven complete for the installed scikit-learn.
"""

from __future__ import annotations

import importlib
import json
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

# Public scikit-learn estimators and transformers a tenant may upload as skops (``module:Class``).
# Not here on purpose: FunctionTransformer (calls any function; allowed only as the identity),
# KNeighbors* (their KD/ball trees index raw arrays from the file without bounds checks, like ``Tree``,
# but unchecked here: export them to ONNX), SVC/SVR/NuSVC/NuSVR (libsvm indexes its support vectors,
# dual coefficients and class arrays by counts read from the file, unchecked: ONNX too; LinearSVC/LinearSVR
# are plain coefficients and stay), HistGradientBoosting* (skops itself refuses its predictor for the
# same reason). ``sklearn.tree._tree.Tree`` is allowed because ``tree_check`` vets every tree.
ALLOWED_ESTIMATORS: tuple[str, ...] = (
    "sklearn.linear_model:LogisticRegression",
    "sklearn.linear_model:LinearRegression",
    "sklearn.linear_model:Ridge",
    "sklearn.linear_model:RidgeClassifier",
    "sklearn.linear_model:Lasso",
    "sklearn.linear_model:ElasticNet",
    "sklearn.linear_model:SGDClassifier",
    "sklearn.linear_model:SGDRegressor",
    "sklearn.linear_model:HuberRegressor",
    "sklearn.linear_model:BayesianRidge",
    "sklearn.linear_model:PoissonRegressor",
    "sklearn.linear_model:Perceptron",
    "sklearn.ensemble:RandomForestClassifier",
    "sklearn.ensemble:RandomForestRegressor",
    "sklearn.ensemble:ExtraTreesClassifier",
    "sklearn.ensemble:ExtraTreesRegressor",
    "sklearn.ensemble:GradientBoostingClassifier",
    "sklearn.ensemble:GradientBoostingRegressor",
    "sklearn.ensemble:AdaBoostClassifier",
    "sklearn.ensemble:AdaBoostRegressor",
    "sklearn.ensemble:BaggingClassifier",
    "sklearn.ensemble:BaggingRegressor",
    "sklearn.ensemble:VotingClassifier",
    "sklearn.ensemble:VotingRegressor",
    "sklearn.ensemble:StackingClassifier",
    "sklearn.ensemble:StackingRegressor",
    "sklearn.tree:DecisionTreeClassifier",
    "sklearn.tree:DecisionTreeRegressor",
    "sklearn.tree:ExtraTreeClassifier",
    "sklearn.tree:ExtraTreeRegressor",
    "sklearn.svm:LinearSVC",
    "sklearn.svm:LinearSVR",
    "sklearn.neighbors:NearestCentroid",
    "sklearn.naive_bayes:GaussianNB",
    "sklearn.naive_bayes:MultinomialNB",
    "sklearn.naive_bayes:BernoulliNB",
    "sklearn.naive_bayes:ComplementNB",
    "sklearn.preprocessing:StandardScaler",
    "sklearn.preprocessing:MinMaxScaler",
    "sklearn.preprocessing:MaxAbsScaler",
    "sklearn.preprocessing:RobustScaler",
    "sklearn.preprocessing:Normalizer",
    "sklearn.preprocessing:Binarizer",
    "sklearn.preprocessing:OneHotEncoder",
    "sklearn.preprocessing:OrdinalEncoder",
    "sklearn.preprocessing:PolynomialFeatures",
    "sklearn.preprocessing:QuantileTransformer",
    "sklearn.preprocessing:PowerTransformer",
    "sklearn.preprocessing:KBinsDiscretizer",
    "sklearn.preprocessing:LabelEncoder",
    "sklearn.pipeline:Pipeline",
    "sklearn.pipeline:FeatureUnion",
    "sklearn.compose:ColumnTransformer",
    "sklearn.impute:SimpleImputer",
    "sklearn.impute:MissingIndicator",
    "sklearn.decomposition:PCA",
    "sklearn.decomposition:TruncatedSVD",
    "sklearn.feature_selection:VarianceThreshold",
    "sklearn.feature_selection:SelectKBest",
    "sklearn.feature_selection:SelectPercentile",
    "sklearn.calibration:CalibratedClassifierCV",
    "sklearn.discriminant_analysis:LinearDiscriminantAnalysis",
    "sklearn.discriminant_analysis:QuadraticDiscriminantAnalysis",
    "sklearn.multiclass:OneVsRestClassifier",
    "sklearn.multiclass:OneVsOneClassifier",
    "sklearn.neural_network:MLPClassifier",
    "sklearn.neural_network:MLPRegressor",
    "sklearn.dummy:DummyClassifier",
    "sklearn.dummy:DummyRegressor",
)

# Internal objects the estimators above hold once fitted, found by saving each one (see the test).
ALLOWED_INTERNALS: tuple[str, ...] = (
    "sklearn.tree._tree:Tree",
    "sklearn.calibration:_CalibratedClassifier",
    "sklearn.calibration:_SigmoidCalibration",
    "sklearn.preprocessing:LabelBinarizer",
    "sklearn.preprocessing:FunctionTransformer",  # only as the identity: see _IDENTITY_ONLY
    "sklearn.linear_model:RidgeCV",
    "sklearn.utils:Bunch",
    "sklearn._loss.loss:HalfBinomialLoss",
    "sklearn._loss.loss:HalfMultinomialLoss",
    "sklearn._loss.loss:HalfPoissonLoss",
    "sklearn._loss.loss:HalfSquaredError",
    "sklearn._loss._loss:CyHalfBinomialLoss",
    "sklearn._loss._loss:CyHalfMultinomialLoss",
    "sklearn._loss._loss:CyHalfPoissonLoss",
    "sklearn._loss._loss:CyHalfSquaredError",
    "sklearn._loss.link:IdentityLink",
    "sklearn._loss.link:LogLink",
    "sklearn._loss.link:LogitLink",
    "sklearn._loss.link:MultinomialLogit",
    "sklearn._loss.link:Interval",
    "sklearn.linear_model._sgd_fast:Hinge",
    "sklearn.linear_model._sgd_fast:ModifiedHuber",
    "sklearn.linear_model._sgd_fast:SquaredHinge",
    "sklearn.linear_model._sgd_fast:EpsilonInsensitive",
    "sklearn.linear_model._sgd_fast:SquaredEpsilonInsensitive",
    "sklearn.neural_network._stochastic_optimizers:AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers:SGDOptimizer",
    "numpy:ndarray",
    "numpy:dtype",
    "numpy.random:RandomState",
    "numpy.random:MT19937",
    "numpy.random:PCG64",
    "numpy.random:Generator",
    "scipy.sparse:csr_matrix",
    "scipy.sparse:csc_matrix",
)

# Functions an allowed estimator keeps as a hyper-parameter, each read and found to only compute
# statistics on its arguments; none is called at prediction time.
ALLOWED_FUNCTIONS: tuple[str, ...] = (
    "sklearn.feature_selection:f_classif",
    "sklearn.feature_selection:f_regression",
    "sklearn.feature_selection:chi2",
)

# Plain values and containers, and NumPy's scalar types (what dtypes and numbers are saved as).
_BUILTIN_TYPES = frozenset(
    f"builtins.{name}" for name in ("int", "float", "str", "bool", "complex", "list", "tuple", "dict", "set",
                                    "frozenset", "slice", "bytes", "bytearray", "NoneType")
) | {"collections.OrderedDict"}

# skops node kinds the audit accepts. Refused: FunctionNode (except ``ALLOWED_FUNCTIONS``),
# MethodNode, PartialNode, OperatorFuncNode (attrgetter/methodcaller are getattr gadgets),
# DefaultDictNode (its factory is called), and any loader this version does not know.
ALLOWED_LOADERS = frozenset({
    "DictNode", "ListNode", "SetNode", "TupleNode", "JsonNode", "BytesNode", "BytearrayNode", "SliceNode",
    "ObjectNode", "ConstructorFromReduceNode", "TypeNode", "CachedNode", "FunctionNode",
    "NdArrayNode", "DTypeNode", "RandomStateNode", "SparseMatrixNode", "TreeNode", "LossNode",
})
# Not accepted either: RandomGeneratorNode calls a class it names inside its *content* (a plain string
# the type audit cannot see) and no allowed estimator saves a Generator; MaskedArrayNode is not needed.
# Loaders that build one specific kind of object: the node's type must be one of these prefixes' types.
_LOADER_TYPE_PREFIXES: dict[str, tuple[str, ...]] = {
    "NdArrayNode": ("numpy.",),
    "DTypeNode": ("numpy.dtype",),
    "RandomStateNode": ("numpy.random.mtrand.RandomState",),
    "SparseMatrixNode": ("scipy.sparse.",),
    "TreeNode": ("sklearn.tree._tree.Tree",),
    "LossNode": ("sklearn._loss.", "sklearn.linear_model._sgd_fast."),
}
# Where a loader may only name one kind of thing (a function, or a plain value), say which.
_FUNCTION_LOADERS = frozenset({"FunctionNode"})
_PLAIN_LOADERS = frozenset({"JsonNode", "DictNode", "ListNode", "SetNode", "TupleNode", "BytesNode",
                            "BytearrayNode", "SliceNode"})
# A dict subclass scikit-learn saves as a plain dict node (attribute access to its keys, nothing more).
_DICT_SUBCLASSES = frozenset({"sklearn.utils._bunch.Bunch"})
# Allowed only with these hyper-parameters set to None: ColumnTransformer's ``remainder="passthrough"``
# is a FunctionTransformer without a function (the identity); with one it would call anything.
_IDENTITY_ONLY = {"sklearn.preprocessing._function_transformer.FunctionTransformer": ("func", "inverse_func")}


def _qualified(public: str) -> str:
    """``sklearn.linear_model:LogisticRegression`` → the ``module.Class`` skops writes for it."""
    module_name, _, attribute = public.partition(":")
    found: Any = getattr(importlib.import_module(module_name), attribute)
    return f"{found.__module__}.{found.__qualname__}"


@lru_cache(maxsize=1)
def allowed_types() -> frozenset[str]:
    """Every ``module.Class`` a node may name (functions excluded), resolved for the installed libraries."""
    import numpy as np

    names = {_qualified(public) for public in ALLOWED_ESTIMATORS + ALLOWED_INTERNALS}
    scalars = {f"{t.__module__}.{t.__qualname__}" for t in set(np.sctypeDict.values())}
    dtype_classes = {f"{type(np.dtype(t)).__module__}.{type(np.dtype(t)).__qualname__}"
                     for t in set(np.sctypeDict.values())}
    return frozenset(names | scalars | dtype_classes | _BUILTIN_TYPES)


@lru_cache(maxsize=1)
def allowed_functions() -> frozenset[str]:
    return frozenset(_qualified(public) for public in ALLOWED_FUNCTIONS)


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every node of the schema: any JSON object carrying a ``__loader__``, however deeply nested."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            if "__loader__" in current:
                yield current
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def schema_refusals(schema: Any) -> list[str]:
    """What in a skops schema is not allowed, one readable entry per distinct problem (empty: allowed)."""
    types, functions = allowed_types(), allowed_functions()
    refused: set[str] = set()
    for node in _nodes(schema):
        loader = node.get("__loader__")
        if loader not in ALLOWED_LOADERS:
            refused.add(f"{loader} (a {node.get('__module__')}.{node.get('__class__')} kind of object skops "
                        "rebuilds by calling code)")
            continue
        if loader == "CachedNode":
            continue  # a reference to a node audited where it first appears
        name = f"{node.get('__module__')}.{node.get('__class__')}"
        if loader in _FUNCTION_LOADERS:
            if name not in functions:
                refused.add(f"function {name}")
        elif loader in _PLAIN_LOADERS:
            if name not in _BUILTIN_TYPES and not (loader == "DictNode" and name in _DICT_SUBCLASSES):
                refused.add(f"{name} stored as {loader}")
        elif name not in types:
            refused.add(name)
        elif not name.startswith(_LOADER_TYPE_PREFIXES.get(loader, ("",))):
            refused.add(f"{name} stored as {loader}")
        elif name in _IDENTITY_ONLY and not _parameters_are_none(node, _IDENTITY_ONLY[name]):
            refused.add(f"{name} with a function ({' or '.join(_IDENTITY_ONLY[name])} set): it would call it")
    return sorted(refused)


def _parameters_are_none(node: dict[str, Any], names: tuple[str, ...]) -> bool:
    """True if the object node's saved attributes hold ``None`` (a JSON ``null``) for each of ``names``."""
    attributes = node.get("content")
    if not isinstance(attributes, dict) or attributes.get("__loader__") != "DictNode":
        return False
    values = attributes.get("content")
    if not isinstance(values, dict):
        return False
    for name in names:
        value = values.get(name)
        if not (isinstance(value, dict) and value.get("__loader__") == "JsonNode" and value.get("content") == "null"):
            return False
    return True


def skops_file_refusals(path: Path) -> list[str]:
    """Audit the file's ``schema.json`` without loading anything; raises ValueError if it is unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"no readable schema.json: {exc}") from exc
    return schema_refusals(schema)
