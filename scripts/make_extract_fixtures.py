#!/usr/bin/env python3
"""Regenerates the committed test fixtures of `oodflow extract` under tests/data/extract/.

The C++ tests compare `oodflow extract` with what the Python reference (torchvision's
ImageFolder, transforms and the TorchScript model) produces on the same files, so the
expected outputs here are computed with exactly that reference. Everything is seeded
(seed 0) and a second run rewrites identical bytes for every file, tiny_backbone.pt
included: torch's zip writer stores fixed timestamps, but TorchScript emits a module's
constants in set order, which follows Python's per-process string hashing, so the script
re-runs itself with PYTHONHASHSEED=0. (Another torch version may still write a different
archive with the same weights; the expected_*.npy would not change.)

Contents (see tests/data/extract/README.md, written by this script):
  tiny_backbone.pt        tiny CNN (16-d features, 5 classes), export contract of
                          scripts/export_backbone.py
  images/                 8 images of 24x22 pixels in an ImageFolder tree (cat/, dog/)
  expected_*.npy/.txt     ImageFolder + CenterCrop(20) + Normalize + model outputs
  photos/                 real photographs and their Resize(256)+CenterCrop(224) results
  idx/                    tiny IDX (MNIST format) files, raw and gzipped
"""

import argparse
import gzip
import io
import os
import shutil
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
from PIL import Image, features
from torchvision import datasets, transforms

# export_backbone.py sits next to this script; no __pycache__ is left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_backbone import export_module, wrap_classifier  # noqa: E402

SEED = 0
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "data", "extract")
SKLEARN_IMAGES = "/usr/lib/python3/dist-packages/sklearn/datasets/images"

# Tiny-image preprocessing. The mean/std are deliberately not ImageNet's and differ per
# channel, so a channel-order (RGB vs BGR) or a constant mix-up changes the result.
IMAGE_HEIGHT, IMAGE_WIDTH = 24, 22
CROP = 20
MEAN = [0.5, 0.4, 0.3]
STD = [0.25, 0.2, 0.3]

# (relative path, kind). Names are chosen to pin down ImageFolder's ordering rules:
# * "D_photo.JPG": upper-case extension (matched case-insensitively) and an upper-case
#   first letter, which sorts before lower-case ones (byte order, not locale order);
# * "dog/w_lossless.webp" comes before "dog/nested/g_rgb.png": ImageFolder lists each
#   directory's files before those of its sub-directories (sorted os.walk), whereas a
#   sort of full paths would put "nested/" first.
IMAGES = [
    ("cat/a_grey.png", "png_L"),
    ("cat/b_rgb.png", "png_RGB"),
    ("cat/c_rgba.png", "png_RGBA"),
    ("cat/D_photo.JPG", "jpeg_420"),
    ("dog/e_bitmap.bmp", "bmp_RGB"),
    ("dog/f_photo444.jpeg", "jpeg_444"),
    ("dog/w_lossless.webp", "webp_lossless"),
    ("dog/nested/g_rgb.png", "png_RGB"),
]
NOT_AN_IMAGE = "cat/notes.txt"

# Photos for the ImageNet-preset parity test: Resize(256) then CenterCrop(224).
PHOTO_RESIZE, PHOTO_CROP = 256, 224
# flower rotated to portrait and cropped to 301 wide x 453 high (small, to keep the
# fixtures light; Resize still downsamples): it resizes to 256 x 385, so the vertical crop
# margin is 161 and torchvision's top offset is round(80.5) = 80 (Python rounds half to
# even; rounding half up would give 81).
PORTRAIT_SIZE = (301, 453)
# china reduced to 200 x 150 (shorter side below 256, so Resize upsamples): it resizes to
# 341 x 256, horizontal margin 117, left offset round(58.5) = 58 (half up: 59).
SMALL_SIZE = (200, 150)

IDX_COUNT, IDX_ROWS, IDX_COLS = 5, 4, 3
IDX_LABELS = [3, 1, 4, 1, 5]


def tiny_classifier() -> nn.Module:
    torch.manual_seed(SEED)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 5),
    ).eval()


def write_backbone(path: str) -> str:
    model = tiny_classifier()
    wrapper = wrap_classifier(model)
    example = torch.zeros(2, 3, CROP, CROP)
    return export_module(wrapper, example, path)


def synthetic_pixels(rng: np.random.Generator, index: int, channels: int) -> np.ndarray:
    """Gradient in an image-specific direction plus noise, as uint8 [H, W, C].

    The noise makes every pixel matter, so a crop that is off by one pixel or a flipped
    axis changes the features; the gradients make channels and images differ in mean.
    """
    y = np.linspace(0.0, 1.0, IMAGE_HEIGHT)[:, None]
    x = np.linspace(0.0, 1.0, IMAGE_WIDTH)[None, :]
    planes = []
    for c in range(channels):
        angle = 0.9 * index + 2.1 * c
        ramp = np.cos(angle) * y + np.sin(angle) * x
        ramp = (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-9)
        noise = rng.normal(0.0, 45.0, size=(IMAGE_HEIGHT, IMAGE_WIDTH))
        planes.append(30.0 + 195.0 * ramp + noise)
    return np.clip(np.rint(np.stack(planes, axis=-1)), 0, 255).astype(np.uint8)


def write_image(path: str, kind: str, pixels: np.ndarray, rng: np.random.Generator) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if kind == "png_L":
        Image.fromarray(pixels[:, :, 0], mode="L").save(path, format="PNG")
    elif kind == "png_RGBA":
        # Alpha covers 0..255 in a noisy ramp: the loaders must drop it, not composite.
        ramp = np.linspace(0, 255, IMAGE_HEIGHT * IMAGE_WIDTH).reshape(IMAGE_HEIGHT, IMAGE_WIDTH)
        alpha = np.clip(ramp + rng.normal(0, 20, ramp.shape), 0, 255)
        alpha[0, 0], alpha[-1, -1] = 0, 255
        rgba = np.dstack([pixels, np.rint(alpha).astype(np.uint8)])
        Image.fromarray(rgba, mode="RGBA").save(path, format="PNG")
    elif kind == "png_RGB":
        Image.fromarray(pixels, mode="RGB").save(path, format="PNG")
    elif kind == "bmp_RGB":
        Image.fromarray(pixels, mode="RGB").save(path, format="BMP")
    elif kind == "jpeg_420":
        Image.fromarray(pixels, mode="RGB").save(path, format="JPEG", quality=95,
                                                 subsampling=2)
    elif kind == "jpeg_444":
        Image.fromarray(pixels, mode="RGB").save(path, format="JPEG", quality=95,
                                                 subsampling=0)
    elif kind == "webp_lossless":
        if not features.check("webp"):
            raise SystemExit("error: this Pillow has no WebP support")
        Image.fromarray(pixels, mode="RGB").save(path, format="WEBP", lossless=True)
    else:
        raise ValueError(kind)


def write_images(images_dir: str) -> None:
    if os.path.isdir(images_dir):
        shutil.rmtree(images_dir)  # stale files would silently join the ImageFolder
    rng = np.random.default_rng(SEED)
    for index, (relative, kind) in enumerate(IMAGES):
        channels = 1 if kind == "png_L" else 3
        pixels = synthetic_pixels(rng, index, channels)
        write_image(os.path.join(images_dir, relative), kind, pixels, rng)
    with open(os.path.join(images_dir, NOT_AN_IMAGE), "w") as f:
        f.write("Not an image: ImageFolder skips it by its extension.\n")


def write_expected(out_dir: str, images_dir: str, model_path: str) -> list:
    transform = transforms.Compose([
        transforms.CenterCrop(CROP),
        transforms.ToTensor(),
        transforms.Normalize(mean=MEAN, std=STD),
    ])
    dataset = datasets.ImageFolder(images_dir, transform=transform)
    assert dataset.classes == ["cat", "dog"], dataset.classes
    sources = [os.path.relpath(path, images_dir).replace(os.sep, "/")
               for path, _ in dataset.samples]
    batch = torch.stack([dataset[i][0] for i in range(len(dataset))])
    labels = torch.tensor(dataset.targets, dtype=torch.int64)

    model = torch.jit.load(model_path, map_location="cpu").eval()
    with torch.no_grad():
        out = model(batch)

    np.save(os.path.join(out_dir, "expected_input.npy"), batch.numpy().astype(np.float32))
    np.save(os.path.join(out_dir, "expected_features.npy"),
            out["features"].numpy().astype(np.float32))
    np.save(os.path.join(out_dir, "expected_logits.npy"),
            out["logits"].numpy().astype(np.float32))
    np.save(os.path.join(out_dir, "expected_labels.npy"), labels.numpy().astype(np.int64))
    with open(os.path.join(out_dir, "expected_sources.txt"), "w", newline="\n") as f:
        f.write("".join(source + "\n" for source in sources))
    write_odin_expected(out_dir, model, batch)
    return sources


# (temperature, epsilon): the paper's setting, and a strong one whose perturbation moves the
# scores by more than the float rounding between a batch and single images.
ODIN_SETTINGS = [(1000.0, 0.0014), (10.0, 0.05)]


def write_odin_expected(out_dir: str, model, batch: torch.Tensor) -> None:
    """ODIN scores as the authors' code computes them (github.com/facebookresearch/odin,
    read, not copied): one image at a time, CrossEntropyLoss of logits / T against their
    argmax, the gradient's sign as (torch.ge(grad, 0) - 0.5) * 2 divided by the per-channel
    std, the input moved by -epsilon times that, and the max softmax at T again."""
    for p in model.parameters():
        p.requires_grad_(False)
    std = torch.tensor(STD).view(1, -1, 1, 1)
    rows = []
    for temperature, epsilon in ODIN_SETTINGS:
        scores = []
        for image in batch:
            x = image.unsqueeze(0).clone().requires_grad_(True)
            logits = model(x)["logits"] / temperature
            loss = nn.CrossEntropyLoss()(logits, logits.argmax(1))
            loss.backward()
            gradient = (torch.ge(x.grad, 0).float() - 0.5) * 2 / std
            perturbed = x.detach() - epsilon * gradient
            with torch.no_grad():
                z = model(perturbed)["logits"].double() / temperature
            scores.append(torch.softmax(z, 1).max().item())
        rows.append(scores)
    np.save(os.path.join(out_dir, "expected_odin.npy"), np.array(rows, dtype=np.float64))


def photo_expected(path: str) -> Image.Image:
    pipeline = transforms.Compose([transforms.Resize(PHOTO_RESIZE),
                                   transforms.CenterCrop(PHOTO_CROP)])
    with Image.open(path) as image:
        return pipeline(image.convert("RGB"))


def save_pixels_png(image: Image.Image, path: str) -> None:
    # Pillow carries the JPEG's ICC profile through convert/resize/crop into the PNG, where
    # libpng (and so OpenCV) prints "iCCP: known incorrect sRGB profile" on every read.
    # Only the pixels matter here, so they are saved without any metadata.
    Image.fromarray(np.asarray(image.convert("RGB"))).save(path, format="PNG", optimize=True)


def write_photos(photos_dir: str) -> list:
    if os.path.isdir(photos_dir):
        shutil.rmtree(photos_dir)
    os.makedirs(photos_dir)
    for name in ("china.jpg", "flower.jpg"):
        shutil.copyfile(os.path.join(SKLEARN_IMAGES, name), os.path.join(photos_dir, name))

    with Image.open(os.path.join(SKLEARN_IMAGES, "flower.jpg")) as flower:
        portrait = flower.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    width, height = PORTRAIT_SIZE
    left = (portrait.width - width) // 2
    top = (portrait.height - height) // 2
    save_pixels_png(portrait.crop((left, top, left + width, top + height)),
                    os.path.join(photos_dir, "flower_portrait.png"))

    with Image.open(os.path.join(SKLEARN_IMAGES, "china.jpg")) as china:
        small = china.convert("RGB").resize(SMALL_SIZE, Image.Resampling.LANCZOS)
    save_pixels_png(small, os.path.join(photos_dir, "china_small.png"))

    names = ["china.jpg", "flower.jpg", "flower_portrait.png", "china_small.png"]
    for name in names:
        save_pixels_png(photo_expected(os.path.join(photos_dir, name)),
                        os.path.join(photos_dir, name + ".expected.png"))
    return names


PHOTOS_README = """\
# Photographs for the preprocessing-parity test

`china.jpg` and `flower.jpg` are scikit-learn's bundled sample images
(`sklearn/datasets/images/`), copied byte for byte. scikit-learn's
`datasets/images/README.txt` states for both: "Released under a creative commons license"
(CC BY 2.0, https://creativecommons.org/licenses/by/2.0/), "Some rights reserved by
danielbuechele", retrieved 21st August 2011 by Robert Layton from
https://www.flickr.com/photos/danielbuechele/6061409035/ (china) and
https://www.flickr.com/photos/vultilion/6056698931/ (flower; the README credits
danielbuechele but links the Flickr account vultilion). The derived files below are
adaptations under the same license.

Derived inputs (Pillow):

* `flower_portrait.png`: flower.jpg rotated 90 degrees counter-clockwise, centre-cropped
  to 301 x 453 (width x height, both odd). Resize(256) gives 256 x 385; the vertical
  crop margin 161 is odd and torchvision's top offset is `int(round(80.5))` = 80 (Python
  rounds half to even; rounding half up gives 81).
* `china_small.png`: china.jpg reduced to 200 x 150 with Lanczos, so that Resize(256)
  upsamples (to 341 x 256; left offset `int(round(58.5))` = 58, half up gives 59).

Expected outputs: for each photo `X`, `X.expected.png` is the 224 x 224 uint8 RGB result
of `transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])` applied to
`PIL.Image.open(X).convert("RGB")` (torchvision {tv}, Pillow {pil}, PIL backend:
bilinear with antialiasing, i.e. a triangle filter widened by the scale factor when
shrinking; Pillow resamples horizontally first and rounds that pass to 8 bits before the
vertical pass, which a float reimplementation must copy to stay within one grey level
on almost every pixel). china.jpg and flower.jpg
(640 x 427) resize to 383 x 256 (`int(256 * 640 / 427)`, truncated) and crop from
x = 80.

Regenerate with `/usr/bin/python3 scripts/make_extract_fixtures.py`.
"""


def write_idx(idx_dir: str) -> None:
    os.makedirs(idx_dir, exist_ok=True)
    i, r, c = np.meshgrid(np.arange(IDX_COUNT), np.arange(IDX_ROWS), np.arange(IDX_COLS),
                          indexing="ij")
    # Values reach 211, so reading the bytes as signed char would show up.
    pixels = (50 * i + 3 * r + c).astype(np.uint8)
    images = struct.pack(">iiii", 0x00000803, IDX_COUNT, IDX_ROWS, IDX_COLS) + pixels.tobytes()
    labels = struct.pack(">ii", 0x00000801, IDX_COUNT) + bytes(IDX_LABELS)
    with open(os.path.join(idx_dir, "tiny-images-idx3-ubyte"), "wb") as f:
        f.write(images)
    with open(os.path.join(idx_dir, "tiny-labels-idx1-ubyte"), "wb") as f:
        f.write(labels)
    # mtime=0 and no stored file name keep the gzip bytes reproducible.
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(images)
    with open(os.path.join(idx_dir, "tiny-images-idx3-ubyte.gz"), "wb") as f:
        f.write(buffer.getvalue())


README = """\
# Fixtures of `oodflow extract`

Generated by `/usr/bin/python3 scripts/make_extract_fixtures.py` (seed 0, torch {torch},
torchvision {tv}, Pillow {pil}); do not edit by hand. A second run rewrites the same
bytes (tiny_backbone.pt included with this torch version).

## tiny_backbone.pt

TorchScript (exported with torch.jit.{method}) of a tiny CNN with random weights
(`torch.manual_seed(0)`): Conv2d(3,8,3,padding=1), ReLU, Conv2d(8,16,3,stride=2,padding=1),
ReLU, AdaptiveAvgPool2d(1), Flatten, then the head Linear(16,5). Wrapped by
`export_backbone.wrap_classifier`: `forward(x [B,3,20,20])` returns
`{{"features": [B,16], "logits": [B,5]}}` and the head is the submodule `head`
(`head.weight` [5,16], `head.bias` [5]). It accepts any input size (global pooling).

## images/

An ImageFolder tree of {n} images, each 24 high x 22 wide, seeded noise plus gradients.
Classes in sorted order: cat = 0, dog = 1. `cat/notes.txt` is not an image and must be
skipped (by extension). ImageFolder order (= `expected_sources.txt`):

| # | path | label | format |
|---|---|---|---|
{table}

Ordering rules these names pin down: extensions match case-insensitively (`.JPG`); names
sort by bytes, so upper case first (`D_photo.JPG` before `a_grey.png`); within a class,
a directory's own files come before those of its sub-directories (`w_lossless.webp`
before `nested/g_rgb.png`; a plain sort of full paths gets this wrong).

## expected_*

Computed with `datasets.ImageFolder(images, transform=Compose([CenterCrop(20), ToTensor(),
Normalize(mean={mean}, std={std})]))` (default loader: PIL `convert("RGB")`, which
replicates grey and drops alpha without compositing), all images in one batch, the
loaded tiny_backbone.pt, `torch.no_grad()`:

* `expected_input.npy` float32 [{n},3,20,20]: the preprocessed batch. CenterCrop(20) of
  24 x 22 starts at row `int(round(4 / 2))` = 2 and column `int(round(2 / 2))` = 1.
* `expected_features.npy` float32 [{n},16], `expected_logits.npy` float32 [{n},5]
* `expected_labels.npy` int64 [{n}]
* `expected_sources.txt`: one path per line, relative to `images/`, `/`-separated.
* `expected_odin.npy` float64 [2,{n}]: ODIN scores of the preprocessed batch as the authors'
  code computes them, one image at a time (see `write_odin_expected`), row 0 with T = 1000,
  eps = 0.0014 (the paper's), row 1 with T = 10, eps = 0.05.

## photos/

Real photographs and their `Resize(256)` + `CenterCrop(224)` results for the parity test
of the ImageNet preset; see `photos/README.md`.

## idx/

* `tiny-images-idx3-ubyte`: IDX images: big-endian int32 magic 0x00000803, then 5, 4, 3
  (count, rows, columns), then 5 x 4 x 3 uint8 pixels, row-major; pixel (i, r, c) =
  50 i + 3 r + c (0..211).
* `tiny-images-idx3-ubyte.gz`: the same bytes, gzip-compressed.
* `tiny-labels-idx1-ubyte`: IDX labels: magic 0x00000801, then 5, then uint8 labels
  {labels}.
"""


def main(argv=None) -> int:
    if argv is None and os.environ.get("PYTHONHASHSEED") != "0":
        # See the module docstring: fixes the order of constants in tiny_backbone.pt.
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:],
                  env)
    parser = argparse.ArgumentParser(
        description="Regenerate the test fixtures of `oodflow extract` (deterministic, seed 0).")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="fixture directory (default: tests/data/extract of this repository)")
    args = parser.parse_args(argv)

    import torchvision  # only for its version string in the READMEs
    import PIL

    out = args.out
    os.makedirs(out, exist_ok=True)
    model_path = os.path.join(out, "tiny_backbone.pt")
    method = write_backbone(model_path)
    images_dir = os.path.join(out, "images")
    write_images(images_dir)
    sources = write_expected(out, images_dir, model_path)
    expected_sources = ["cat/D_photo.JPG", "cat/a_grey.png", "cat/b_rgb.png", "cat/c_rgba.png",
                        "dog/e_bitmap.bmp", "dog/f_photo444.jpeg", "dog/w_lossless.webp",
                        "dog/nested/g_rgb.png"]
    # The README table and the C++ tests rely on this order; fail loudly if torchvision's
    # ordering ever changes.
    if sources != expected_sources:
        raise SystemExit(f"error: unexpected ImageFolder order {sources}")

    photos_dir = os.path.join(out, "photos")
    write_photos(photos_dir)
    versions = {"torch": torch.__version__, "tv": torchvision.__version__, "pil": PIL.__version__}
    with open(os.path.join(photos_dir, "README.md"), "w") as f:
        f.write(PHOTOS_README.format(**versions))

    write_idx(os.path.join(out, "idx"))

    kinds = dict(IMAGES)
    table = "\n".join(
        f"| {n} | `{s}` | {0 if s.startswith('cat/') else 1} | {kinds[s].replace('_', ' ')} |"
        for n, s in enumerate(sources))
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(README.format(n=len(sources), table=table, mean=MEAN, std=STD,
                              labels=IDX_LABELS, method=method, **versions))

    total = sum(os.path.getsize(os.path.join(root, name))
                for root, _, names in os.walk(out) for name in names)
    print(f"wrote {out}: {len(sources)} images, tiny_backbone.pt via torch.jit.{method}, "
          f"{total / 1024:.0f} KiB in total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
