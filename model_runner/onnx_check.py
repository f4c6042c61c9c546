"""What an ONNX artifact may not contain, checked before ONNX Runtime opens it (issue 14).

An artifact is one file. ONNX lets a tensor keep its bytes in an *external* file named by a relative
path (``data_location: EXTERNAL``, ``external_data: location=...``): ONNX Runtime would open that path
next to the model — ``../``, a sibling artifact, or any file the process can read — and serve its bytes
as weights. So external data is refused outright, wherever a tensor sits (initializers, sparse
initializers, ``Constant`` attributes, subgraphs of ``If``/``Loop``/``Scan``, local functions).

Also refused: ``EPContext`` nodes (they may name a pre-compiled blob file for an execution provider)
and an ``ort_config`` metadata entry (session options ONNX Runtime reads from the model when the
environment sets ``ORT_LOAD_CONFIG_FROM_MODEL=1``; runners never set it). Custom-op libraries are only
loaded when the caller registers them on the session options, which ``load_model`` never does, and
only the CPU execution provider is enabled.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

REFUSED_OP_TYPES = frozenset({"EPContext"})
REFUSED_METADATA_KEYS = frozenset({"ort_config"})


def _messages(message: Any) -> Iterator[Any]:
    """The message and every protobuf message nested in it, depth first."""
    stack = [message]
    while stack:
        current = stack.pop()
        yield current
        for field, value in current.ListFields():
            if field.type != field.TYPE_MESSAGE:
                continue
            if hasattr(value, "ListFields"):  # one message; otherwise a repeated field of messages
                stack.append(value)
            else:
                stack.extend(value)


def onnx_refusals(model: Any) -> list[str]:
    """Why a parsed ``onnx.ModelProto`` may not be loaded, one readable entry per problem (empty: fine)."""
    from onnx import NodeProto, TensorProto

    refused: list[str] = []
    for message in _messages(model):
        if isinstance(message, TensorProto) and (
            message.data_location == TensorProto.EXTERNAL or len(message.external_data)
        ):
            location = next((entry.value for entry in message.external_data if entry.key == "location"), "?")
            refused.append(f"tensor {message.name or '(unnamed)'!r} keeps its data in an external file "
                           f"{location!r}; an artifact must be a single file (save with all tensors inside)")
        elif isinstance(message, NodeProto) and message.op_type in REFUSED_OP_TYPES:
            refused.append(f"node {message.name or '(unnamed)'!r} is an {message.op_type} node, which may name "
                           "a file outside the artifact")
    keys = {entry.key for entry in model.metadata_props} & REFUSED_METADATA_KEYS
    refused.extend(f"metadata {key!r} would configure the runtime's session" for key in sorted(keys))
    return refused


def onnx_file_refusals(path: Path) -> list[str]:
    """Parse the file (without following external data) and audit it; ValueError if it is not ONNX."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise ValueError(f"not a readable ONNX model: {exc}") from exc
    return onnx_refusals(model)
