#!/usr/bin/python3
"""Synthetic inputs of the detector speed benchmark (scripts/bench_detectors.sh).

Writes OUT/train.safetensors and OUT/test.safetensors (features [N, D] as non-negative
post-ReLU-like activations around 100 class centres, labels, and the logits of a random
linear head) and OUT/head.pt, a TorchScript module holding that head as submodule `head`
(what ReAct and ViM read). Debian's /usr/bin/python3 with numpy and torch; seed 0.
"""

import argparse
import json
import struct

import numpy as np
import torch


def write_safetensors(path, tensors, metadata):
    """The safetensors layout: 8-byte header length, JSON header, raw little-endian data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        dtype = {"float32": "F32", "int64": "I64"}[str(array.dtype)]
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        blobs.append(array.tobytes())
        offset += array.nbytes
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--train", type=int, default=50000)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (args.classes, args.dim)).astype(np.float32)
    head = torch.nn.Linear(args.dim, args.classes)
    torch.manual_seed(0)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(centres / np.sqrt(args.dim)))
        head.bias.zero_()

    class Backbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = head

        def forward(self, x):
            return {"features": x, "logits": self.head(x)}

    torch.jit.script(Backbone()).save(f"{args.out}/head.pt")
    for name, n in (("train", args.train), ("test", args.test)):
        labels = rng.integers(0, args.classes, n)
        features = np.abs(centres[labels] + rng.normal(0, 1, (n, args.dim))).astype(np.float32)
        logits = (features @ head.weight.detach().numpy().T).astype(np.float32)
        write_safetensors(f"{args.out}/{name}.safetensors",
                          {"features": features, "logits": logits, "labels": labels.astype(np.int64)},
                          {"format": "oodflow.features", "format_version": "1",
                           "count": str(n), "dim": str(args.dim)})
    print(f"make_detector_bench: wrote {args.out}/{{train,test}}.safetensors and head.pt")


if __name__ == "__main__":
    main()
