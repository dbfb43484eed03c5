#!/usr/bin/python3
"""Train a compact ResNet on Fashion-MNIST and export it as an `oodflow extract` backbone.

Runs with Debian's /usr/bin/python3 (python3-torch 1.13 CPU, python3-torchvision, numpy)
and reads the IDX .gz files of Debian's `dataset-fashion-mnist` package directly
(/usr/share/datasets/fashion-mnist/, or --data-dir); nothing is downloaded.

    /usr/bin/python3 scripts/train_backbone.py --out configs/backbones/fmnist_resnet.pt
    /usr/bin/python3 scripts/train_backbone.py --classes 0,1,2,3,4,6 \\
        --out configs/backbones/fmnist6_resnet.pt     # near-OOD split of make_ood_sets.py

Model: a ResNet with basic blocks for 28x28x1 input: stem conv3x3 (1 -> W) + BN + ReLU,
three stages of two basic blocks with W, 2W, 4W channels and strides 1, 2, 2 (1x1
projection shortcuts where the shape changes), global average pooling to 4W features and a
Linear head named `fc` (W = --width, default 32: 128-d features, ~0.7 M parameters, ~2.8 MB
saved). Input preprocessing is read from configs/extract_grey28.json, i.e. exactly what
`oodflow extract --config configs/extract_grey28.json` feeds the exported model:
x / 255, then (x - mean) / std with Fashion-MNIST's mean 0.2860 and std 0.3530, one channel.

Training: random 28x28 crop of the image zero-padded by 2 pixels (zero = black, the
background of Fashion-MNIST) and random horizontal flip; cross-entropy; SGD with Nesterov
momentum 0.9 and weight decay 5e-4 on every parameter; one-cycle learning rate per step
(linear warm-up from lr/10 to --lr over the first 25% of the steps, cosine annealing to
lr/1000), momentum kept at 0.9. With --classes only the images of those classes are used,
relabelled 0..k-1 in the order given; test accuracy is measured on the test images of the
same classes.

Determinism: torch, numpy and the data order/augmentation are seeded by --seed, and
torch.use_deterministic_algorithms(True) is switched on. The script re-executes itself with
PYTHONHASHSEED=0 (as scripts/make_extract_fixtures.py does) because TorchScript writes a
module's constants in Python set order, which follows the per-process string hashing: with
the hash fixed, the same command, thread count and torch build write a byte-identical .pt.
(The archive also stores the file's base name as its record prefix, so the bytes, and the
SHA-256, depend on the output file name too.)

Export: the trained model is wrapped by scripts/export_backbone.py's `wrap_classifier`
(forward returns {"features": [B, 4W], "logits": [B, k]}, head kept as submodule `head`),
scripted with torch.jit.script, saved, reloaded and checked: its logits on the whole test
set must match the eager model's (relative tolerance 1e-4) and give the same accuracy.
A JSON card goes next to the model (`<out>.json`): the command line, the classes, the
architecture, hyper-parameters, accuracies, training time, versions, the model's SHA-256
and the preprocessing.

Expected failures (missing data, bad options) print one line on stderr and exit 1.
"""

import os
import sys

if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    # See the module docstring: fixes the order of constants in the saved TorchScript file.
    # sys.argv[0] is kept as given (the working directory is unchanged) so that the card
    # records the command line as the user typed it.
    script = sys.argv[0] if os.path.isfile(sys.argv[0]) else os.path.abspath(__file__)
    os.execve(sys.executable, [sys.executable, script] + sys.argv[1:],
              dict(os.environ, PYTHONHASHSEED="0"))

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "train_backbone.py"


def fail(message: str, code: int = 1):
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as error:
    fail(f"{error.name} is not importable by {sys.executable}: run this script with Debian's "
         "/usr/bin/python3 (apt-get install python3-torch python3-torchvision python3-numpy)")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# export_backbone.py sits next to this script; no __pycache__ is left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from export_backbone import LOGIT_TOLERANCE, export_module, wrap_classifier  # noqa: E402
import idx_io  # noqa: E402

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
PREPROCESSING_CONFIG = os.path.join("configs", "extract_grey28.json")
INSTALL_HINT = "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
IMAGE_SIZE = 28
PAD = 2                  # random-crop padding (pixels, zero-filled)
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
WARMUP_FRACTION = 0.25   # one-cycle: share of the steps spent warming up
START_DIV = 10.0         # initial lr = lr / START_DIV
FINAL_DIV = 1000.0       # final lr = lr / FINAL_DIV
EVAL_BATCH = 1000


class TrainError(Exception):
    """A problem the user can fix; main() prints it as one line without a stack trace."""


def read_idx(path: str, dims: int) -> np.ndarray:
    try:
        return idx_io.read_idx(path, dims)
    except idx_io.IdxError as error:
        raise TrainError(str(error)) from None


# ----------------------------------------------------------------------------- data

def find_file(data_dir: str, stem: str) -> str:
    for name in (stem + ".gz", stem):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    raise TrainError(f"Fashion-MNIST file {os.path.join(data_dir, stem + '.gz')} is missing: "
                     + INSTALL_HINT)


def load_split(data_dir: str, split: str):
    images = read_idx(find_file(data_dir, f"{split}-images-idx3-ubyte"), 3)
    labels = read_idx(find_file(data_dir, f"{split}-labels-idx1-ubyte"), 1)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise TrainError(f"{split} images are {images.shape[1]}x{images.shape[2]}, "
                         f"expected {IMAGE_SIZE}x{IMAGE_SIZE}")
    if len(images) != len(labels):
        raise TrainError(f"{split}: {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise TrainError(f"{split} labels go up to {labels.max()}; Fashion-MNIST has 10 classes")
    return images, labels


def select_classes(images: np.ndarray, labels: np.ndarray, classes):
    """Keeps the images of `classes` (in file order) and relabels class classes[i] as i."""
    remap = np.full(len(CLASS_NAMES), -1, dtype=np.int64)
    remap[np.asarray(classes)] = np.arange(len(classes))
    new_labels = remap[labels]
    keep = new_labels >= 0
    return images[keep], new_labels[keep]


def read_preprocessing(path: str):
    try:
        with open(path) as f:
            config = json.load(f)["extract"]
        values = {
            "resize": int(config["resize"]),
            "crop": int(config["crop"]),
            "channels": int(config["channels"]),
            "mean": [float(v) for v in config["mean"]],
            "std": [float(v) for v in config["std"]],
        }
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TrainError(f"cannot read the preprocessing from '{path}': {error}") from None
    if (values["channels"] != 1 or len(values["mean"]) != 1 or len(values["std"]) != 1
            or values["crop"] != IMAGE_SIZE or values["resize"] not in (0, IMAGE_SIZE)):
        raise TrainError(f"'{path}' is not a 28x28 one-channel preset: {values}")
    return values


def normalise(images_u8: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 [B, H, W] -> float32 [B, 1, H, W], as oodflow extract: x / 255, (x - m) / s."""
    x = images_u8.to(torch.float32).div_(255.0)
    return x.sub_(mean).div_(std).unsqueeze(1)


def augment(images_u8: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop of the zero-padded image (offsets 0..2*PAD) and random horizontal flip."""
    count, height, width = images_u8.shape
    padded = F.pad(images_u8, (PAD, PAD, PAD, PAD))
    dy = torch.randint(0, 2 * PAD + 1, (count,), generator=generator)
    dx = torch.randint(0, 2 * PAD + 1, (count,), generator=generator)
    flip = torch.rand(count, generator=generator) < 0.5
    rows = dy[:, None] + torch.arange(height)                      # [B, H]
    cols = dx[:, None] + torch.arange(width)                       # [B, W]
    cols = torch.where(flip[:, None], cols.flip(1), cols)          # mirrored read = flip
    index = torch.arange(count)[:, None, None]
    return padded[index, rows[:, :, None], cols[:, None, :]]


# ---------------------------------------------------------------------------- model

class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus shortcut, then ReLU (He et al., 2016)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class SmallResNet(nn.Module):
    """ResNet for 28x28x1 input; `fc` is the last Linear, as wrap_classifier expects."""

    def __init__(self, num_classes: int, width: int = 32, blocks_per_stage: int = 2):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        stages = []
        in_channels = width
        for multiplier, stride in ((1, 1), (2, 2), (4, 2)):
            out_channels = width * multiplier
            blocks = [BasicBlock(in_channels, out_channels, stride)]
            blocks += [BasicBlock(out_channels, out_channels, 1)
                       for _ in range(blocks_per_stage - 1)]
            stages.append(nn.Sequential(*blocks))
            in_channels = out_channels
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = in_channels
        self.fc = nn.Linear(in_channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        # Each residual branch starts as zero, so every block starts as the identity:
        # faster, steadier convergence for short schedules.
        for module in self.modules():
            if isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def describe_architecture(width: int, blocks: int, num_classes: int) -> dict:
    depth = 1 + 3 * blocks * 2 + 1
    return {
        "name": f"ResNet-{depth} (basic blocks, post-activation) for 28x28x1",
        "class": "SmallResNet in scripts/train_backbone.py",
        "stem": f"conv3x3(1->{width}), BatchNorm, ReLU",
        "stages": [{"channels": width * m, "blocks": blocks, "stride": s}
                   for m, s in ((1, 1), (2, 2), (4, 2))],
        "shortcut": "identity, or conv1x1 + BatchNorm when the shape changes",
        "pool": "global average",
        "head": f"Linear({4 * width}, {num_classes}) ('fc' while training, 'head' exported)",
        "input": [1, IMAGE_SIZE, IMAGE_SIZE],
    }


# ------------------------------------------------------------------------- training

def one_cycle_lr(step: int, total: int, peak: float) -> float:
    """Linear warm-up from peak/START_DIV, then cosine annealing down to peak/FINAL_DIV."""
    warm = max(1, int(round(WARMUP_FRACTION * total)))
    start, end = peak / START_DIV, peak / FINAL_DIV
    if step < warm:
        return start + (peak - start) * step / warm
    progress = (step - warm) / max(1, total - 1 - warm)
    return end + (peak - end) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def predict(model, images_u8: torch.Tensor, mean: float, std: float, exported: bool = False):
    """Logits (and, for the exported module, features) over a uint8 image tensor."""
    logits, features = [], []
    for start in range(0, len(images_u8), EVAL_BATCH):
        x = normalise(images_u8[start:start + EVAL_BATCH], mean, std)
        out = model(x)
        if exported:
            logits.append(out["logits"])
            features.append(out["features"])
        else:
            logits.append(out)
    return torch.cat(logits), (torch.cat(features) if exported else None)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).double().mean()) if len(labels) else float("nan")


def format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def train(args, classes, preprocessing):
    mean, std = preprocessing["mean"][0], preprocessing["std"][0]
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    try:
        torch.use_deterministic_algorithms(True)
        deterministic = True
    except Exception:  # older or unusual builds: still seeded, only not enforced
        deterministic = False

    train_images, train_labels = load_split(args.data_dir, "train")
    test_images, test_labels = load_split(args.data_dir, "t10k")
    train_images, train_labels = select_classes(train_images, train_labels, classes)
    test_images, test_labels = select_classes(test_images, test_labels, classes)
    if args.limit is not None:
        train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
    if len(train_images) < 2:
        raise TrainError("fewer than 2 training images selected")
    x_train = torch.from_numpy(np.ascontiguousarray(train_images))
    y_train = torch.from_numpy(train_labels)
    x_test = torch.from_numpy(np.ascontiguousarray(test_images))
    y_test = torch.from_numpy(test_labels)
    n = len(x_train)
    steps_per_epoch = math.ceil(n / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    print(f"data: {n} training images, {len(x_test)} test images, classes "
          + ", ".join(f"{c} {CLASS_NAMES[c]}" for c in classes)
          + f"; {steps_per_epoch} steps of {args.batch_size} per epoch, {args.epochs} epochs, "
          f"{args.threads} threads", flush=True)

    model = SmallResNet(len(classes), args.width)
    # channels_last runs oneDNN's convolutions ~20% faster here; the model goes back to the
    # default layout before evaluation and export.
    model = model.to(memory_format=torch.channels_last)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"model: {describe_architecture(args.width, 2, len(classes))['name']}, "
          f"{parameters} parameters, {model.feature_dim}-d features", flush=True)
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr / START_DIV, momentum=MOMENTUM,
                                nesterov=True, weight_decay=WEIGHT_DECAY)
    order_rng = np.random.default_rng(args.seed)
    augment_gen = torch.Generator().manual_seed(args.seed)

    step = 0
    started = time.perf_counter()
    history = []
    running_accuracy = float("nan")
    for epoch in range(1, args.epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        order = torch.from_numpy(order_rng.permutation(n))
        loss_sum, correct, seen = 0.0, 0, 0
        for batch in range(steps_per_epoch):
            index = order[batch * args.batch_size:(batch + 1) * args.batch_size]
            x = normalise(augment(x_train[index], augment_gen), mean, std)
            x = x.contiguous(memory_format=torch.channels_last)
            y = y_train[index]
            lr = one_cycle_lr(step, total_steps, args.lr)
            for group in optimiser.param_groups:
                group["lr"] = lr
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            loss_value = float(loss)
            if not math.isfinite(loss_value):
                raise TrainError(f"the loss became {loss_value} at epoch {epoch}, step {batch + 1}"
                                 f"; lower --lr (now {args.lr})")
            loss_sum += loss_value * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            if epoch == 1 and batch + 1 == min(20, steps_per_epoch) and steps_per_epoch > 20:
                # First estimate, from the steady-state batches (the first ones warm up).
                per_batch = (time.perf_counter() - epoch_start) / (batch + 1)
                estimate = per_batch * steps_per_epoch
                print(f"timing: {per_batch * 1000:.0f} ms per batch -> ~{format_seconds(estimate)}"
                      f" per epoch of {n} images, ~{format_seconds(estimate * args.epochs)} "
                      f"for {args.epochs} epochs", flush=True)
        epoch_seconds = time.perf_counter() - epoch_start
        running_accuracy = correct / seen
        elapsed = time.perf_counter() - started
        remaining = elapsed / epoch * (args.epochs - epoch)
        history.append({"epoch": epoch, "loss": loss_sum / seen,
                        "train_accuracy_running": running_accuracy,
                        "seconds": round(epoch_seconds, 1)})
        print(f"epoch {epoch}/{args.epochs}: loss {loss_sum / seen:.4f}, train accuracy "
              f"{100 * running_accuracy:.2f}% (augmented, running), lr {lr:.4g}, "
              f"{epoch_seconds:.1f} s ({seen / epoch_seconds:.0f} images/s), "
              f"~{epoch_seconds / seen * 60000:.0f} s per 60000 images"
              + (f", about {format_seconds(remaining)} left" if epoch < args.epochs else ""),
              flush=True)
    train_seconds = time.perf_counter() - started

    model = model.to(memory_format=torch.contiguous_format).eval()
    evaluation_start = time.perf_counter()
    train_logits, _ = predict(model, x_train, mean, std)
    test_logits, _ = predict(model, x_test, mean, std)
    train_accuracy = accuracy(train_logits, y_train)
    test_accuracy = accuracy(test_logits, y_test)
    print(f"eval: train accuracy {100 * train_accuracy:.2f}% (no augmentation), test accuracy "
          f"{100 * test_accuracy:.2f}% on {len(x_test)} images "
          f"({time.perf_counter() - evaluation_start:.1f} s)", flush=True)
    return {
        "model": model,
        "x_test": x_test,
        "y_test": y_test,
        "test_logits": test_logits,
        "train_accuracy": train_accuracy,
        "train_accuracy_running_last_epoch": running_accuracy,
        "test_accuracy": test_accuracy,
        "train_count": n,
        "test_count": len(x_test),
        "parameters": parameters,
        "history": history,
        "train_seconds": train_seconds,
        "deterministic": deterministic,
    }


def export_and_check(result, out_path: str, preprocessing):
    """Scripts the wrapped model into out_path and checks it on the whole test set."""
    mean, std = preprocessing["mean"][0], preprocessing["std"][0]
    model = result["model"]
    wrapper = wrap_classifier(copy.deepcopy(model).eval())
    out_dir = os.path.dirname(os.path.abspath(out_path))
    # Written under the final base name (the TorchScript archive stores it as its record
    # prefix) in a temporary folder, and moved into place only once it passed the checks.
    staging = tempfile.mkdtemp(prefix=".train_backbone.", dir=out_dir)
    try:
        staged = os.path.join(staging, os.path.basename(out_path))
        example = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE)
        method = export_module(wrapper, example, staged)
        loaded = torch.jit.load(staged, map_location="cpu")
        loaded.eval()
        head = getattr(loaded, "head", None)
        if head is None or not hasattr(head, "weight") or \
                tuple(head.weight.shape) != (model.fc.out_features, model.feature_dim):
            raise TrainError("the exported module has no 'head' of the expected shape")
        logits, features = predict(loaded, result["x_test"], mean, std, exported=True)
        expected = result["test_logits"]
        if features.shape != (len(expected), model.feature_dim):
            raise TrainError(f"exported features have shape {tuple(features.shape)}, expected "
                             f"({len(expected)}, {model.feature_dim})")
        scale = max(1.0, float(expected.abs().max()))
        max_diff = float((logits - expected).abs().max())
        if not max_diff <= LOGIT_TOLERANCE * scale:
            raise TrainError(f"exported logits differ from the eager model's by {max_diff:.3g} "
                             f"(tolerance {LOGIT_TOLERANCE * scale:.3g})")
        exported_accuracy = accuracy(logits, result["y_test"])
        disagreements = int((logits.argmax(1) != expected.argmax(1)).sum())
        if exported_accuracy != result["test_accuracy"]:
            raise TrainError(f"exported test accuracy {exported_accuracy:.6f} differs from the "
                             f"eager one {result['test_accuracy']:.6f} ({disagreements} "
                             "predictions differ)")
        os.replace(staged, out_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"export: torch.jit.{method} -> {out_path}; reloaded logits match the eager model on "
          f"{len(expected)} test images (max abs diff {max_diff:.3g}), same test accuracy "
          f"{100 * exported_accuracy:.2f}%", flush=True)
    return {
        "export_method": method,
        "check": {
            "images": len(expected),
            "max_abs_logit_diff": max_diff,
            "tolerance": LOGIT_TOLERANCE * scale,
            "exported_test_accuracy": exported_accuracy,
            "prediction_disagreements": disagreements,
        },
    }


def write_card(args, classes, preprocessing, result, export_info, command):
    card = {
        "command": command,
        "model_file": os.path.basename(args.out),
        "model_sha256": idx_io.sha256_of(args.out),
        "model_bytes": os.path.getsize(args.out),
        "dataset": {
            "name": "Fashion-MNIST",
            "source": os.path.abspath(args.data_dir),
            "debian_package": "dataset-fashion-mnist",
            "train_images": result["train_count"],
            "test_images": result["test_count"],
            "limit": args.limit,
        },
        "classes": [{"index": i, "fashion_mnist_id": c, "name": CLASS_NAMES[c]}
                    for i, c in enumerate(classes)],
        "classes_arg": ",".join(str(c) for c in classes),
        "num_classes": len(classes),
        "architecture": describe_architecture(args.width, 2, len(classes)),
        "width": args.width,
        "parameters": result["parameters"],
        "feature_dim": 4 * args.width,
        "outputs": {"features": f"[B, {4 * args.width}] global-average-pooled last stage "
                                "(input of the head)",
                    "logits": f"[B, {len(classes)}]"},
        "training": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "optimizer": "SGD",
            "momentum": MOMENTUM,
            "nesterov": True,
            "weight_decay": WEIGHT_DECAY,
            "lr_schedule": {"name": "one-cycle (per step)", "peak_lr": args.lr,
                            "start_lr": args.lr / START_DIV, "final_lr": args.lr / FINAL_DIV,
                            "warmup_fraction": WARMUP_FRACTION,
                            "warmup": "linear", "anneal": "cosine"},
            "loss": "cross-entropy",
            "augmentation": [f"random {IMAGE_SIZE}x{IMAGE_SIZE} crop of the image zero-padded "
                             f"by {PAD} pixels", "random horizontal flip (p = 0.5)"],
            "seed": args.seed,
            "threads": args.threads,
            "deterministic_algorithms": result["deterministic"],
            "python_hash_seed": os.environ.get("PYTHONHASHSEED"),
            "history": result["history"],
        },
        "train_accuracy": result["train_accuracy"],
        "train_accuracy_note": "eval mode, no augmentation, on the training images used",
        "train_accuracy_running_last_epoch": result["train_accuracy_running_last_epoch"],
        "test_accuracy": result["test_accuracy"],
        "test_accuracy_note": "on the Fashion-MNIST test images of the selected classes",
        "train_seconds": round(result["train_seconds"], 1),
        "seconds_per_epoch": round(result["train_seconds"] / args.epochs, 1),
        "preprocessing": dict(preprocessing, config=PREPROCESSING_CONFIG,
                              scale="x / 255, then (x - mean) / std",
                              input_dtype="float32 [B, 1, 28, 28]"),
        "export": export_info,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }
    try:
        import torchvision
        card["torchvision_version"] = torchvision.__version__
    except ImportError:
        card["torchvision_version"] = None
    card_path = args.out + ".json"
    with open(card_path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"card: {card_path} (model SHA-256 {card['model_sha256'][:16]}..., "
          f"{card['model_bytes'] / 1e6:.2f} MB)", flush=True)


# ------------------------------------------------------------------------------ CLI

def parse_classes(text: str):
    try:
        classes = [int(part) for part in text.split(",")]
    except ValueError:
        raise TrainError(f"--classes '{text}' is not a comma-separated list of class ids "
                         "(0-9)") from None
    bad = [c for c in classes if not 0 <= c < len(CLASS_NAMES)]
    if bad:
        raise TrainError(f"--classes: {bad[0]} is not a Fashion-MNIST class id (0-9)")
    if len(set(classes)) != len(classes):
        raise TrainError(f"--classes '{text}' repeats a class")
    if len(classes) < 2:
        raise TrainError("--classes needs at least 2 classes")
    return classes


def parse_args(argv=None):
    names = ", ".join(f"{i} {name}" for i, name in enumerate(CLASS_NAMES))
    parser = argparse.ArgumentParser(
        description="Train a compact ResNet on Fashion-MNIST (Debian's dataset-fashion-mnist) "
                    "and export it as a TorchScript backbone for `oodflow extract --config "
                    "configs/extract_grey28.json`. Writes OUT and OUT.json.",
        epilog=f"Fashion-MNIST classes: {names}.")
    parser.add_argument("--classes", default=",".join(str(i) for i in range(10)),
                        help="class ids to train on, relabelled 0..k-1 in this order "
                             "(default: all 10)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs (default 8)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default 128)")
    parser.add_argument("--lr", type=float, default=0.1,
                        help="peak learning rate of the one-cycle schedule (default 0.1)")
    parser.add_argument("--width", type=int, default=32,
                        help="channels of the first stage; the stages have W, 2W, 4W and the "
                             "features 4W dimensions (default 32: 128-d features)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="use only the first N training images of the selected classes "
                             "(quick tests)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                        help="folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] "
                             f"(default {DEFAULT_DATA_DIR})")
    parser.add_argument("--out", required=True, metavar="MODEL.pt",
                        help="TorchScript file to write (its folder is created if needed); the "
                             "card goes to MODEL.pt.json")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "width", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.limit is not None and args.limit < 2:
        parser.error("--limit must be at least 2")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        parser.error("--lr must be a positive number")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    command = shlex.join([sys.executable] + sys.argv)
    try:
        classes = parse_classes(args.classes)
        out_dir = os.path.dirname(os.path.abspath(args.out))
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as error:
            raise TrainError(f"cannot create the output directory '{out_dir}': "
                             f"{error.strerror}") from None
        if not os.access(out_dir, os.W_OK):
            raise TrainError(f"output directory '{out_dir}' is not writable")
        if not os.path.isdir(args.data_dir):
            raise TrainError(f"Fashion-MNIST folder {args.data_dir} is missing: " + INSTALL_HINT)
        preprocessing = read_preprocessing(os.path.join(REPO, PREPROCESSING_CONFIG))
        result = train(args, classes, preprocessing)
        export_info = export_and_check(result, args.out, preprocessing)
        write_card(args, classes, preprocessing, result, export_info, command)
    except TrainError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
