#!/usr/bin/env python3
"""Writes an ImageFolder tree of realistic JPEG photographs for the extraction benchmark.

Throughput of `oodflow extract` is dominated by JPEG decoding and resizing at realistic
sizes, which synthetic noise images would misrepresent (noise compresses badly and decodes
slowly). So the images are views of real photographs, scikit-learn's two sample images:
each is a random crop (each side 300..500 px) of a randomly scaled and possibly mirrored
copy of one photo, saved as JPEG quality 90. Class `china/` holds views of china.jpg and
class `flower/` views of flower.jpg, alternately. Seeded: the same arguments give the same
files.
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image

SKLEARN_IMAGES = "/usr/lib/python3/dist-packages/sklearn/datasets/images"
PHOTOS = ("china", "flower")
MIN_SIDE, MAX_SIDE = 300, 500


def random_view(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    width = int(rng.integers(MIN_SIDE, MAX_SIDE + 1))
    height = int(rng.integers(MIN_SIDE, MAX_SIDE + 1))
    # The photos are 640 x 427, smaller than the largest crop: scale up at least enough
    # for the crop to fit, and by up to 1.6x more so that views differ in scale.
    needed = max(width / photo.width, height / photo.height, 1.0)
    scale = needed * float(rng.uniform(1.0, 1.6))
    scaled_size = (max(width, round(photo.width * scale)), max(height, round(photo.height * scale)))
    scaled = photo.resize(scaled_size, Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        scaled = scaled.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    left = int(rng.integers(0, scaled.width - width + 1))
    top = int(rng.integers(0, scaled.height - height + 1))
    return scaled.crop((left, top, left + width, top + height))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Write N JPEG photographs (quality 90, random crops/scales/flips of "
                    "scikit-learn's sample photos) into OUT/china/ and OUT/flower/.")
    parser.add_argument("--out", required=True, help="output directory (created if needed)")
    parser.add_argument("-n", "--count", type=int, default=512,
                        help="number of images (default 512)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")

    photos = []
    for name in PHOTOS:
        path = os.path.join(SKLEARN_IMAGES, name + ".jpg")
        if not os.path.isfile(path):
            print(f"{parser.prog}: error: '{path}' not found (Debian package python3-sklearn)",
                  file=sys.stderr)
            return 1
        with Image.open(path) as image:
            # Dropping the ICC profile and other metadata: only pixels are benchmarked.
            photos.append(Image.fromarray(np.asarray(image.convert("RGB"))))

    for name in PHOTOS:
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
    rng = np.random.default_rng(args.seed)
    total_bytes = 0
    for index in range(args.count):
        cls = index % len(PHOTOS)
        view = random_view(photos[cls], rng)
        path = os.path.join(args.out, PHOTOS[cls], f"{index:05d}.jpg")
        view.save(path, format="JPEG", quality=args.quality)
        total_bytes += os.path.getsize(path)
    print(f"wrote {args.count} JPEGs to {args.out} "
          f"({total_bytes / args.count / 1024:.0f} KiB on average)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
