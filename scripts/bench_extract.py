#!/usr/bin/env python3
"""Python reference side of the extraction-throughput benchmark.

Runs the standard PyTorch pipeline that `oodflow extract` replaces: torchvision's
ImageFolder, Resize + CenterCrop + ToTensor + Normalize (PIL backend), a DataLoader with
worker processes, and the TorchScript backbone under torch.inference_mode(). Prints one
JSON line to stdout:

  {"pipeline": "python", "images": N, "seconds": S, "images_per_s": R,
   "forward_seconds": F, "forward_share": F/S}

Timed as `oodflow extract` reports its own rate: S is the wall time from the start of the
loop over the DataLoader (worker start-up included, model loading excluded) to the end of
the last batch, N every image, and F the time spent inside the model calls alone. Both
pipelines start cold (no warm-up batch) and pay the same first-call costs.
"""

import argparse
import json
import os
import sys
import time

import torch
from torchvision import datasets, transforms

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Measure the throughput of the Python (torchvision) extraction pipeline "
                    "on an ImageFolder tree; prints one JSON line.")
    parser.add_argument("--model", required=True, help="TorchScript backbone (.pt)")
    parser.add_argument("--data", required=True, help="ImageFolder root (class sub-folders)")
    parser.add_argument("--batch-size", type=int, default=64, help="default 64")
    parser.add_argument("--workers", type=int, default=2,
                        help="DataLoader worker processes (default 2; 0 = load in-process)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads of the model (default 1)")
    parser.add_argument("--resize", type=int, default=256, help="shorter side (default 256)")
    parser.add_argument("--crop", type=int, default=224, help="centre crop (default 224)")
    parser.add_argument("--mean", type=float, nargs=3, default=IMAGENET_MEAN,
                        metavar=("R", "G", "B"), help="default ImageNet's")
    parser.add_argument("--std", type=float, nargs=3, default=IMAGENET_STD,
                        metavar=("R", "G", "B"), help="default ImageNet's")
    args = parser.parse_args(argv)
    for name in ("batch_size", "threads", "resize", "crop"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.workers < 0:
        parser.error("--workers must be at least 0")
    if args.crop > args.resize:
        parser.error("--crop must not exceed --resize")
    for path, what in ((args.model, "model file"), (args.data, "data directory")):
        if not os.path.exists(path):
            parser.error(f"{what} '{path}' does not exist")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)

    transform = transforms.Compose([
        transforms.Resize(args.resize),
        transforms.CenterCrop(args.crop),
        transforms.ToTensor(),
        transforms.Normalize(mean=args.mean, std=args.std),
    ])
    dataset = datasets.ImageFolder(args.data, transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=False,
                                         num_workers=args.workers)
    model = torch.jit.load(args.model, map_location="cpu").eval()

    images = 0
    forward_seconds = 0.0
    start = time.perf_counter()
    with torch.inference_mode():
        for batch, _ in loader:
            begin = time.perf_counter()
            out = model(batch)
            # Touch the result so that the forward is complete before the clock stops.
            features = out["features"]
            features.sum().item()
            forward_seconds += time.perf_counter() - begin
            images += batch.shape[0]
    seconds = time.perf_counter() - start

    print(json.dumps({
        "pipeline": "python",
        "images": images,
        "seconds": round(seconds, 4),
        "images_per_s": round(images / seconds, 2),
        "forward_seconds": round(forward_seconds, 4),
        "forward_share": round(forward_seconds / seconds, 4),
    }, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
