"""Structural checks of the decision trees inside a loaded skops model, before its first prediction.

scikit-learn's ``Tree`` walks its ``nodes`` array by the raw child and feature indices it holds, without
bounds checks: a crafted file whose tree points outside its arrays reads memory it does not own at the
first prediction (proven: a segfault, and the values read would come back as probabilities). skops
therefore does not trust ``sklearn.tree._tree.Tree`` by default; it is on our allow-list only because
every tree is checked here: children inside the array and after their parent (no cycle), features
inside the input width, one value row per node.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_LEAF = -1


def _reachable(root: Any) -> list[Any]:
    """Every object reachable from the loaded model once (estimators, lists, dicts, object arrays)."""
    found: list[Any] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        current = stack.pop()
        if id(current) in seen or current is None or isinstance(current, (str, bytes, int, float, bool)):
            continue
        seen.add(id(current))
        found.append(current)
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, (list, tuple, set, frozenset)):
            stack.extend(current)
        elif isinstance(current, np.ndarray):
            if current.dtype == object:
                stack.extend(current.ravel().tolist())
        elif hasattr(current, "__dict__"):
            stack.extend(vars(current).values())
    return found


def _trees(root: Any) -> list[Any]:
    """Every ``Tree`` reachable from the loaded model."""
    from sklearn.tree._tree import Tree

    return [found for found in _reachable(root) if isinstance(found, Tree)]


def tree_problem(tree: Any) -> str | None:
    """Why this tree cannot be walked safely, or None."""
    state = tree.__getstate__()
    nodes, values = state.get("nodes"), state.get("values")
    count = int(state.get("node_count", -1))
    if not isinstance(nodes, np.ndarray) or not isinstance(values, np.ndarray) or count < 1 or len(nodes) != count:
        return "its node arrays do not match its node count"
    if values.shape[0] != count:
        return "it has not one value row per node"
    left, right, feature = (nodes["left_child"].astype(np.int64), nodes["right_child"].astype(np.int64),
                            nodes["feature"].astype(np.int64))
    index = np.arange(count)
    leaf = (left == _LEAF) & (right == _LEAF)
    inner = ~leaf
    if not np.all((left[inner] > index[inner]) & (left[inner] < count)
                  & (right[inner] > index[inner]) & (right[inner] < count)):
        return "a node's child lies outside the tree or before the node"
    if not np.all((feature[inner] >= 0) & (feature[inner] < tree.n_features)):
        return "a node splits on a feature outside the input"
    return None


def width_problem(model: Any) -> str | None:
    """Why a tree could be fed a narrower input than its splits index, or None.

    A tree's own bound (``n_features``) comes from the file, like everything else. What the runner
    feeds is checked by scikit-learn against the *estimator's* ``n_features_in_`` (also from the file),
    and a forest or gradient boosting hands its validated input to its trees without checking again
    (``check_input=False``). So each tree must be exactly as wide as its estimator, and each member of
    an ensemble that shares its input (no per-member feature subsets) as wide as the ensemble.
    """
    from sklearn.tree._tree import Tree

    for owner in _objects(model):
        tree = getattr(owner, "tree_", None)
        if isinstance(tree, Tree) and getattr(owner, "n_features_in_", None) != tree.n_features:
            return (
                f"a {type(owner).__name__} says it takes {getattr(owner, 'n_features_in_', None)} features "
                f"but its tree {tree.n_features}"
            )
        members = getattr(owner, "estimators_", None)
        if members is None or hasattr(owner, "estimators_features_") or not hasattr(owner, "n_features_in_"):
            continue
        flat = members.ravel().tolist() if isinstance(members, np.ndarray) else list(members)
        for member in flat:
            if hasattr(member, "tree_") and getattr(member, "n_features_in_", None) != owner.n_features_in_:
                return (
                    f"a {type(owner).__name__} takes {owner.n_features_in_} features but one of its trees "
                    f"{getattr(member, 'n_features_in_', None)}"
                )
    return None


def _objects(root: Any) -> list[Any]:
    """Every estimator-like object (anything with attributes) reachable from the loaded model."""
    return [found for found in _reachable(root) if hasattr(found, "__dict__") and not isinstance(found, type)]


def trees_problem(model: Any) -> str | None:
    """The first tree problem in the loaded model, or None."""
    for position, tree in enumerate(_trees(model)):
        problem = tree_problem(tree)
        if problem:
            return f"decision tree #{position + 1} is malformed: {problem}"
    problem = width_problem(model)
    return f"decision trees are malformed: {problem}" if problem else None
