#!/usr/bin/env python3
"""Writes an oodflow feature file of N x D float32 Gaussian features in chunks, so that the
file can be far larger than memory (for scripts/bench_memory.sh).

    /usr/bin/python3 scripts/make_big_features.py OUT.safetensors N D [SEED]
"""
import json
import struct
import sys

import numpy as np


def main():
    out, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    nbytes = n * d * 4
    header = {"features": {"dtype": "F32", "shape": [n, d], "data_offsets": [0, nbytes]},
              "__metadata__": {"format": "oodflow.features", "format_version": "1",
                               "count": str(n), "dim": str(d),
                               "producer": "scripts/make_big_features.py"}}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data 8-byte aligned, as safetensors pads
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=d).astype(np.float32)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        chunk = 8192
        for begin in range(0, n, chunk):
            rows = min(chunk, n - begin)
            f.write((mean + rng.standard_normal((rows, d), dtype=np.float32)).tobytes())
    print(f"wrote {out}: {n} x {d} float32, {nbytes / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
