"""Differentiable augmentation (DiffAugment, Zhao et al. 2020): colour, translation and cutout.

A pure function of a batch: applied to real *and* fake images before the discriminator, in every D and G step
(``+remedy=diffaugment``, ``model.remedies.diffaugment.policy=color,translation,cutout``; the model's input wrapper
:class:`gan_lab.nets.DiscriminatorInput` calls it), so G learns through the augmentation and D never sees an
un-augmented image. Every operation is differentiable in the images. ``group=m`` draws one random transform per
``m`` consecutive images (a PacGAN pack is augmented as one). The parameterised operations (``translate``,
``cutout``) are exact and testable by hand; the random draws follow the official implementation
(github.com/mit-han-lab/data-efficient-gans).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_lab.errors import ConfigError

POLICIES = ("color", "translation", "cutout")


def _uniform(n: int, group: int, x: Tensor) -> Tensor:
    """U[0, 1) per group of ``group`` images, repeated over the group: shape (n, 1, 1, 1)."""
    return torch.rand(n // group, 1, 1, 1, device=x.device, dtype=x.dtype).repeat_interleave(group, 0)


def _integers(low: int, high: int, n: int, group: int, x: Tensor) -> Tensor:
    return torch.randint(low, high, (n // group,), device=x.device).repeat_interleave(group, 0)


def color(x: Tensor, group: int = 1) -> Tensor:
    """Random brightness (±0.5), saturation (×[0, 2]) and contrast (×[0.5, 1.5])."""
    n = len(x)
    x = x + (_uniform(n, group, x) - 0.5)
    mean = x.mean(1, keepdim=True)
    x = (x - mean) * (_uniform(n, group, x) * 2) + mean
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(n, group, x) + 0.5) + mean


def translate(x: Tensor, dx: Tensor, dy: Tensor) -> Tensor:
    """Shift image i by (dx[i], dy[i]) pixels (x: columns, y: rows), zero-filling what comes in."""
    n, _, h, w = x.shape
    rows = (torch.arange(h, device=x.device)[None, :, None] - dy.view(n, 1, 1)).clamp(-1, h)  # source row
    cols = (torch.arange(w, device=x.device)[None, None, :] - dx.view(n, 1, 1)).clamp(-1, w)
    padded = F.pad(x, [1, 1, 1, 1])  # index -1 and h (w) land on the zero border
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows + 1, cols + 1].permute(0, 3, 1, 2)


def cutout(x: Tensor, cx: Tensor, cy: Tensor, size: int) -> Tensor:
    """Zero a size×size square of image i whose top-left corner is (cx[i] - size//2, cy[i] - size//2)."""
    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device)[None, :, None] - (cy.view(n, 1, 1) - size // 2)
    cols = torch.arange(w, device=x.device)[None, None, :] - (cx.view(n, 1, 1) - size // 2)
    inside = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def random_translation(x: Tensor, group: int = 1, ratio: float = 0.125) -> Tensor:
    h, w = x.shape[2:]
    sx, sy = int(w * ratio + 0.5), int(h * ratio + 0.5)
    n = len(x)
    return translate(x, _integers(-sx, sx + 1, n, group, x), _integers(-sy, sy + 1, n, group, x))


def random_cutout(x: Tensor, group: int = 1, ratio: float = 0.5) -> Tensor:
    h, w = x.shape[2:]
    size = int(min(h, w) * ratio + 0.5)
    n = len(x)
    return cutout(x, _integers(0, w + (1 - size % 2), n, group, x), _integers(0, h + (1 - size % 2), n, group, x), size)


OPERATIONS = {"color": color, "translation": random_translation, "cutout": random_cutout}


def parse_policy(policy: str | list[str] | None) -> tuple[str, ...]:
    """``"color,translation"`` (or a list) -> the operations' names, checked."""
    if not policy:
        return ()
    names = tuple(p.strip() for p in (policy.split(",") if isinstance(policy, str) else policy) if p.strip())
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ConfigError(f"unknown DiffAugment operation(s) {unknown}: use a comma-separated subset of {POLICIES}")
    return names


def diff_augment(x: Tensor, policy: str | list[str] | None = "color,translation,cutout", group: int = 1) -> Tensor:
    """The DiffAugment policy applied to a batch of images (B, C, H, W); one draw per ``group`` images."""
    names = parse_policy(policy)
    if names and x.ndim != 4:
        raise ConfigError(f"DiffAugment needs image batches (B, C, H, W); got shape {tuple(x.shape)}")
    for name in names:
        x = OPERATIONS[name](x, group)
    return x
