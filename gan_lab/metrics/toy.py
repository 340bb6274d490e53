"""Mode-collapse metrics of the 2-D mixture and Stacked-MNIST literature (Unrolled GAN, VEEGAN, PacGAN)."""

from __future__ import annotations

import torch
from torch import Tensor


def mode_coverage(points: Tensor, centers: Tensor, std: float, min_samples: int | None = None) -> dict[str, float]:
    """Modes covered and the share of high-quality samples for points from a Gaussian mixture.

    A sample is *high quality* when it lies within 3σ of its nearest centre. A mode is *covered* when at least
    ``min_samples`` high-quality samples are assigned to it; by default a fifth of its fair share
    ``N / K`` (at least 1), so that a handful of stray points does not count as a recovered mode.
    """
    points, centers = points.reshape(len(points), -1).float(), centers.float()
    distance, nearest = torch.cdist(points, centers).min(dim=1)
    good = distance <= 3 * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    threshold = min_samples if min_samples is not None else max(1, round(0.2 * len(points) / len(centers)))
    return {
        "modes_covered": int((counts >= threshold).sum()),
        "num_modes": len(centers),
        "high_quality": good.float().mean().item(),
    }


def mode_histogram_stats(modes: Tensor, num_modes: int) -> dict[str, float]:
    """Modes hit at least once and KL(p_generated ‖ uniform) of a batch of predicted mode ids (Stacked MNIST)."""
    counts = torch.bincount(modes.flatten().long(), minlength=num_modes).double()
    p = counts / counts.sum()
    nonzero = p > 0
    kl = (p[nonzero] * (p[nonzero] * num_modes).log()).sum().item()
    return {"modes_covered": int(nonzero.sum()), "num_modes": num_modes, "kl_to_uniform": kl}


@torch.no_grad()
def stacked_mnist_modes(classifier_logits, images: Tensor) -> Tensor:
    """Mode id 100·a + 10·b + c of 3-channel Stacked-MNIST images, each channel classified as a digit."""
    digits = [classifier_logits(images[:, c : c + 1]).argmax(1) for c in range(3)]
    return 100 * digits[0] + 10 * digits[1] + digits[2]
