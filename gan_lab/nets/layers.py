"""Building blocks shared by the networks: normalisation by name, spectral norm, SAGAN self-attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.errors import ConfigError

NORMS = ("batch", "layer", "instance", "none")


def norm_layer(kind: str, channels: int, dim: int = 2) -> nn.Module:
    """A normalisation layer by name, for feature maps (dim=2) or vectors (dim=1).

    ``layer`` normalises over all of (C, H, W) per sample (GroupNorm with one group); it and ``instance``
    and ``none`` keep samples independent, as the WGAN-GP critic requires.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels) if dim == 2 else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if dim == 2 else nn.LayerNorm(channels)
    if kind == "instance" and dim == 2:
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"unknown norm {kind!r} for a {'convolutional' if dim == 2 else 'dense'} layer: use one of {NORMS}")


def maybe_sn(module: nn.Module, spectral_norm: bool) -> nn.Module:
    """Wrap ``module`` in spectral normalisation (Miyato et al. 2018) when asked: largest singular value ≈ 1."""
    return nn.utils.parametrizations.spectral_norm(module) if spectral_norm else module


def check_attention_at(attention_at: int | None, resolutions: list[int], net: str) -> None:
    """A self-attention resolution must be one the network's attention slots pass through."""
    if attention_at is not None and attention_at not in resolutions:
        raise ConfigError(
            f"{net} cannot place self-attention at {attention_at}×{attention_at}: it can at "
            f"{', '.join(map(str, sorted(set(resolutions))))} for these images (set attention_at to one, or null)"
        )


class SelfAttention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019): x + γ·attention(x), γ starting at 0.

    (B, C, H, W) -> (B, C, H, W); needs C ≥ 8.
    """

    def __init__(self, channels: int, spectral_norm: bool = False):
        super().__init__()
        if channels < 8:
            raise ConfigError(f"self-attention needs at least 8 channels at its resolution, got {channels}")

        def conv(c_in: int, c_out: int) -> nn.Module:
            return maybe_sn(nn.Conv2d(c_in, c_out, 1, bias=False), spectral_norm)

        self.query, self.key = conv(channels, channels // 8), conv(channels, channels // 8)
        self.value, self.out = conv(channels, channels // 2), conv(channels // 2, channels)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = (f(x).flatten(2).transpose(1, 2) for f in (self.query, self.key, self.value))  # (B, HW, C')
        attended = F.scaled_dot_product_attention(q, k, v, scale=1.0)  # SAGAN: softmax(q kᵀ) v, unscaled
        return x + self.gamma * self.out(attended.transpose(1, 2).reshape(b, c // 2, h, w))
