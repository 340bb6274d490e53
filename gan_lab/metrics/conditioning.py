"""How much a conditional generator's images depend on what it is conditioned on (classes or captions)."""

from __future__ import annotations

import torch
from torch import Tensor


@torch.no_grad()
def spread(model, labels: Tensor, n_z: int = 16, seed: int = 0, ema: bool = True) -> tuple[float, float]:
    """(distance across labels at one z, distance across z for one label): mean RMS pixel distances between the
    images of ``n_z`` fixed z under each of the k ``labels`` (classes (k,) or caption embeddings (k, E))."""
    g = torch.Generator().manual_seed(seed)
    k = len(labels)
    z = model.sample_z(n_z, generator=g)
    images = model.generate(z.repeat(k, 1), labels.to(model.device).repeat_interleave(n_z, 0), ema=ema)
    images = images.float().flatten(1).view(k, n_z, -1) / images[0].numel() ** 0.5  # RMS: distance / sqrt(pixels)
    across_labels = torch.cdist(images.transpose(0, 1), images.transpose(0, 1)).mean() * k / (k - 1)  # per z
    across_z = torch.cdist(images, images).mean() * n_z / (n_z - 1)  # per label
    return across_labels.item(), across_z.item()


@torch.no_grad()
def label_effect(model, n_z: int = 16, seed: int = 0, ema: bool = True) -> float:
    """How much a conditional generator's images change with the label, relative to how much they change with z.

    For ``n_z`` fixed z and every class: the mean distance between images of one z under different labels, divided
    by the mean distance between images of one label under different z. 0: the label changes nothing (the model
    ignores it); around 1 or more: the class matters as much as the noise, as in a model that conditions.
    """
    across_labels, across_z = spread(model, torch.arange(model.num_classes), n_z, seed, ema)
    return across_labels / max(across_z, 1e-12)
