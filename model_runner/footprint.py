"""How much memory a loaded model holds, for the runner's memory budget.

Method: the sum of ``sys.getsizeof`` over the object graph reachable from the loaded model, skipping
what it shares with the rest of the process (classes, modules, functions, code). NumPy arrays count
their data buffer (``getsizeof`` includes it for arrays that own their data; views count their base),
and Cython objects of scikit-learn that hide their buffers from the garbage collector (the trees of a
forest) count the arrays their ``__getstate__`` exposes. Native memory outside Python's view (an
ONNX Runtime session) is estimated by the artifact's size, which the caller adds.

Why not tracemalloc or an RSS delta around the load: both are process-wide, so with loads on two
threads and the scoring loop allocating next to them they would charge a model for its neighbours'
allocations, and tracemalloc slows every allocation of the hot path while it runs. The graph walk is
per model, costs a few milliseconds for a 50-tree forest, and the benchmark cross-checks its total
against the runner's RSS (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import gc
import sys
import types
from typing import Any

import numpy as np

_SHARED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType,
           types.MethodType, types.MethodWrapperType, types.WrapperDescriptorType)
_MAX_OBJECTS = 2_000_000


def deep_size(root: Any) -> int:
    """Bytes held by ``root`` and everything it reaches that is not shared process-wide."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack and len(seen) < _MAX_OBJECTS:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SHARED) or obj is None:
            continue
        seen.add(id(obj))
        try:
            total += sys.getsizeof(obj)
        except TypeError:
            continue
        if isinstance(obj, np.ndarray):
            if obj.base is not None:
                stack.append(obj.base)
            if obj.dtype.hasobject:
                stack.extend(obj.ravel().tolist())
            continue
        referents = gc.get_referents(obj)
        if not referents and _hides_buffers(obj):
            with contextlib.suppress(Exception):  # a best-effort estimate, never a load failure
                stack.append(obj.__getstate__())
        stack.extend(referents)
    return total


def _hides_buffers(obj: Any) -> bool:
    module = type(obj).__module__ or ""
    return module.startswith("sklearn.") and not hasattr(obj, "__dict__") and hasattr(obj, "__getstate__")
