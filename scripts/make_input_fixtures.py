#!/usr/bin/env python3
"""Writes tests/data/inputs/: small TorchScript backbones as other tools export them.

Run with Debian's interpreter (it has torch): /usr/bin/python3 scripts/make_input_fixtures.py
Deterministic (torch.manual_seed per model). Each backbone takes [B, 3, H, W] images (any H, W:
global pooling) and has 16-d features and 5 classes. See tests/data/inputs/README.md.
"""
import os
import sys

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "inputs")


class Body(nn.Module):
    """Conv -> ReLU -> global average pool: [B, 3, H, W] -> [B, 16]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


class TorchvisionStyle(nn.Module):
    """The head is `fc`, as in torchvision's ResNets; returns (features, logits)."""

    def __init__(self):
        super().__init__()
        self.body = Body()
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        f = self.body(x)
        return f, self.fc(f)


class TimmHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.0)
        self.fc = nn.Linear(16, 5)

    def forward(self, f):
        return self.fc(self.drop(f))


class TimmStyle(nn.Module):
    """The head is `head.fc` (timm's ClassifierHead); returns a dict."""

    def __init__(self):
        super().__init__()
        self.body = Body()
        self.head = TimmHead()

    def forward(self, x):
        f = self.body(x)
        return {"features": f, "logits": self.head(f)}


class ClassifierStyle(nn.Module):
    """The head is `classifier.1` (VGG/MobileNet style Sequential), and a decoy `aux` of the
    same [5, 16] shape that does not make the logits."""

    def __init__(self):
        super().__init__()
        self.body = Body()
        self.aux = nn.Linear(16, 5)
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(16, 5))

    def forward(self, x):
        f = self.body(x)
        return {"features": f, "logits": self.classifier(f), "aux": self.aux(f)}


class MlpHead(nn.Module):
    """Logits from a two-layer MLP: no single linear map of the features gives them."""

    def __init__(self):
        super().__init__()
        self.body = Body()
        self.hidden = nn.Linear(16, 16)
        self.out = nn.Linear(16, 5)

    def forward(self, x):
        f = self.body(x)
        return f, self.out(torch.relu(self.hidden(f)))


class CudaInForward(nn.Module):
    """Creates a tensor on CUDA inside forward (code written for a GPU machine)."""

    def __init__(self):
        super().__init__()
        self.body = Body()

    def forward(self, x):
        offset = torch.zeros(1, device="cuda")
        return self.body(x) + offset.to(x.device)


def save(module, name):
    torch.manual_seed(0)
    module.eval()
    scripted = torch.jit.script(module)
    path = os.path.join(OUT, name)
    scripted.save(path)
    print(f"{name}: {os.path.getsize(path)} bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    for cls, name in [(TorchvisionStyle, "head_fc.pt"), (TimmStyle, "head_timm.pt"),
                      (ClassifierStyle, "head_classifier.pt"), (MlpHead, "head_mlp.pt"),
                      (CudaInForward, "cuda_in_forward.pt")]:
        torch.manual_seed(0)
        save(cls(), name)
    torch.manual_seed(0)
    half = TorchvisionStyle().half()
    save(half, "half_weights.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
