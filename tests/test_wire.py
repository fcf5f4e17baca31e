"""Tests for autograder/wire.py: the codec for values crossing the sandbox boundary."""
import json
import pickle
import struct

import numpy as np
import pytest

from autograder.wire import Remote, WireError, decode, encode


def roundtrip(value, **kw):
    return decode(encode(value, **kw))


def message(head, sizes=(), blobs=b""):
    """A hand-made message: what a misbehaving student process could send."""
    h, m = json.dumps(head).encode(), json.dumps(list(sizes)).encode()
    return struct.pack("<II", len(h), len(m)) + h + m + blobs


class Box:
    """Not plain data."""


def handles():
    """A to_remote that records what it was given, like the student process does."""
    seen = []

    def to_remote(obj):
        seen.append(obj)
        return Remote(len(seen), type(obj).__name__)
    return to_remote, seen


# --------------------------------------------------------------------------- round trips

ARRAYS = {
    "f8 2x3": np.arange(6.0).reshape(2, 3) / 7,
    "f8 3-d": np.linspace(-1, 1, 24).reshape(2, 3, 4),
    "f4": np.array([1.5, -2.25], dtype=np.float32),
    "i8": np.array([-(2**62), 0, 2**62]),
    "i4 column": np.arange(5, dtype=np.int32).reshape(5, 1),
    "u1": np.array([0, 255], dtype=np.uint8),
    "bool": np.array([[True, False], [False, True]]),
    "empty": np.zeros((0, 3)),
    "empty int": np.zeros((2, 0), dtype=np.int64),
    "big-endian": np.array([1.0, 2.0], dtype=">f8"),
    "transposed": np.arange(12.0).reshape(3, 4).T,
    "strided": np.arange(10.0)[::3],
    "0-d": np.array(3.5),
}


@pytest.mark.parametrize("a", ARRAYS.values(), ids=ARRAYS.keys())
def test_array_roundtrip(a):
    """Numeric arrays come back with the same values, shape and (native) dtype."""
    b = roundtrip(a)
    assert type(b) is np.ndarray
    assert b.shape == a.shape
    assert b.dtype == a.dtype.newbyteorder("=")
    np.testing.assert_array_equal(b, a)


def test_decoded_array_is_writable():
    """A decoded array is an ordinary array the grader can modify."""
    b = roundtrip(np.zeros(3))
    b[0] = 1.0
    assert b.tolist() == [1.0, 0.0, 0.0]


def test_numpy_scalar_keeps_its_shape():
    """A numpy scalar (e.g. a loss from np.sum) comes back 0-d, not as a 1-element array."""
    b = roundtrip(np.float64(2.5))
    assert np.shape(b) == () and b == 2.5


def test_array_subclass_arrives_as_plain_array():
    """An ndarray subclass is sent as the plain array it holds."""
    class Sub(np.ndarray):
        pass
    b = roundtrip(np.arange(3.0).view(Sub))
    assert type(b) is np.ndarray and b.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("value", [None, True, False, "héllo", "", 0, -7, 2**100, 1.5,
                                   -0.0, float("inf"), 1e-300])
def test_scalar_roundtrip(value):
    """None, bools, strings, ints (any size) and floats come back equal and of the same type."""
    b = roundtrip(value)
    assert type(b) is type(value) and b == value


def test_nan_roundtrip():
    """NaN survives the trip (as a float)."""
    b = roundtrip(float("nan"))
    assert type(b) is float and b != b


def test_nested_containers_keep_their_types():
    """Tuples stay tuples, lists stay lists, dicts keep their keys, arrays inside survive."""
    value = ("ok", (1, [2.0, (None, True)]), {"cache": (np.eye(2), [np.arange(3)]), "n": {}},
             [], ())
    b = roundtrip(value)
    assert type(b) is tuple and type(b[1]) is tuple and type(b[1][1]) is list
    assert type(b[1][1][1]) is tuple and b[1] == (1, [2.0, (None, True)])
    assert b[2].keys() == {"cache", "n"} and b[2]["n"] == {}
    assert type(b[2]["cache"]) is tuple
    np.testing.assert_array_equal(b[2]["cache"][0], np.eye(2))
    np.testing.assert_array_equal(b[2]["cache"][1][0], np.arange(3))
    assert b[3] == [] and b[4] == ()


def test_too_deep_nesting_is_refused():
    """A value nested deeper than MAX_DEPTH is refused rather than recursed into."""
    value = []
    for _ in range(40):
        value = [value]
    with pytest.raises(WireError):
        encode(value)


# --------------------------------------------------------------------------- remote handles

@pytest.mark.parametrize("value", [Box(), {1: "int key"}, {1, 2}, 1j, b"bytes", print])
def test_non_plain_data_refused_without_to_remote(value):
    """Objects that are not plain data cannot be encoded without a to_remote."""
    with pytest.raises(WireError):
        encode(value)


def test_non_plain_data_becomes_remote_with_to_remote():
    """With to_remote, an object stays behind and a Remote handle is sent in its place."""
    to_remote, seen = handles()
    box = Box()
    b = roundtrip((np.ones(2), box, {"k": {3: 4}}), to_remote=to_remote)
    assert seen == [box, {3: 4}]
    assert b[1] == Remote(1, "Box") and b[2]["k"] == Remote(2, "dict")
    assert repr(b[1]) == "<Box object>"
    np.testing.assert_array_equal(b[0], np.ones(2))


def test_plain_data_is_never_sent_as_remote():
    """to_remote is not consulted for plain data."""
    to_remote, seen = handles()
    roundtrip((1, 2.0, "s", None, [np.zeros(2)], {"a": True}), to_remote=to_remote)
    assert seen == []


def test_remote_handle_roundtrips_as_itself():
    """A Remote passed back to the student process (e.g. a cache) is sent as the handle."""
    assert roundtrip([Remote(5, "Cache")]) == [Remote(5, "Cache")]


@pytest.mark.parametrize("a", [np.array([Box()], dtype=object), np.array(["text"]),
                               np.array([1 + 2j])], ids=["object", "str", "complex"])
def test_non_numeric_arrays_are_refused(a):
    """Object, string and complex arrays are not sent as data."""
    with pytest.raises(WireError):
        encode(a)


def test_object_array_becomes_remote_with_to_remote():
    """With to_remote, an object array stays behind as a Remote like any other object."""
    to_remote, seen = handles()
    b = roundtrip(np.array([Box()], dtype=object), to_remote=to_remote)
    assert isinstance(b, Remote) and len(seen) == 1


# --------------------------------------------------------------------------- hostile input

def test_garbage_bytes_are_refused():
    """Random bytes, too-short input and a broken header are WireErrors."""
    for data in (b"", b"abc", bytes(range(64)), b"\xff" * 32,
                 struct.pack("<II", 5, 2) + b"hello[]"):
        with pytest.raises(WireError):
            decode(data)


def test_truncated_message_is_refused():
    """A message cut short anywhere (header or array bytes) is a WireError."""
    data = encode(("ok", np.arange(10.0), {"x": [1, 2]}))
    for cut in (1, 9, 20, len(data) - 1):
        with pytest.raises(WireError):
            decode(data[:cut])


def test_trailing_bytes_are_refused():
    """Extra bytes after the declared arrays are a WireError."""
    with pytest.raises(WireError):
        decode(encode(np.zeros(2)) + b"\x00")


def test_message_above_max_bytes_is_refused():
    """A message over max_bytes is refused before it is parsed."""
    data = encode(np.zeros(1000))
    assert decode(data, max_bytes=len(data)).shape == (1000,)
    with pytest.raises(WireError, match="too large"):
        decode(data, max_bytes=len(data) - 1)


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_payload_is_refused_and_not_run(tmp_path):
    """A pickle, raw or placed where the header goes, is refused and never executed."""
    marker = tmp_path / "ran.txt"
    payload = pickle.dumps(Evil(marker))
    for data in (payload, struct.pack("<II", len(payload), 2) + payload + b"[]"):
        with pytest.raises(WireError):
            decode(data)
    assert not marker.exists()


@pytest.mark.parametrize("head,sizes,blobs", [
    ({"nd": 0, "dtype": "|O", "shape": [1]}, [8], b"\x00" * 8),          # object dtype
    ({"nd": 0, "dtype": "<U1", "shape": [1]}, [4], b"a\x00\x00\x00"),    # string dtype
    ({"nd": 0, "dtype": "<f8", "shape": [3]}, [8], b"\x00" * 8),         # size mismatch
    ({"nd": 1, "dtype": "<f8", "shape": [1]}, [8], b"\x00" * 8),         # no such blob
    ({"nd": 0, "dtype": "<f8", "shape": [-1]}, [8], b"\x00" * 8),        # negative dim
    ({"__class__": "os.system", "args": ["ls"]}, [], b""),               # arbitrary object
    ({"float": 1.0}, [], b""),                                           # wrong field type
    ({"dict": [1, 2]}, [], b""),
    ({"remote": ["1", "Box"]}, [], b""),
    ([1, 2], [], b""),                                                   # bare JSON list
    (3, [], b""),                                                        # bare JSON number
    ({"int": "1"}, [-1], b""),                                           # bad blob table
])
def test_crafted_messages_are_refused(head, sizes, blobs):
    """Well-framed messages whose content is not plain data are WireErrors."""
    with pytest.raises(WireError):
        decode(message(head, sizes, blobs))


@pytest.mark.parametrize("data", [
    message({"int": "abc"}),
    message({"float": "x"}),
    message({"remote": [1]}),
    message({"nd": 0, "dtype": "<f8", "shape": [2**70]}, [0]),
    message({"nd": 0, "dtype": "<f8", "shape": [2**62, 4]}, [0]),
    struct.pack("<II", 200_000, 2) + b"[" * 100_000 + b"]" * 100_000 + b"[]",
], ids=["int", "float", "remote", "huge-dim", "overflow-shape", "deep-json"])
def test_malformed_fields_are_wire_errors(data):
    """Every malformed message is a WireError, so the sandbox reports a crash, not a grader bug."""
    with pytest.raises(WireError):
        decode(data)
