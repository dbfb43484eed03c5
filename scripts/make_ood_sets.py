#!/usr/bin/python3
"""Writes the generated OOD sets and the two Fashion-MNIST near-OOD splits as .npy image arrays.

Needs only numpy (Debian's /usr/bin/python3 with python3-numpy) and the Fashion-MNIST IDX
files (--fmnist-dir: Debian's /usr/share/datasets/fashion-mnist, or the copy that
scripts/fetch_data.sh puts in its cache). Every output is uint8 [N, 28, 28] (labels int64
[N]) in the format `oodflow extract --data X.npy [--labels Y.npy]` reads, and is fully
determined by the input files and SEED: a second run writes identical bytes.

Generated sets (N = 10000, the size of the Fashion-MNIST test set), for a backbone trained
on Fashion-MNIST:
  gaussian_noise.npy   every pixel ~ Normal(mean, std) of the Fashion-MNIST training pixels
                       (72.94, 90.02 grey levels), rounded and clipped to 0..255
  uniform_noise.npy    every pixel uniform on 0..255
  fmnist_vflip.npy     the Fashion-MNIST test images flipped upside down
  fmnist_inverted.npy  the Fashion-MNIST test images inverted, 255 - x
The noise sets use independent random streams, numpy.random.default_rng([SEED, k]) with
k = 1 (Gaussian) and 2 (uniform), so neither depends on the order they are written in.

Near-OOD split, for a backbone trained on the 6 ID classes only
(scripts/train_backbone.py --classes 0,1,2,3,4,6):
  fmnist_train_id6.npy, fmnist_train_id6_labels.npy   training images of the ID classes
  fmnist_test_id6.npy,  fmnist_test_id6_labels.npy    test images of the ID classes
  fmnist_test_ood4.npy                                test images of the 4 held-out classes
Images keep their order in the IDX files. The labels are the backbone's class indices:
ID_CLASSES[i] is relabelled i (so Shirt, class 6, becomes 5), as train_backbone.py does with
--classes in the same order.

Why ID = {0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 6 Shirt} and held out
OOD = {5 Sandal, 7 Sneaker, 8 Bag, 9 Ankle boot}: the split is "garments vs. footwear and
bags", a purely semantic shift. The OOD images come from the same catalogue photographs,
preprocessing, size, centring and background as the ID images, so low-level statistics
cannot give them away (unlike the generated sets above, which are covariate shifts), and
every held-out image is unambiguously a novel kind of object, so the OOD ground truth is
clean. The ID task keeps all of Fashion-MNIST's hard confusions (T-shirt/Pullover/Coat/
Shirt), so the backbone still has to learn fine-grained features. The more obvious split,
ID = classes 0-5 vs. 6-9, would put Shirt in the OOD set although many Shirt images are
indistinguishable from T-shirts, pullovers and coats (the classes classifiers confuse most),
and would split the footwear (Sandal ID, Sneaker and Ankle boot OOD): the benchmark would
largely measure label ambiguity rather than detection of novel objects.

Hard near-OOD split, for a backbone trained on its 6 ID classes only
(scripts/train_backbone.py --classes 0,1,3,5,7,8):
  fmnist_train_hard6.npy, fmnist_train_hard6_labels.npy   training images of the ID classes
  fmnist_test_hard6.npy,  fmnist_test_hard6_labels.npy    test images of the ID classes
  fmnist_test_hard_ood4.npy                               test images of the 4 held-out classes
Same conventions as above: file order kept, HARD_ID_CLASSES[i] relabelled i (Sandal 5 -> 3,
Sneaker 7 -> 4, Bag 8 -> 5).

Why ID = {0 T-shirt/top, 1 Trouser, 3 Dress, 5 Sandal, 7 Sneaker, 8 Bag} and held out
OOD = {2 Pullover, 4 Coat, 6 Shirt, 9 Ankle boot}: every held-out class has a close ID
sibling: pullover, coat and shirt are upper-body garments like T-shirt/top and dress (the
classes Fashion-MNIST classifiers confuse most), and ankle boot is footwear like sneaker and
sandal. The shift is still purely semantic (same photographs, preprocessing and background),
but the OOD images now share shape, texture and silhouette with an ID class, so a detector
cannot rely on "a new kind of object" being far from every ID class in feature space: the
backbone tends to map a coat or a shirt close to T-shirt/top and an ankle boot close to
sneaker. It complements the garments split, whose OOD classes (footwear and bags) have no
such sibling among its ID classes. Some images are genuinely ambiguous (a shirt that looks
like a T-shirt), so no detector is expected to reach an AUROC near 1 here.

Other files: manifest.json (shapes, sizes, SHA-256 of every output, the seed and the
classes of both splits), written last; --verify checks the outputs against it (exit 0 when complete and
intact), which scripts/fetch_data.sh uses to skip regenerating.
"""

import argparse
import json
import os
import sys

PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "make_ood_sets.py"

try:
    import numpy as np
except ImportError:
    print(f"{PROG}: error: numpy is not importable by {sys.executable}: run this script with "
          "Debian's /usr/bin/python3 (apt-get install python3-numpy)", file=sys.stderr)
    sys.exit(1)

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idx_io  # noqa: E402

SEED = 0
COUNT = 10000                       # = size of the Fashion-MNIST test set
SIZE = 28
DEFAULT_FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
ID_CLASSES = (0, 1, 2, 3, 4, 6)     # see the module docstring
OOD_CLASSES = tuple(c for c in range(len(CLASS_NAMES)) if c not in ID_CLASSES)
CLASSES_ARG = ",".join(str(c) for c in ID_CLASSES)
HARD_ID_CLASSES = (0, 1, 3, 5, 7, 8)  # hard split: every OOD class has an ID sibling
HARD_OOD_CLASSES = tuple(c for c in range(len(CLASS_NAMES)) if c not in HARD_ID_CLASSES)
HARD_CLASSES_ARG = ",".join(str(c) for c in HARD_ID_CLASSES)
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class SetsError(Exception):
    """An expected failure; printed as one line without a stack trace."""


def read_idx(path: str, dims: int) -> np.ndarray:
    try:
        return idx_io.read_idx(path, dims)
    except idx_io.IdxError as error:
        raise SetsError(str(error)) from None


def load_fmnist(directory: str, split: str):
    arrays = []
    for kind, dims in (("images-idx3", 3), ("labels-idx1", 1)):
        stem = os.path.join(directory, f"{split}-{kind}-ubyte")
        path = next((p for p in (stem + ".gz", stem) if os.path.isfile(p)), None)
        if path is None:
            raise SetsError(f"Fashion-MNIST file {stem}.gz is missing: install Debian's "
                            "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or "
                            "run scripts/fetch_data.sh")
        arrays.append(read_idx(path, dims))
    images, labels = arrays
    if images.shape[1:] != (SIZE, SIZE) or len(images) != len(labels):
        raise SetsError(f"Fashion-MNIST {split} files in {directory} have unexpected shapes "
                        f"{images.shape} and {labels.shape}")
    return images, labels


def split_classes(images, labels, id_classes=ID_CLASSES):
    remap = np.full(len(CLASS_NAMES), -1, dtype=np.int64)
    remap[list(id_classes)] = np.arange(len(id_classes))
    new_labels = remap[labels]
    inside = new_labels >= 0
    return images[inside], new_labels[inside], images[~inside]


def save(out_dir: str, name: str, array: np.ndarray, description: str, manifest: dict):
    """np.save to a temporary name, then an atomic rename; records the file in manifest."""
    path = os.path.join(out_dir, name)
    partial = path + ".part"
    with open(partial, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
    os.replace(partial, path)
    manifest["files"][name] = {
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "bytes": os.path.getsize(path),
        "sha256": idx_io.sha256_of(path),
        "description": description,
    }
    print(f"  {name:30s} {str(array.dtype):6s} {str(list(array.shape)):18s} {description}",
          flush=True)


def generate(fmnist_dir: str, out_dir: str):
    train_images, train_labels = load_fmnist(fmnist_dir, "train")
    test_images, test_labels = load_fmnist(fmnist_dir, "t10k")
    if len(test_images) != COUNT:
        raise SetsError(f"the Fashion-MNIST test set in {fmnist_dir} holds {len(test_images)} "
                        f"images, expected {COUNT}")
    os.makedirs(out_dir, exist_ok=True)
    # A stale manifest must not vouch for half-rewritten files.
    try:
        os.remove(os.path.join(out_dir, MANIFEST))
    except FileNotFoundError:
        pass

    pixels = train_images.astype(np.float64)
    mean, std = float(pixels.mean()), float(pixels.std())
    del pixels
    manifest = {
        "generator": "scripts/make_ood_sets.py",
        "version": MANIFEST_VERSION,
        "seed": SEED,
        "count": COUNT,
        "fashion_mnist_dir": os.path.abspath(fmnist_dir),
        "train_pixel_mean": mean,
        "train_pixel_std": std,
        "id_classes": [{"index": i, "fashion_mnist_id": c, "name": CLASS_NAMES[c]}
                       for i, c in enumerate(ID_CLASSES)],
        "ood_classes": [{"fashion_mnist_id": c, "name": CLASS_NAMES[c]} for c in OOD_CLASSES],
        "train_backbone_classes_arg": CLASSES_ARG,
        "hard_split": {
            "id_classes": [{"index": i, "fashion_mnist_id": c, "name": CLASS_NAMES[c]}
                           for i, c in enumerate(HARD_ID_CLASSES)],
            "ood_classes": [{"fashion_mnist_id": c, "name": CLASS_NAMES[c]}
                            for c in HARD_OOD_CLASSES],
            "train_backbone_classes_arg": HARD_CLASSES_ARG,
        },
        "files": {},
    }
    shape = (COUNT, SIZE, SIZE)
    print(f"{PROG}: writing to {out_dir}", flush=True)

    gaussian = np.random.default_rng([SEED, 1]).normal(mean, std, size=shape)
    save(out_dir, "gaussian_noise.npy", np.clip(np.rint(gaussian), 0, 255).astype(np.uint8),
         f"pixels ~ Normal({mean:.2f}, {std:.2f}) (Fashion-MNIST train), clipped to 0..255",
         manifest)
    del gaussian
    uniform = np.random.default_rng([SEED, 2]).integers(0, 256, size=shape, dtype=np.uint8)
    save(out_dir, "uniform_noise.npy", uniform, "pixels uniform on 0..255", manifest)
    save(out_dir, "fmnist_vflip.npy", test_images[:, ::-1, :],
         "Fashion-MNIST test images flipped vertically", manifest)
    save(out_dir, "fmnist_inverted.npy", 255 - test_images,
         "Fashion-MNIST test images inverted (255 - x)", manifest)

    names = ", ".join(f"{c} {CLASS_NAMES[c]}" for c in ID_CLASSES)
    held_out = ", ".join(f"{c} {CLASS_NAMES[c]}" for c in OOD_CLASSES)
    train_id, train_id_labels, _ = split_classes(train_images, train_labels)
    test_id, test_id_labels, test_ood = split_classes(test_images, test_labels)
    save(out_dir, "fmnist_train_id6.npy", train_id,
         f"Fashion-MNIST training images of the ID classes ({names})", manifest)
    save(out_dir, "fmnist_train_id6_labels.npy", train_id_labels,
         f"their labels, class {ID_CLASSES} relabelled 0..{len(ID_CLASSES) - 1}", manifest)
    save(out_dir, "fmnist_test_id6.npy", test_id,
         "Fashion-MNIST test images of the ID classes", manifest)
    save(out_dir, "fmnist_test_id6_labels.npy", test_id_labels,
         f"their labels, relabelled 0..{len(ID_CLASSES) - 1}", manifest)
    save(out_dir, "fmnist_test_ood4.npy", test_ood,
         f"Fashion-MNIST test images of the held-out classes ({held_out})", manifest)

    hard_names = ", ".join(f"{c} {CLASS_NAMES[c]}" for c in HARD_ID_CLASSES)
    hard_held_out = ", ".join(f"{c} {CLASS_NAMES[c]}" for c in HARD_OOD_CLASSES)
    train_id, train_id_labels, _ = split_classes(train_images, train_labels, HARD_ID_CLASSES)
    test_id, test_id_labels, test_ood = split_classes(test_images, test_labels,
                                                      HARD_ID_CLASSES)
    save(out_dir, "fmnist_train_hard6.npy", train_id,
         f"Fashion-MNIST training images of the hard split's ID classes ({hard_names})",
         manifest)
    save(out_dir, "fmnist_train_hard6_labels.npy", train_id_labels,
         f"their labels, class {HARD_ID_CLASSES} relabelled 0..{len(HARD_ID_CLASSES) - 1}",
         manifest)
    save(out_dir, "fmnist_test_hard6.npy", test_id,
         "Fashion-MNIST test images of the hard split's ID classes", manifest)
    save(out_dir, "fmnist_test_hard6_labels.npy", test_id_labels,
         f"their labels, relabelled 0..{len(HARD_ID_CLASSES) - 1}", manifest)
    save(out_dir, "fmnist_test_hard_ood4.npy", test_ood,
         f"Fashion-MNIST test images of the hard split's held-out classes ({hard_held_out}), "
         "each with a close ID sibling", manifest)

    partial = os.path.join(out_dir, MANIFEST + ".part")
    with open(partial, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(partial, os.path.join(out_dir, MANIFEST))
    print(f"{PROG}: near-OOD split: ID classes {names}; held out {held_out}", flush=True)
    print(f"{PROG}: train the 6-class backbone with: scripts/train_backbone.py --classes "
          f"{CLASSES_ARG}", flush=True)
    print(f"{PROG}: hard near-OOD split: ID classes {hard_names}; held out {hard_held_out}",
          flush=True)
    print(f"{PROG}: train its backbone with: scripts/train_backbone.py --classes "
          f"{HARD_CLASSES_ARG}", flush=True)


def verify(out_dir: str) -> str:
    """'' when every output listed in the manifest is present and intact, else the reason."""
    path = os.path.join(out_dir, MANIFEST)
    try:
        with open(path) as f:
            manifest = json.load(f)
        files = manifest["files"]
        if (manifest.get("version") != MANIFEST_VERSION or manifest.get("seed") != SEED
                or manifest.get("train_backbone_classes_arg") != CLASSES_ARG
                or manifest.get("hard_split", {}).get("train_backbone_classes_arg")
                != HARD_CLASSES_ARG):
            return f"{path} was written by another version of this script"
    except FileNotFoundError:
        return f"{path} is missing"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return f"{path} is unreadable ({error})"
    expected = {"gaussian_noise.npy", "uniform_noise.npy", "fmnist_vflip.npy",
                "fmnist_inverted.npy", "fmnist_train_id6.npy", "fmnist_train_id6_labels.npy",
                "fmnist_test_id6.npy", "fmnist_test_id6_labels.npy", "fmnist_test_ood4.npy",
                "fmnist_train_hard6.npy", "fmnist_train_hard6_labels.npy",
                "fmnist_test_hard6.npy", "fmnist_test_hard6_labels.npy",
                "fmnist_test_hard_ood4.npy"}
    if set(files) != expected:
        return f"{path} lists other files than expected"
    for name, info in files.items():
        file_path = os.path.join(out_dir, name)
        if not os.path.isfile(file_path):
            return f"{file_path} is missing"
        if os.path.getsize(file_path) != info.get("bytes"):
            return f"{file_path} has {os.path.getsize(file_path)} bytes, expected {info.get('bytes')}"
        if idx_io.sha256_of(file_path) != info.get("sha256"):
            return f"{file_path} does not match its SHA-256 in {MANIFEST}"
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the generated OOD sets (noise, flipped, inverted Fashion-MNIST) and "
                    "the Fashion-MNIST near-OOD splits (ID classes "
                    f"{CLASSES_ARG}, and the hard split {HARD_CLASSES_ARG}) as uint8 .npy "
                    f"arrays, deterministically (seed {SEED}).")
    parser.add_argument("--fmnist-dir", default=DEFAULT_FMNIST_DIR,
                        help="folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] "
                             f"(default {DEFAULT_FMNIST_DIR})")
    parser.add_argument("--out", help="output folder (created if needed)")
    parser.add_argument("--verify", action="store_true",
                        help="only check OUT against its manifest.json: exit 0 if complete and "
                             "intact, 1 (with the reason) otherwise")
    parser.add_argument("--print-classes", action="store_true",
                        help=f"print the ID classes as train_backbone.py's --classes value "
                             f"({CLASSES_ARG}) and exit")
    parser.add_argument("--print-hard-classes", action="store_true",
                        help="print the hard split's ID classes as train_backbone.py's "
                             f"--classes value ({HARD_CLASSES_ARG}) and exit")
    args = parser.parse_args(argv)
    if args.print_classes:
        print(CLASSES_ARG)
        return 0
    if args.print_hard_classes:
        print(HARD_CLASSES_ARG)
        return 0
    if not args.out:
        parser.error("--out is required")
    try:
        if args.verify:
            reason = verify(args.out)
            if reason:
                print(f"{PROG}: {reason}")
                return 1
            print(f"{PROG}: {args.out} is complete and intact")
            return 0
        generate(args.fmnist_dir, args.out)
    except SetsError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
