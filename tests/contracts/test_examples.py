import json

import pytest

from contracts import DecodeError, decode, encode
from contracts.examples import EXAMPLE_TYPES, example_bytes
from contracts.messages import Request


@pytest.mark.parametrize("name", sorted(EXAMPLE_TYPES))
def test_every_example_round_trips_unchanged(name):
    message = decode(EXAMPLE_TYPES[name], example_bytes(name))
    assert json.loads(encode(message)) == json.loads(example_bytes(name))


def test_wrong_shape_is_a_decode_error_naming_the_field():
    broken = json.loads(example_bytes("request"))
    broken["deadline_ms"] = "soon"
    with pytest.raises(DecodeError, match="deadline_ms"):
        decode(Request, json.dumps(broken))
    with pytest.raises(DecodeError):
        decode(Request, b"\xff not json")
