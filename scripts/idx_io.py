"""Small file helpers shared by the Python scripts (numpy only): IDX arrays and SHA-256."""

import gzip
import hashlib

import numpy as np


class IdxError(ValueError):
    """An unreadable or malformed IDX file; the message names it."""


def read_idx(path: str, dims: int) -> np.ndarray:
    """Reads an IDX file (gzip or plain) of unsigned bytes with `dims` dimensions."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:
        raise IdxError(f"cannot read '{path}': {error}") from None
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise IdxError(f"'{path}' is not an IDX file of unsigned bytes")
    if data[3] != dims:
        raise IdxError(f"'{path}' has {data[3]} dimensions, expected {dims}")
    header = 4 + 4 * dims
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    if len(data) != header + int(np.prod(shape)):
        raise IdxError(f"'{path}' is truncated or has trailing bytes (shape {shape})")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
