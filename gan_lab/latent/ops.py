"""Latent-space operations: linear and spherical interpolation, paths through several points."""

from __future__ import annotations

import torch
from torch import Tensor


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """(1 - t)·a + t·b for every t: (D,), (D,), (T,) -> (T, D)."""
    return a + (b - a) * t[:, None]


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents): moves along the great circle from
    a to b, so for |a| = |b| every point keeps that norm (a Gaussian latent's typical shell). (T, D)."""
    cos = (a / a.norm()).dot(b / b.norm()).clamp(-1, 1)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:  # (anti)parallel up to rounding: the lerp is the limit
        return lerp(a, b, t)
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so)[:, None] * a + (torch.sin(t * omega) / so)[:, None] * b


def latent_path(points: Tensor, steps: int, method: str = "slerp") -> Tensor:
    """Through K points with ``steps`` points per segment (ends included once): (K, D) -> ((K-1)·(steps-1)+1, D)."""
    if method not in ("lerp", "slerp"):
        raise ValueError(f"method must be 'lerp' or 'slerp', got {method!r}")
    step = lerp if method == "lerp" else slerp
    t = torch.linspace(0, 1, steps, dtype=points.dtype, device=points.device)
    segments = [
        step(points[i], points[i + 1], t)[: None if i == len(points) - 2 else -1] for i in range(len(points) - 1)
    ]
    return torch.cat(segments)
