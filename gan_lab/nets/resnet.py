"""The ResNet generator and discriminator of SNGAN (Miyato et al. 2018), for image_size = 4·2^k (32, 64, ...).

G: linear -> 4×4 -> k residual up-blocks -> BN, ReLU, 3×3 conv, tanh.
D: an optimised first down-block, k-2 down-blocks, two plain blocks, ReLU, global sum pooling, linear.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.nets.dcgan import dcgan_shape
from gan_lab.nets.layers import SelfAttention, check_attention_at, maybe_sn, norm_layer


class GBlock(nn.Module):
    """Residual up-block: (B, c_in, H, W) -> (B, c_out, 2H, 2W)."""

    def __init__(self, c_in: int, c_out: int, norm: str):
        super().__init__()
        self.norm1, self.conv1 = norm_layer(norm, c_in), nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.norm2, self.conv2 = norm_layer(norm, c_out), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x)), scale_factor=2)
        h = self.conv2(F.relu(self.norm2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """Residual critic block, optionally halving the resolution; ``first`` is SNGAN's optimised input block."""

    def __init__(self, c_in: int, c_out: int, down: bool, spectral_norm: bool, norm: str = "none", first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = maybe_sn(nn.Conv2d(c_in, c_out, 3, 1, 1), spectral_norm)
        self.conv2 = maybe_sn(nn.Conv2d(c_out, c_out, 3, 1, 1), spectral_norm)
        self.norm1, self.norm2 = norm_layer(norm, c_in if not first else c_out), norm_layer(norm, c_out)
        self.skip = maybe_sn(nn.Conv2d(c_in, c_out, 1), spectral_norm) if (c_in != c_out or down) else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if self.first:
            h = self.conv2(F.relu(self.norm1(self.conv1(x))))
        else:
            h = self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.first:  # pool, then project: the cheaper order of the optimised block
            return h + self.skip(F.avg_pool2d(x, 2))
        skip = self.skip(x)
        return h + (F.avg_pool2d(skip, 2) if self.down else skip)


class ResNetGenerator(nn.Module):
    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        width: int = 256,
        norm: str = "batch",
        attention_at: int | None = None,
    ):
        super().__init__()
        _, k = dcgan_shape(image_size, min_doublings=2, starts=(4,))
        check_attention_at(attention_at, [4 * 2**i for i in range(1, k + 1)], "the ResNet generator")
        self.width = width
        self.project = nn.Linear(latent_dim, 16 * width)
        blocks, size = [], 4
        for _ in range(k):
            blocks.append(GBlock(width, width, norm))
            size *= 2
            if attention_at == size:
                blocks.append(SelfAttention(width))
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Sequential(norm_layer(norm, width), nn.ReLU(True), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:  # (B, latent_dim) -> (B, C, H, W) in [-1, 1]
        return self.out(self.blocks(self.project(z).view(len(z), self.width, 4, 4)))


class ResNetDiscriminator(nn.Module):
    def __init__(
        self,
        channels: int,
        image_size: int,
        width: int = 128,
        norm: str = "none",
        spectral_norm: bool = True,
        attention_at: int | None = None,
    ):
        super().__init__()
        _, k = dcgan_shape(image_size, min_doublings=2, starts=(4,))
        check_attention_at(
            attention_at, [max(image_size // 2**j, 8) for j in range(1, k + 1)], "the ResNet discriminator"
        )
        blocks = [DBlock(channels, width, True, spectral_norm, norm, first=True)]
        size = image_size // 2
        for i in range(k):
            if attention_at == size:
                blocks.append(SelfAttention(width, spectral_norm))
            down = i < k - 2
            blocks.append(DBlock(width, width, down, spectral_norm, norm))
            size //= 2 if down else 1
        self.body = nn.Sequential(*blocks, nn.ReLU())
        self.head = maybe_sn(nn.Linear(width, 1), spectral_norm)

    def features(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, width): sum-pooled last block
        return self.body(x).sum(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B,)
        return self.head(self.features(x)).squeeze(1)
