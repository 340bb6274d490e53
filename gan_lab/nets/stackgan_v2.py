"""StackGAN-v2 (StackGAN++, Zhang et al. 2018) networks: one conditioning augmentation, a shared trunk and a branch
per resolution (e.g. 64/128/256; CPU preset 16/32/64), and one matching-aware discriminator per branch with a
conditional and an unconditional head. Blocks are the released code's: 3×3 conv + batch norm + GLU (a conv to 2c
channels gated to c), residual blocks without a final non-linearity, nearest-neighbour ×2 upsampling.

The branches' images travel through the shared training rule as a list, one batch per stage (smallest first).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_lab.errors import ConfigError
from gan_lab.nets.stackgan import ConditioningAugmentation, StageDiscriminator, check_size


def check_sizes(sizes: list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """The branch sizes: at least two, the first 4·2^k ≥ 8, each next one twice the previous (as the paper)."""
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or any(b != 2 * a for a, b in zip(sizes, sizes[1:])):
        raise ConfigError(
            f"StackGAN-v2 branch sizes must double from one branch to the next, e.g. [64, 128, 256] "
            f"or [16, 32, 64], got {list(sizes)}"
        )
    check_size(sizes[0], "StackGAN-v2 first branch")
    return sizes


def glu_conv(c_in: int, c_out: int) -> nn.Sequential:  # 3×3 conv to 2·c_out, BN, GLU -> c_out channels
    return nn.Sequential(nn.Conv2d(c_in, 2 * c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(2 * c_out), nn.GLU(1))


def glu_up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *glu_conv(c_in, c_out))


class GLUResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(*glu_conv(c, c), nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Branch(nn.Module):
    """The next resolution: ĉ tiled and joined to the features (3×3 conv), residual blocks, ×2 up (halving width)."""

    def __init__(self, width: int, c_dim: int, n_residual: int):
        super().__init__()
        self.joint = glu_conv(width + c_dim, width)
        self.residual = nn.Sequential(*[GLUResBlock(width) for _ in range(n_residual)])
        self.up = glu_up(width, max(width // 2, 1))

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        h = torch.cat([c[:, :, None, None].expand(-1, -1, *h.shape[2:]), h], 1)
        return self.up(self.residual(self.joint(h)))


class StackGANv2Generator(nn.Module):
    """[z; ĉ] → FC → (width·2^k)×4×4 → k GLU up-blocks → width × sizes[0]² (the trunk); each further branch halves the
    width and doubles the size; a 3×3 conv + tanh per branch gives its image."""

    def __init__(
        self,
        latent_dim: int,
        embedding_dim: int,
        channels: int = 3,
        sizes: tuple[int, ...] = (64, 128, 256),
        c_dim: int = 128,
        width: int = 64,
        n_residual: int = 2,
        mu_init_scale: float = 1.0,
    ):
        super().__init__()
        self.sizes, self.channels = check_sizes(sizes), channels
        k = check_size(self.sizes[0], "StackGAN-v2 first branch")
        self.ca = ConditioningAugmentation(embedding_dim, c_dim, mu_init_scale)
        c0 = width * 2**k
        self.c0 = c0
        self.fc = nn.Sequential(
            nn.Linear(latent_dim + c_dim, 2 * c0 * 16, bias=False), nn.BatchNorm1d(2 * c0 * 16), nn.GLU(1)
        )
        self.trunk = nn.Sequential(*[glu_up(c0 // 2**i, c0 // 2 ** (i + 1)) for i in range(k)])
        widths = [max(width // 2**i, 1) for i in range(len(self.sizes))]
        self.branches = nn.ModuleList(Branch(w, c_dim, n_residual) for w in widths[:-1])
        self.to_rgb = nn.ModuleList(
            nn.Sequential(nn.Conv2d(w, channels, 3, 1, 1, bias=False), nn.Tanh()) for w in widths
        )

    def forward(
        self, z: Tensor, embedding: Tensor, noise: torch.Generator | None = None
    ) -> tuple[list[Tensor], Tensor, Tensor]:
        """([(B, C, s, s) in [-1, 1] for s in sizes], μ, log σ²)."""
        c, mu, logvar = self.ca(embedding, noise)
        h = self.trunk(self.fc(torch.cat([z, c], 1)).view(len(z), self.c0, 4, 4))
        images = [self.to_rgb[0](h)]
        for branch, rgb in zip(self.branches, self.to_rgb[1:]):
            h = branch(h, c)
            images.append(rgb(h))
        return images, mu, logvar


class StackGANv2Discriminator(nn.Module):
    """One :class:`StageDiscriminator` per branch size (conditional and unconditional heads on shared features), held
    together so that one optimiser trains them all (Adam per parameter = the released code's one Adam per D).
    ``condition``, ``aux_classes`` and ``aux_fake_class`` are :class:`StageDiscriminator`'s, for every branch
    (released: ``concat``)."""

    def __init__(
        self,
        embedding_dim: int,
        channels: int = 3,
        sizes: tuple[int, ...] = (64, 128, 256),
        width: int = 64,
        text_dim: int = 128,
        condition: str = "concat",
        aux_classes: int | tuple[int, ...] = (),
        aux_fake_class: bool = False,
    ):
        super().__init__()
        self.sizes = check_sizes(sizes)
        self.branches = nn.ModuleList(
            StageDiscriminator(embedding_dim, channels, s, width, text_dim, condition, aux_classes, aux_fake_class)
            for s in self.sizes
        )
        self.aux_classes = self.branches[0].aux_classes  # () without a class head
        self.aux_fake_class = self.branches[0].aux_fake_class

    def forward(self, images: list[Tensor], embedding: Tensor) -> list[tuple[Tensor, Tensor, Tensor | None]]:
        """Per branch (conditional logits (B,), unconditional logits (B,), class logits (B, Σ head_widths) or
        None)."""
        out = []
        for d, x in zip(self.branches, images):
            h = d.features(x)
            out.append((d.conditional(h, embedding), d.unconditional(h), d.classify(h)))
        return out
