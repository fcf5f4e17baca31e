"""A small, strict codec for values crossing the sandbox boundary.

The student process is untrusted, so what it sends back is never unpickled: a message is
a JSON header plus raw array bytes, and `decode` accepts only plain data (arrays of
numeric dtypes, numbers, strings, None, tuples, lists, dicts with string keys) and
`Remote` handles to objects that stay in the student process (a cache, a cell object).
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

import numpy as np

# dtypes an answer may come back in; everything else is refused
_DTYPES = {"<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "|i1", "<u8", "<u4", "<u2", "|u1", "|b1"}
MAX_DEPTH = 16


@dataclass(frozen=True)
class Remote:
    """An object that lives in the student process, referred to by number."""

    id: int
    type_name: str

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


class WireError(ValueError):
    """The bytes are not a well-formed message."""


def encode(value, *, to_remote=None) -> bytes:
    """Encode `value`. Objects that are not plain data go through `to_remote`
    (which returns a `Remote`); without it they are an error."""
    blobs: list[bytes] = []

    def walk(v, depth):
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        t = type(v)
        if v is None or t is bool or t is str:
            return v
        if t is int:
            return {"int": str(v)}
        if t is float:
            return {"float": repr(v)}
        if issubclass(t, np.ndarray) or issubclass(t, np.generic):
            # a subclass is sent as the plain array it holds: its methods stay behind
            a = np.ndarray.view(v, np.ndarray) if issubclass(t, np.ndarray) else np.asarray(v)
            if a.dtype.kind not in "fiub":
                if to_remote is None:
                    raise WireError(f"arrays of dtype {a.dtype} cannot be sent")
                r = to_remote(v)
                return {"remote": [r.id, r.type_name]}
            a = np.asarray(a, order="C").astype(a.dtype.newbyteorder("<"), copy=False)
            blobs.append(np.ndarray.tobytes(a))
            return {"nd": len(blobs) - 1, "dtype": a.dtype.str, "shape": list(a.shape)}
        if t is tuple:
            return {"tuple": [walk(x, depth + 1) for x in v]}
        if t is list:
            return {"list": [walk(x, depth + 1) for x in v]}
        if t is dict and all(type(k) is str for k in v):
            return {"dict": {k: walk(x, depth + 1) for k, x in v.items()}}
        if t is Remote:
            return {"remote": [v.id, v.type_name]}
        if to_remote is None:
            raise WireError(f"cannot send a {t.__name__}")
        r = to_remote(v)
        return {"remote": [r.id, r.type_name]}

    head = json.dumps(walk(value, 0)).encode()
    sizes = [len(b) for b in blobs]
    meta = json.dumps(sizes).encode()
    return struct.pack("<II", len(head), len(meta)) + head + meta + b"".join(blobs)


def decode(data: bytes, *, max_bytes: int = 1 << 30):
    """Decode a message, refusing anything but plain data."""
    if len(data) > max_bytes:
        raise WireError("message too large")
    if len(data) < 8:
        raise WireError("message truncated")
    hlen, mlen = struct.unpack_from("<II", data, 0)
    if 8 + hlen + mlen > len(data):
        raise WireError("message truncated")
    try:
        head = json.loads(data[8:8 + hlen])
        sizes = json.loads(data[8 + hlen:8 + hlen + mlen])
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise WireError(f"bad header: {type(e).__name__}") from None
    if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes):
        raise WireError("bad blob table")
    offsets, pos = [], 8 + hlen + mlen
    for s in sizes:
        offsets.append((pos, pos + s))
        pos += s
    if pos != len(data):
        raise WireError("blob sizes do not add up")

    def walk(node, depth):
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        if node is None or type(node) in (bool, str):
            return node
        if type(node) is not dict or len(node) not in (1, 3):
            raise WireError("unexpected node")
        if "int" in node:
            return int(_str(node["int"]))
        if "float" in node:
            return float(_str(node["float"]))
        if "tuple" in node:
            return tuple(walk(x, depth + 1) for x in _list(node["tuple"]))
        if "list" in node:
            return [walk(x, depth + 1) for x in _list(node["list"])]
        if "dict" in node:
            d = node["dict"]
            if type(d) is not dict:
                raise WireError("bad dict")
            return {_str(k): walk(x, depth + 1) for k, x in d.items()}
        if "remote" in node:
            parts = _list(node["remote"])
            if len(parts) != 2:
                raise WireError("bad remote")
            rid, name = parts
            if type(rid) is not int:
                raise WireError("bad remote id")
            return Remote(rid, _str(name)[:80])
        if "nd" in node:
            i, dtype, shape = node["nd"], node.get("dtype"), node.get("shape")
            if type(i) is not int or not 0 <= i < len(offsets) or dtype not in _DTYPES:
                raise WireError("bad array")
            shape = tuple(_list(shape))
            if not all(type(s) is int and 0 <= s < 2**48 for s in shape) or len(shape) > 32:
                raise WireError("bad array shape")
            lo, hi = offsets[i]
            dt = np.dtype(dtype)
            if math.prod(shape) * dt.itemsize != hi - lo:
                raise WireError("array size does not match its shape")
            return np.frombuffer(data, dtype=dt, count=(hi - lo) // dt.itemsize,
                                 offset=lo).reshape(shape).astype(dt.newbyteorder("="))
        raise WireError("unexpected node")

    try:
        return walk(head, 0)
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as e:
        raise WireError(f"malformed message ({type(e).__name__})") from None


def _str(x):
    if type(x) is not str:
        raise WireError("expected a string")
    return x


def _list(x):
    if type(x) is not list:
        raise WireError("expected a list")
    return x
