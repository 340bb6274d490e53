"""2-D Gaussian mixtures for mode-collapse studies (Unrolled GAN, VEEGAN, PacGAN).

Points are served as 2-channel 1×1 "images", shape (B, 2, 1, 1), so every network and the training rule
take them unchanged; labels are the index of the mode each point was drawn from.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gan_lab.data.datamodule import InMemoryImages, SplitDataModule
from gan_lab.errors import ConfigError
from gan_lab.kinds import Yields


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> Tensor:
    """``n_modes`` centres evenly spaced on a circle (the ring-8 benchmark: radius 2, σ = 0.02)."""
    angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], 1)).float()


def grid_centers(side: int = 5, spacing: float = 2.0) -> Tensor:
    """A side×side grid centred on 0 (the grid-25 benchmark: centres in {-4, -2, 0, 2, 4}², σ = 0.05)."""
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis)


class GaussianMixtureDataModule(SplitDataModule):
    """Equal-weight isotropic Gaussians around ``centers`` with standard deviation ``std``.

    ``image_size`` and ``channels`` must be 1 and 2: they are what model configs read to shape their nets.
    """

    yields = Yields.POINTS

    def __init__(
        self,
        centers: Tensor,
        std: float,
        n_samples: int = 100_000,
        batch_size: int = 256,
        seed: int = 0,
        image_size: int = 1,
        channels: int = 2,
        batches_per_step: int = 1,
    ):
        super().__init__(batch_size, seed, batches_per_step)
        if (image_size, channels) != (1, 2):
            raise ConfigError("2-D mixtures are 2-channel 1×1 'images': keep data.image_size=1, data.channels=2")
        self.centers, self.std, self.n_samples = torch.as_tensor(centers, dtype=torch.float32), std, n_samples
        self.image_size, self.channels, self.num_classes = image_size, channels, len(self.centers)

    @property
    def name(self) -> str:
        return f"mixture:{len(self.centers)}:{self.std}"

    def make_split(self, train: bool) -> InMemoryImages:
        """``n_samples`` points (the test split is an independent draw)."""
        g = torch.Generator().manual_seed(self.seed + (0 if train else 1))
        modes = torch.randint(len(self.centers), (self.n_samples,), generator=g)
        points = self.centers[modes] + self.std * torch.randn(self.n_samples, 2, generator=g)
        return InMemoryImages(points.view(-1, 2, 1, 1), modes)
