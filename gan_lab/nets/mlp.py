"""The seed's dense GAN: a multilayer-perceptron generator and discriminator for any (C, H, W) shape.

2-D toy data is a 2-channel 1×1 "image", so the same networks serve the Gaussian-mixture studies.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from gan_lab.nets.layers import maybe_sn, norm_layer


class MLPGenerator(nn.Module):
    """z -> dense layers (norm + LeakyReLU 0.2) -> image.

    Args:
        hidden: widths of the hidden layers (the seed: 128, 256, 512, 1024; no norm after the first).
        output: ``tanh`` for images in [-1, 1]; ``linear`` for unbounded data such as 2-D mixtures.
        output_scale: the linear output is multiplied by it (the data's scale, e.g. 3 for the 25-Gaussian grid on
            [-4, 4]²): G starts at the data's spread instead of spending thousands of steps growing its last layer.
    """

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        hidden: list[int] = (128, 256, 512, 1024),
        norm: str = "batch",
        output: str = "tanh",
        output_scale: float = 1.0,
    ):
        super().__init__()
        self.shape = (channels, image_size, image_size)
        layers, width = [], latent_dim
        for i, h in enumerate(hidden):
            layers += [nn.Linear(width, h), norm_layer(norm if i else "none", h, dim=1), nn.LeakyReLU(0.2)]
            width = h
        layers.append(nn.Linear(width, math.prod(self.shape)))
        if output == "tanh":
            layers.append(nn.Tanh())
        elif output != "linear":
            raise ValueError(f"output must be 'tanh' or 'linear', got {output!r}")
        if output_scale != 1 and output == "tanh":
            raise ValueError("output_scale is for the linear output (a tanh output is in [-1, 1] as images are)")
        self.net = nn.Sequential(*layers)
        self.output_scale = output_scale

    def forward(self, z: Tensor) -> Tensor:  # (B, latent_dim) -> (B, C, H, W)
        x = self.net(z).view(len(z), *self.shape)
        return x if self.output_scale == 1 else x * self.output_scale


class MLPDiscriminator(nn.Module):
    """image -> dense layers (norm + LeakyReLU 0.2) -> one logit per image (no sigmoid: losses take logits)."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        hidden: list[int] = (512, 256),
        norm: str = "none",
        spectral_norm: bool = False,
    ):
        super().__init__()
        layers, width = [], channels * image_size * image_size
        for i, h in enumerate(hidden):
            layers += [
                maybe_sn(nn.Linear(width, h), spectral_norm),
                norm_layer(norm if i else "none", h, dim=1),
                nn.LeakyReLU(0.2),
            ]
            width = h
        self.body = nn.Sequential(nn.Flatten(), *layers)
        self.head = maybe_sn(nn.Linear(width, 1), spectral_norm)

    def features(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, hidden[-1])
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B,)
        return self.head(self.body(x)).squeeze(1)
