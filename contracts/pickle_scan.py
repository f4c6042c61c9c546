"""A static scan of a pickle/joblib artifact: what it would import and call, refused before anyone loads it.

Code formats are only accepted from tenants the operator trusts and only loaded by runners of trusted
pools (``contracts.formats``); this scan is the defence in depth in front of both the validator's
static check (the control plane never unpickles) and the trusted runner's load: a trusted tenant's
stolen account, or a model trained by someone else, must not fork-bomb the pool or open a shell.

The scan reads the opcodes with ``pickletools.genops`` (nothing is unpickled) and follows the stack
just enough to know the ``module.name`` behind every ``GLOBAL``/``STACK_GLOBAL``/``INST`` (a
``STACK_GLOBAL`` takes its two names from the strings pushed before it, directly or through the memo)
and to step over the raw array bytes joblib writes after each ``NumpyArrayWrapper``. A reference is
allowed only if it is a *class* defined under ``ALLOWED_MODULE_PREFIXES`` (outside the deny-list), one
of the vetted reconstruction functions, or a plain builtins type. Anything the scan cannot follow
(extension codes, persistent ids, out-of-band buffers, a name computed at load time) is refused too.
"""

from __future__ import annotations

import importlib
import io
import pickletools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

# Modules whose *classes* a scikit-learn-like estimator may reference (functions need VETTED_CALLABLES).
ALLOWED_MODULE_PREFIXES: tuple[str, ...] = ("sklearn", "numpy", "scipy")
# Known gadgets inside those libraries: modules that run code, spawn processes or touch files.
DENIED_MODULE_PREFIXES: tuple[str, ...] = (
    "numpy.testing", "numpy.f2py", "numpy.distutils", "numpy.ctypeslib", "numpy.lib.format",
    "numpy.lib.npyio", "numpy.lib._npyio_impl", "numpy.lib._datasource", "numpy.lib.utils", "numpy._pytesttester",
    "scipy.io", "scipy._lib", "scipy.datasets", "scipy.misc", "scipy.weave",
    "sklearn.datasets", "sklearn.utils._testing", "sklearn.utils._show_versions", "sklearn.externals",
    "sklearn.utils.parallel", "sklearn.utils._joblib",
)
DENIED_NAMES = frozenset({
    "memmap", "DataSource", "vectorize", "frompyfunc", "LowLevelCallable", "load", "loads", "save", "savez",
    "fromfile", "tofile", "loadtxt", "genfromtxt", "system", "runstring", "exec_command",
})
# Test suites shipped inside the libraries: never imported on a pickle's say-so.
_TEST_PARTS = frozenset({"tests", "conftest", "testing", "_testing", "_testutils"})
# Plain functions pickle/joblib/NumPy/Cython use to rebuild data, each read: they build the object
# from the values given and call nothing else.
VETTED_CALLABLES = frozenset({
    "copyreg._reconstructor",
    "_codecs.encode",
    "numpy._core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar",
    "numpy._core.numeric._frombuffer", "numpy.core.numeric._frombuffer",
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor",
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "collections.OrderedDict",
    # Cython helpers of scikit-learn's neighbour trees: ``return cls.__new__(cls)``.
    "sklearn.metrics._dist_metrics.newObj", "sklearn.neighbors._kd_tree.newObj", "sklearn.neighbors._ball_tree.newObj",
})
SAFE_BUILTINS = frozenset({
    "list", "dict", "set", "frozenset", "tuple", "int", "float", "complex", "bool", "str", "bytes",
    "bytearray", "slice", "range", "object",
})
# A Cython extension type pickles through a module function of this prefix that only restores state.
_CYTHON_UNPICKLE = "__pyx_unpickle_"
_JOBLIB_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
# Decompressed bytes scanned at most; a larger artifact is refused rather than scanned in part.
MAX_SCAN_BYTES = 4 << 30


class PickleRefused(ValueError):
    """The artifact cannot be shown safe; the message is the readable report."""


@dataclass(frozen=True, slots=True)
class _Global:
    name: str


@dataclass(slots=True)
class _Object:
    """Something the pickle would build by calling ``factory`` (a ``_Global`` or another object)."""

    factory: Any
    args: Any = None
    state: Any = None


@dataclass(slots=True)
class _Scan:
    references: set[str] = field(default_factory=set)


_MARK = object()


def reference_problem(name: str) -> str | None:
    """Why the pickle may not reference ``module.name`` (None: allowed)."""
    module_name, _, attribute = name.rpartition(".")
    if name in VETTED_CALLABLES:
        return None
    if module_name in ("builtins", "__builtin__"):  # protocol 2 writes Python 2's name
        return None if attribute in SAFE_BUILTINS else "a builtin that can run code or touch the system"
    top = module_name.split(".")[0]
    if top not in ALLOWED_MODULE_PREFIXES:
        return f"module {module_name!r} is not scikit-learn, NumPy or SciPy"
    if any(module_name == p or module_name.startswith(p + ".") for p in DENIED_MODULE_PREFIXES):
        return f"module {module_name!r} can run code or read files"
    if _TEST_PARTS & set(module_name.split(".")):
        return f"module {module_name!r} is test code"
    if attribute in DENIED_NAMES:
        return "a known code-running or file-reading gadget"
    if attribute.startswith(_CYTHON_UNPICKLE):
        return None
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except Exception:  # ImportError, AttributeError, or a module failing at import
        return "it does not exist in the installed libraries"
    if not isinstance(found, type):
        return "a function (only classes and a few vetted reconstruction functions may be referenced)"
    return None


def scan_stream(stream: IO[bytes]) -> set[str]:
    """The ``module.name`` references of one pickle read from ``stream``; PickleRefused if it cannot be followed."""
    scan = _Scan()
    _scan_one(stream, scan)
    return scan.references


def _scan_one(stream: IO[bytes], scan: _Scan) -> None:  # noqa: C901, PLR0912, PLR0915 - one opcode switch
    stack: list[Any] = []
    memo: dict[int, Any] = {}

    def pop_to_mark() -> list[Any]:
        for index in range(len(stack) - 1, -1, -1):
            if stack[index] is _MARK:
                items = stack[index + 1:]
                del stack[index:]
                return items
        raise PickleRefused("malformed pickle: MARK missing")

    def pop() -> Any:
        if not stack:
            raise PickleRefused("malformed pickle: stack underflow")
        return stack.pop()

    def reference(name: str) -> _Global:
        scan.references.add(name)
        return _Global(name)

    try:
        for opcode, arg, _position in pickletools.genops(stream):
            name = opcode.name
            if name in ("PROTO", "FRAME"):
                continue
            if name == "STOP":
                return
            if name == "MARK":
                stack.append(_MARK)
            elif name in ("NONE",):
                stack.append(None)
            elif name in ("NEWTRUE", "NEWFALSE"):
                stack.append(name == "NEWTRUE")
            elif name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
                          "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
                          "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"):
                stack.append(arg)
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name in ("EMPTY_LIST",):
                stack.append([])
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "EMPTY_SET":
                stack.append(set())
            elif name == "TUPLE":
                stack.append(tuple(pop_to_mark()))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                count = int(name[-1])
                items = [pop() for _ in range(count)][::-1]
                stack.append(tuple(items))
            elif name == "LIST":
                stack.append(pop_to_mark())
            elif name == "DICT":
                items = pop_to_mark()
                stack.append(_pairs(items))
            elif name == "FROZENSET":
                stack.append(tuple(pop_to_mark()))
            elif name == "APPEND":
                value = pop()
                _extend(stack, [value])
            elif name in ("APPENDS", "ADDITEMS"):
                values = pop_to_mark()
                _extend(stack, values)
            elif name == "SETITEM":
                value, key = pop(), pop()
                _setitems(stack, {_key(key): value})
            elif name == "SETITEMS":
                _setitems(stack, _pairs(pop_to_mark()))
            elif name == "POP":
                pop()
            elif name == "POP_MARK":
                pop_to_mark()
            elif name == "DUP":
                stack.append(stack[-1] if stack else pop())
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = stack[-1] if stack else pop()
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else pop()
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                if int(arg) not in memo:
                    raise PickleRefused("malformed pickle: memo key missing")
                stack.append(memo[int(arg)])
            elif name == "GLOBAL":
                module_name, _, attribute = str(arg).partition(" ")
                stack.append(reference(f"{module_name}.{attribute}"))
            elif name == "STACK_GLOBAL":
                attribute, module_name = pop(), pop()
                if not (isinstance(attribute, str) and isinstance(module_name, str)):
                    raise PickleRefused("STACK_GLOBAL with a name computed while loading: cannot be checked")
                stack.append(reference(f"{module_name}.{attribute}"))
            elif name == "INST":
                module_name, _, attribute = str(arg).partition(" ")
                stack.append(_Object(reference(f"{module_name}.{attribute}"), tuple(pop_to_mark())))
            elif name == "OBJ":
                items = pop_to_mark()
                if not items:
                    raise PickleRefused("malformed pickle: OBJ without a class")
                stack.append(_Object(items[0], tuple(items[1:])))
            elif name in ("REDUCE", "NEWOBJ"):
                args, factory = pop(), pop()
                stack.append(_Object(factory, args))
            elif name == "NEWOBJ_EX":
                _kwargs, args, factory = pop(), pop(), pop()
                stack.append(_Object(factory, args))
            elif name == "BUILD":
                state = pop()
                target = stack[-1] if stack else pop()
                if isinstance(target, _Object):
                    target.state = state
                    if isinstance(target.factory, _Global) and target.factory.name == _JOBLIB_WRAPPER:
                        stack.pop()
                        _skip_joblib_array(stream, state, scan)
                        stack.append(_Object(_Global("numpy.ndarray")))
            else:  # EXT1/2/4, PERSID, BINPERSID, NEXT_BUFFER, READONLY_BUFFER, and anything new
                raise PickleRefused(f"opcode {name} cannot be checked statically")
    except PickleRefused:
        raise
    except (ValueError, EOFError, IndexError, TypeError) as exc:
        raise PickleRefused(f"not a readable pickle: {exc}") from exc
    raise PickleRefused("not a readable pickle: it ends without STOP")


def _key(key: Any) -> Any:
    return key if isinstance(key, (str, int, float, bool, bytes, type(None))) else id(key)


def _pairs(items: list[Any]) -> dict[Any, Any]:
    return {_key(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


def _extend(stack: list[Any], values: list[Any]) -> None:
    if stack and isinstance(stack[-1], list):
        stack[-1].extend(values)


def _setitems(stack: list[Any], pairs: dict[Any, Any]) -> None:
    if stack and isinstance(stack[-1], dict):
        stack[-1].update(pairs)


def _skip_joblib_array(stream: IO[bytes], state: Any, scan: _Scan) -> None:
    """Step over the array bytes joblib writes right after a NumpyArrayWrapper (a nested pickle if objects)."""
    import numpy as np

    if not isinstance(state, dict):
        raise PickleRefused("a joblib array wrapper without its attributes")
    dtype_object, shape = state.get("dtype"), state.get("shape")
    if not (isinstance(dtype_object, _Object) and isinstance(dtype_object.args, tuple) and dtype_object.args
            and isinstance(dtype_object.args[0], str)) or not isinstance(shape, tuple):
        raise PickleRefused("a joblib array wrapper whose dtype or shape cannot be read statically")
    try:
        dtype = np.dtype(dtype_object.args[0])
    except TypeError as exc:
        raise PickleRefused(f"a joblib array with an unknown dtype {dtype_object.args[0]!r}") from exc
    if dtype.hasobject:
        _scan_one(stream, scan)  # object arrays are a nested pickle, scanned like the outer one
        return
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise PickleRefused("a joblib array with an invalid shape")
    if state.get("numpy_array_alignment_bytes") is not None:
        padding = stream.read(1)
        if len(padding) != 1:
            raise PickleRefused("not a readable joblib file: it ends inside an array")
        _read_exactly(stream, padding[0])
    count = 1
    for n in shape:
        count *= n
    _read_exactly(stream, count * dtype.itemsize)


def _read_exactly(stream: IO[bytes], size: int) -> None:
    remaining = size
    while remaining:
        chunk = stream.read(min(remaining, 1 << 24))
        if not chunk:
            raise PickleRefused("not a readable joblib file: it ends inside an array")
        remaining -= len(chunk)


@contextmanager
def _opened(path: Path) -> Iterator[IO[bytes]]:
    """The decompressed stream of a pickle or of a joblib file (joblib compresses the whole stream)."""
    with path.open("rb") as raw:
        head = raw.read(6)
    if head.startswith(b"\x1f\x8b"):
        import gzip

        opener: Any = gzip.open
    elif head.startswith(b"BZh"):
        import bz2

        opener = bz2.open
    elif head.startswith((b"\xfd7zXZ\x00", b"\x5d\x00\x00")):
        import lzma

        opener = lzma.open
    elif head[:1] == b"\x78":
        from joblib.compressor import BinaryZlibFile

        opener = BinaryZlibFile
    elif head.startswith(b"\x04\x22\x4d\x18"):
        raise PickleRefused("lz4-compressed joblib files are not scanned: save with zlib, gzip, bz2 or lzma")
    else:
        opener = open
    with opener(str(path), "rb") as stream:
        yield _Bounded(stream)


class _Bounded(io.RawIOBase):
    """A read-only view that refuses to go past ``MAX_SCAN_BYTES`` (a decompression bomb)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner, self._read = inner, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size if size >= 0 else MAX_SCAN_BYTES + 1 - self._read)
        self._read += len(data)
        if self._read > MAX_SCAN_BYTES:
            raise PickleRefused(f"more than {MAX_SCAN_BYTES >> 20} MiB once decompressed: not scanned")
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = self._inner.readline()
        self._read += len(data)
        return data

    def tell(self) -> int:
        return self._read


def pickle_file_refusals(path: Path) -> list[str]:
    """What the artifact would import that it may not, one readable entry each (empty: nothing refused).

    Raises PickleRefused when the file cannot be followed at all (not a pickle, unknown opcode, ...).
    """
    with _opened(path) as stream:
        references = scan_stream(stream)
    refused = []
    for name in sorted(references):
        problem = reference_problem(name)
        if problem:
            refused.append(f"{name} ({problem})")
    return refused


def pickle_report(refused: list[str], *, limit: int = 10) -> str:
    shown = "; ".join(refused[:limit]) + (f"; and {len(refused) - limit} more" if len(refused) > limit else "")
    return f"the pickle references what a model may not: {shown}"
