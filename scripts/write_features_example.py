#!/usr/bin/env python3
"""Write oodflow feature files from Python with numpy alone ("bring your own features").

oodflow reads features that any code produced: a `.safetensors` feature file (tensor
`features` [N, D], optionally `labels` [N], `logits` [N, C] and `sources`) or a plain `.npy`
[N, D] array. This script writes both from numpy arrays, without the `safetensors` package:
a safetensors file is an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw little-endian bytes (see
docs/file-formats.md). Replace `make_features` with your own model's penultimate-layer
features.

    /usr/bin/python3 scripts/write_features_example.py --out byo
    oodflow inspect byo/id_train.safetensors
    oodflow fit --detector gaussian --features byo/id_train.safetensors --out byo/gaussian.safetensors
    oodflow score --model byo/gaussian.safetensors --id byo/id_test.safetensors \
        --ood shifted=byo/ood.safetensors --out byo/report.json --scores byo/scores.csv

Only numpy is needed. The data here are synthetic (a Gaussian mixture and a random linear
classifier head), seeded, so the same command writes the same bytes.
"""
import argparse
import json
import os
import struct

import numpy as np

# numpy dtype (little-endian code without the byte-order character) -> safetensors dtype.
SAFETENSORS_DTYPES = {"f2": "F16", "f4": "F32", "f8": "F64", "i4": "I32", "i8": "I64", "u1": "U8"}


def save_safetensors(path, tensors, metadata=None):
    """Writes `tensors` (name -> numpy array) and `metadata` (str -> str) as a safetensors
    file, atomically (a temporary file renamed into place)."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        a = np.ascontiguousarray(array)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)  # safetensors is little-endian
        code = a.dtype.str[1:]
        if code not in SAFETENSORS_DTYPES:
            raise ValueError(f"tensor '{name}': dtype {a.dtype} has no safetensors code here")
        data = a.tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[code], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad with spaces so the data starts 8-byte aligned
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)
    os.replace(tmp, path)


def load_safetensors(path):
    """Reads a safetensors file with numpy alone: ({name: array}, metadata)."""
    numpy_dtypes = {v: "<" + k for k, v in SAFETENSORS_DTYPES.items()}
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], dtype=numpy_dtypes[t["dtype"]]).reshape(
            t["shape"])
    return tensors, metadata


def write_feature_file(path, features, labels=None, logits=None, sources=None, metadata=None):
    """An oodflow feature file: features [N, D] float32, labels [N] int64, logits [N, C]
    float32, sources (one path per sample, UTF-8, joined by newlines, as a U8 tensor)."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
        raise ValueError(f"features must be a non-empty [N, D] matrix, got {features.shape}")
    n = features.shape[0]
    tensors = {"features": features}
    if labels is not None:
        tensors["labels"] = np.asarray(labels, dtype=np.int64).reshape(n)
    if logits is not None:
        tensors["logits"] = np.asarray(logits, dtype=np.float32).reshape(n, -1)
    if sources is not None:
        if len(sources) != n or any("\n" in s for s in sources):
            raise ValueError("one source path per sample, without newlines")
        tensors["sources"] = np.frombuffer("\n".join(sources).encode("utf-8"), dtype=np.uint8)
    save_safetensors(path, tensors, metadata)


def make_features(rng, n, dim, classes, shift, head):
    """Stand-in for a backbone: class-conditional Gaussian features (shifted for OOD), ReLU,
    and the logits of a linear head. Returns features, labels, logits."""
    means = np.random.default_rng(1234).normal(0, 2, size=(classes, dim))  # same for every set
    labels = rng.integers(0, classes, size=n)
    x = means[labels] + rng.normal(0, 1, size=(n, dim)) + shift
    x = np.maximum(x, 0).astype(np.float32)
    weight, bias = head
    logits = (x @ weight.T + bias).astype(np.float32)
    return x, labels, logits


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="byo", help="folder to write into (default byo)")
    parser.add_argument("--rows", type=int, default=3000, help="ID training rows (default 3000)")
    parser.add_argument("--dim", type=int, default=32, help="feature dimension D (default 32)")
    parser.add_argument("--classes", type=int, default=5, help="classes C (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    head = (rng.normal(0, 0.3, size=(args.classes, args.dim)), rng.normal(0, 0.1, args.classes))
    meta = {"producer": "scripts/write_features_example.py",
            "source": json.dumps({"format": "synthetic", "path": "numpy", "seed": args.seed})}

    sets = {"id_train": (args.rows, 0.0), "id_test": (args.rows // 3, 0.0),
            "ood": (args.rows // 3, 1.5)}
    for name, (n, shift) in sets.items():
        x, y, z = make_features(rng, n, args.dim, args.classes, shift, head)
        path = os.path.join(args.out, f"{name}.safetensors")
        write_feature_file(path, x, labels=y, logits=z,
                           sources=[f"{name}/{i:06d}.png" for i in range(n)], metadata=meta)
        # Read it back with numpy alone: the bytes hold exactly what was written.
        tensors, metadata = load_safetensors(path)
        assert np.array_equal(tensors["features"], x) and np.array_equal(tensors["labels"], y)
        assert bytes(tensors["sources"]).decode().split("\n")[0] == f"{name}/000000.png"
        print(f"wrote {path}: features {list(x.shape)}, labels, logits {list(z.shape)}, sources")
        if name == "id_test":
            # The plainest alternative: a .npy [N, D] array (features only).
            np.save(os.path.join(args.out, "id_test.npy"), x)
            print(f"wrote {os.path.join(args.out, 'id_test.npy')}: features {list(x.shape)}")


if __name__ == "__main__":
    main()
