#!/usr/bin/env python3
"""Export a torchvision classifier as a TorchScript backbone for `oodflow extract`.

`oodflow extract` (C++, LibTorch) never imports Python; it only loads a TorchScript file
that follows this contract:

* `forward(x)` takes a float32 batch [B, C, H, W] that is already preprocessed (scaled to
  [0, 1], then (x - mean) / std per channel);
* it returns a dict `{"features": [B, D], "logits": [B, num_classes]}`, where "features"
  are the penultimate-layer features (the input of the classifier head);
* the classifier head is a submodule named `head`, a torch.nn.Linear, so that the C++ side
  can read `head.weight` [num_classes, D] and `head.bias` [num_classes].

How: the head is the LAST torch.nn.Linear registered in the model (resnet/regnet `fc`,
densenet `classifier`, vit `heads.head`, swin `head`, the last Linear of `classifier` for
convnext, efficientnet, mobilenet and vgg). It is replaced by nn.Identity inside the model,
so the rest of the model ("body") yields the penultimate features, and a small wrapper
computes `features = flatten(body(x), 1)` and `logits = head(features)`. Because "last
registered" is only a proxy for "applied last", the export is always verified: the
reloaded file must reproduce the original model's logits.

After writing OUT it reloads it, checks the logits on a random input against the original
(unwrapped) model, and writes a JSON card `OUT.json` (architecture, weights and their
SHA-256, feature dimension, number of classes, preprocessing, the model file's SHA-256,
torch/torchvision versions, export method). The weights in the file are deterministic,
but its bytes (and so the card's SHA-256) vary between runs unless PYTHONHASHSEED is
fixed: TorchScript writes module constants in Python set order.

Other scripts can reuse the wrapping:

    from export_backbone import wrap_classifier, export_module
    wrapper = wrap_classifier(my_model)        # my_model: any nn.Module ending in a Linear
    method = export_module(wrapper, example_input, "out.pt")

timm models: timm already separates the head, so no module surgery is needed. Either
`model.reset_classifier(0)` (the model then returns penultimate features) with
`head = copy of model.get_classifier()` taken before the reset, or keep the model intact
and use `model.forward_head(model.forward_features(x), pre_logits=True)` for the features
and `model.get_classifier()` for the head. Wrap the same way (a module whose forward
returns {"features": f, "logits": self.head(f)} with the head stored as `self.head`); only
the Linear head matters, so check `isinstance(model.get_classifier(), nn.Linear)`. Use the
model's own preprocessing (`timm.data.resolve_data_config({}, model=model)`) for the card
and for `oodflow extract` instead of the ImageNet defaults.
"""

import argparse
import copy
import difflib
import json
import os
import sys
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idx_io import sha256_of  # noqa: E402

# torchvision's classic ImageNet evaluation recipe, used when the weights are not a
# recognised torchvision release (random weights, fine-tuned checkpoints).
IMAGENET_PREPROCESSING = {
    "resize": 256,
    "crop": 224,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "interpolation": "bilinear",
}

# Relative tolerance of the post-export check. Scripting and tracing replay the same
# kernels, so differences are normally exactly zero; the slack only absorbs reordered
# floating-point sums.
LOGIT_TOLERANCE = 1e-4

TIMM_EPILOG = """\
timm models: model.reset_classifier(0) makes the model return penultimate features
(take head = copy.deepcopy(model.get_classifier()) first), or equivalently use
model.forward_head(model.forward_features(x), pre_logits=True) as the features and
model.get_classifier() as the head; then wrap the same way (forward returns
{"features": f, "logits": self.head(f)}, head stored as self.head, an nn.Linear).
Python users can import the wrapper: from export_backbone import wrap_classifier.
"""


class ExportError(Exception):
    """A problem the user can fix; main() prints it as one line without a stack trace."""


class FeatureClassifier(nn.Module):
    """The exported contract: penultimate features and logits from one forward pass.

    `head` must keep this exact name: the C++ side looks up `head.weight`/`head.bias`.
    """

    def __init__(self, body: nn.Module, head: nn.Linear):
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        features = torch.flatten(self.body(x), 1)
        return {"features": features, "logits": self.head(features)}


def find_linear_head(model: nn.Module) -> Tuple[str, nn.Linear]:
    """Returns (dotted name, module) of the last nn.Linear registered in `model`."""
    found: Optional[Tuple[str, nn.Linear]] = None
    for name, module in model.named_modules():
        # Subclasses count too (e.g. NonDynamicallyQuantizableLinear inside attention), but
        # those sit inside blocks and are never the last one in a classifier.
        if isinstance(module, nn.Linear):
            found = (name, module)
    if found is None or found[0] == "":
        raise ExportError(
            f"no torch.nn.Linear classifier head found in {type(model).__name__} "
            "(models whose classifier is a convolution, e.g. squeezenet, are not supported)"
        )
    return found


def wrap_classifier(model: nn.Module) -> FeatureClassifier:
    """Wraps a classifier so that forward returns {"features", "logits"} (see module doc).

    The model is modified in place (its head becomes nn.Identity) and must not be used
    on its own afterwards; pass a copy to keep the original.
    """
    name, head = find_linear_head(model)
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    # setattr also replaces entries of nn.Sequential ("classifier.3"): they are registered
    # as ordinary child modules under their index.
    setattr(parent, leaf, nn.Identity())
    wrapper = FeatureClassifier(model, head)
    wrapper.train(model.training)
    return wrapper


def export_module(wrapper: nn.Module, example: torch.Tensor, out_path: str) -> str:
    """Saves `wrapper` (in eval mode) as TorchScript; returns "script" or "trace".

    Scripting keeps control flow and works for any input size, so it is preferred. Tracing
    is the fallback for models with Python-only constructs; strict=False is needed because
    the output is a dict.
    """
    wrapper.eval()
    try:
        scripted = torch.jit.script(wrapper)
        method = "script"
    except Exception as error:  # TorchScript raises several unrelated types
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"torch.jit.script failed ({type(error).__name__}: {first_line}); "
              "falling back to torch.jit.trace", flush=True)
        with torch.no_grad():
            scripted = torch.jit.trace(wrapper, example, strict=False)
        method = "trace"
    scripted.save(out_path)
    return method


def classification_architectures():
    # Only the top-level namespace holds image classifiers; detection, segmentation,
    # video and quantized builders live in sub-modules and have other outputs.
    return torchvision.models.list_models(module=torchvision.models)


def load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu")
    except Exception as error:
        raise ExportError(f"cannot read weights '{path}': {error}") from None
    # Training scripts often nest the weights or save them from nn.DataParallel.
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ExportError(f"'{path}' is not a state_dict (a dict of parameter tensors); "
                          "save it with torch.save(model.state_dict(), path)")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def known_torchvision_weights(arch: str, weights_path: str):
    """The torchvision Weights entry this file is, if any, matched by URL file name.

    torchvision names its files `<arch>-<first 8 hex digits of the SHA-256>.pth`, so the
    name identifies the release and with it the preprocessing it was evaluated with.
    """
    try:
        enum = torchvision.models.get_model_weights(arch)
    except (ValueError, KeyError):
        return None
    base = os.path.basename(weights_path)
    for entry in enum:
        if os.path.basename(entry.url) == base:
            return entry
    return None


def preprocessing_of(weights_entry) -> Dict:
    if weights_entry is None:
        return dict(IMAGENET_PREPROCESSING)
    # The transforms object only stores the recipe, so building it is cheap.
    t = weights_entry.transforms()
    return {
        "resize": int(t.resize_size[0]),
        "crop": int(t.crop_size[0]),
        "mean": [float(v) for v in t.mean],
        "std": [float(v) for v in t.std],
        "interpolation": t.interpolation.value,
    }


# googlenet and inception_v3 are built differently when torchvision loads its own weights:
# the auxiliary heads must exist to load the checkpoint, and `transform_input` re-maps
# ImageNet-normalised input to the (x - 0.5) / 0.5 range those weights were trained on.
AUX_ARCHS = {"googlenet": ("aux1", "aux2"), "inception_v3": ("AuxLogits",)}


def build_model(arch: str, weights: Optional[str], num_classes: int, seed: int) -> nn.Module:
    builder = torchvision.models.get_model_builder(arch)
    torch.manual_seed(seed)
    if weights is None:
        kwargs = {"num_classes": num_classes}
        if arch in AUX_ARCHS:
            kwargs["init_weights"] = True  # silences the "default init will change" warning
        model = builder(weights=None, **kwargs)
        model.eval()
        return model

    state = load_state_dict(weights)
    kwargs = {}
    if arch in AUX_ARCHS:
        kwargs = {"aux_logits": True, "transform_input": True, "init_weights": False}
    # Fine-tuned checkpoints have another class count: read it from the head's weight.
    probe = builder(weights=None, **kwargs)
    head_name, _ = find_linear_head(probe)
    head_weight = state.get(head_name + ".weight")
    if head_weight is not None and head_weight.dim() == 2:
        kwargs["num_classes"] = int(head_weight.shape[0])
    model = builder(weights=None, **kwargs)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:
        # Shape mismatches raise even when strict=False; keep the first one as the hint.
        lines = [l.strip() for l in str(error).splitlines() if "size mismatch" in l]
        detail = lines[0] if lines else str(error).strip().splitlines()[0]
        raise ExportError(f"weights '{weights}' do not match architecture '{arch}': "
                          f"{detail}") from None
    if arch in AUX_ARCHS:
        aux_prefixes = tuple(name + "." for name in AUX_ARCHS[arch])
        missing = [k for k in missing if not k.startswith(aux_prefixes)]
        # The auxiliary heads only exist for training; drop them as torchvision does.
        model.aux_logits = False
        for name in AUX_ARCHS[arch]:
            setattr(model, name, None)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise ExportError(f"weights '{weights}' do not match architecture '{arch}': "
                          + ", ".join(parts) + " parameter names")
    model.eval()
    return model


def reference_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = model(x)
    # Some classifiers return named tuples in special modes; the logits come first.
    if not torch.is_tensor(out):
        out = out[0]
    return out


def verify_export(path: str, x: torch.Tensor, expected_logits: torch.Tensor,
                  head: nn.Linear) -> Dict:
    """Reloads `path` and checks it against the original model's logits on `x`."""
    loaded = torch.jit.load(path, map_location="cpu")
    loaded.eval()
    with torch.no_grad():
        out = loaded(x)
    if not isinstance(out, dict) or set(out) != {"features", "logits"}:
        raise ExportError(f"exported model returns {type(out).__name__}, "
                          "expected a dict with 'features' and 'logits'")
    features, logits = out["features"], out["logits"]
    if features.shape != (x.shape[0], head.in_features):
        raise ExportError(f"exported features have shape {tuple(features.shape)}, expected "
                          f"({x.shape[0]}, {head.in_features}): the last Linear registered "
                          "is probably not the classifier head")
    scale = max(1.0, float(expected_logits.abs().max()))
    max_diff = float((logits - expected_logits).abs().max())
    if not max_diff <= LOGIT_TOLERANCE * scale:
        raise ExportError(f"exported logits differ from the original model's by {max_diff:.3g} "
                          f"(tolerance {LOGIT_TOLERANCE * scale:.3g}): the last Linear "
                          "registered is probably not the classifier head")
    if not hasattr(loaded, "head") or not hasattr(loaded.head, "weight"):
        raise ExportError("exported model has no 'head' submodule with a weight")
    return {"max_abs_logit_diff": max_diff, "checked_batch": int(x.shape[0])}


def export_backbone(args) -> Dict:
    arch = args.arch
    archs = classification_architectures()
    if arch not in archs:
        close = difflib.get_close_matches(arch, archs, n=3)
        hint = (f"did you mean {', '.join(close)}?" if close
                else f"{len(archs)} are known, listed by "
                     "torchvision.models.list_models(module=torchvision.models)")
        raise ExportError(f"unknown torchvision classification architecture '{arch}' ({hint})")
    if args.weights is not None and not os.path.isfile(args.weights):
        raise ExportError(f"weights file '{args.weights}' does not exist")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise ExportError(f"output directory '{out_dir}' does not exist")

    model = build_model(arch, args.weights, args.num_classes, args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    size = args.image_size
    # Trace with one batch size and verify with another, so a batch size baked into a
    # traced graph is caught here rather than in `oodflow extract`.
    example = torch.randn(2, 3, size, size, generator=generator)
    check = torch.randn(3, 3, size, size, generator=generator)
    try:
        expected = reference_logits(model, check)
    except Exception as error:
        raise ExportError(f"{arch} does not run on {size}x{size} input: "
                          f"{str(error).strip().splitlines()[0]}") from None

    wrapper = wrap_classifier(copy.deepcopy(model))
    head = wrapper.head
    method = export_module(wrapper, example, args.out)
    print(f"exported {arch} with torch.jit.{method} to {args.out}")
    check_info = verify_export(args.out, check, expected, head)
    print(f"check: reloaded logits match the original model "
          f"(max abs diff {check_info['max_abs_logit_diff']:.3g})")

    weights_entry = known_torchvision_weights(arch, args.weights) if args.weights else None
    card = {
        "arch": arch,
        "weights": (os.path.abspath(args.weights) if args.weights
                    else f"random (seed {args.seed})"),
        "weights_sha256": sha256_of(args.weights) if args.weights else None,
        "torchvision_weights": str(weights_entry) if weights_entry is not None else None,
        "feature_dim": int(head.in_features),
        "num_classes": int(head.out_features),
        "head_has_bias": head.bias is not None,
        "image_size": size,
        # The recipe torchvision evaluates this model with, as `oodflow extract` must
        # replicate it; the classic one when the weights are not a known release.
        "preprocessing": preprocessing_of(weights_entry),
        "preprocessing_source": ("torchvision weights metadata" if weights_entry is not None
                                 else "torchvision ImageNet default (assumed)"),
        "model_file": os.path.basename(args.out),
        "model_sha256": sha256_of(args.out),
        "export_method": method,
        "check": check_info,
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
    }
    card_path = args.out + ".json"
    with open(card_path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"card: {card_path} (features {card['feature_dim']}, classes {card['num_classes']})")
    return card


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Export a torchvision classifier as a TorchScript backbone whose forward "
                    "returns {'features': [B, D], 'logits': [B, classes]} with the head as "
                    "submodule 'head', for `oodflow extract`. Writes OUT and OUT.json.",
        epilog=TIMM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--arch", required=True,
                        help="torchvision.models builder name, e.g. resnet18, resnet50, "
                             "densenet121, vit_b_16, convnext_tiny, efficientnet_b0, swin_t")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", metavar="FILE",
                        help="torchvision state_dict (.pth) to load")
    source.add_argument("--random-weights", action="store_true",
                        help="use the architecture's random initialisation (seeded by --seed)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random weights and of the check input (default 0)")
    parser.add_argument("--num-classes", type=int, default=1000,
                        help="classes of the random head (default 1000); with --weights the "
                             "count is read from the checkpoint")
    parser.add_argument("--image-size", type=int, default=224,
                        help="side of the example/check input (default 224)")
    parser.add_argument("--out", required=True, metavar="MODEL.pt",
                        help="TorchScript file to write; the card goes to MODEL.pt.json")
    args = parser.parse_args(argv)
    if args.num_classes < 1:
        parser.error("--num-classes must be at least 1")
    if args.image_size < 1:
        parser.error("--image-size must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    prog = os.path.basename(sys.argv[0])
    try:
        export_backbone(args)
    except ExportError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
