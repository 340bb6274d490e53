"""DCGAN (Radford et al. 2016): strided (transposed) convolutions, no pooling, batch norm except at G's
output and D's input, ReLU in G with a tanh output, LeakyReLU(0.2) in D.

Sizes: G starts at s0×s0 (4, or 7 for MNIST's 28) and doubles k times, so image_size = 4·2^k or 7·2^k.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from gan_lab.errors import ConfigError
from gan_lab.nets.layers import SelfAttention, check_attention_at, maybe_sn, norm_layer


def dcgan_shape(image_size: int, min_doublings: int = 1, starts: tuple[int, ...] = (4, 7)) -> tuple[int, int]:
    """(start size s0, doublings k) with image_size = s0·2^k, s0 in ``starts``.

    >>> dcgan_shape(28), dcgan_shape(32), dcgan_shape(64)
    ((7, 2), (4, 3), (4, 4))
    """
    for s0 in starts:
        k = math.log2(image_size / s0) if image_size >= s0 else -1
        if k >= min_doublings and k == int(k):
            return s0, int(k)
    valid = sorted(s0 * 2**k for s0 in starts for k in range(min_doublings, 6))
    raise ConfigError(
        f"this network cannot make {image_size}×{image_size} images: image_size must be "
        f"{' or '.join(f'{s0}·2^k' for s0 in starts)} "
        f"(k ≥ {min_doublings}), e.g. {', '.join(map(str, valid))}. For 2-D toy data use model/net=mlp."
    )


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: convolution weights ~ N(0, 0.02), norm scales ~ N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) and module.weight is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
    else:
        return
    if module.bias is not None:
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z -> (width·2^(k-1), s0, s0) -> k up-sampling steps -> (channels, image_size, image_size) in [-1, 1].

    Args:
        upsample: ``transposed`` (DCGAN's 4×4 stride-2 transposed convolutions) or ``nearest``
            (the seed's nearest-neighbour upsample + 3×3 convolution, free of checkerboard artefacts).
        attention_at: resolution at which to insert a SAGAN self-attention block (None: none).
    """

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        width: int = 64,
        norm: str = "batch",
        upsample: str = "transposed",
        attention_at: int | None = None,
    ):
        super().__init__()
        if upsample not in ("transposed", "nearest"):
            raise ConfigError(f"upsample must be 'transposed' or 'nearest', got {upsample!r}")
        s0, k = dcgan_shape(image_size)
        check_attention_at(attention_at, [s0 * 2**i for i in range(k)], "the DCGAN generator")
        bias = norm == "none"

        def up(c_in: int, c_out: int, bias: bool) -> list[nn.Module]:
            if upsample == "transposed":
                return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)]
            return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias)]

        c = width * 2 ** (k - 1)
        layers = [nn.ConvTranspose2d(latent_dim, c, s0, 1, 0, bias=bias), norm_layer(norm, c), nn.ReLU(True)]
        size = s0
        for _ in range(k - 1):
            if attention_at == size:
                layers.append(SelfAttention(c))
            layers += [*up(c, c // 2, bias), norm_layer(norm, c // 2), nn.ReLU(True)]
            c, size = c // 2, size * 2
        if attention_at == size:
            layers.append(SelfAttention(c))
        layers += [*up(c, channels, True), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: Tensor) -> Tensor:  # (B, latent_dim) -> (B, C, H, W) in [-1, 1]
        return self.net(z.view(len(z), -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """(channels, image_size, image_size) -> k stride-2 convolutions -> one logit per image.

    Args:
        norm: ``batch`` (DCGAN), or ``layer``/``instance``/``none`` for critics whose gradient penalty
            needs samples treated independently (WGAN-GP). Never applied to the input layer.
        spectral_norm: spectral normalisation on every layer (SNGAN).
    """

    def __init__(
        self,
        channels: int,
        image_size: int,
        width: int = 64,
        norm: str = "batch",
        spectral_norm: bool = False,
        attention_at: int | None = None,
    ):
        super().__init__()
        s0, k = dcgan_shape(image_size)
        check_attention_at(attention_at, [image_size // 2**j for j in range(1, k)], "the DCGAN discriminator")
        bias = norm == "none"
        layers = [maybe_sn(nn.Conv2d(channels, width, 4, 2, 1), spectral_norm), nn.LeakyReLU(0.2, True)]
        c, size = width, image_size // 2
        for _ in range(k - 1):
            if attention_at == size:
                layers.append(SelfAttention(c, spectral_norm))
            layers += [
                maybe_sn(nn.Conv2d(c, 2 * c, 4, 2, 1, bias=bias), spectral_norm),
                norm_layer(norm, 2 * c),
                nn.LeakyReLU(0.2, True),
            ]
            c, size = 2 * c, size // 2
        self.body = nn.Sequential(*layers)
        self.head = maybe_sn(nn.Conv2d(c, 1, s0, 1, 0), spectral_norm)
        self.apply(dcgan_init)  # before spectral norm's first power iteration: it normalises whatever it finds

    def features(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, width·2^(k-1), s0, s0)
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B,)
        return self.head(self.body(x)).flatten()
