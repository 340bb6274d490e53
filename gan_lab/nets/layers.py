"""Building blocks shared by the networks: normalisation by name, conditional batch norm, spectral norm, SAGAN
self-attention."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.errors import ConfigError

NORMS = ("batch", "layer", "instance", "none")


class ConditionalBatchNorm(nn.Module):
    """Batch norm without its own affine whose gain and bias are linear in a conditioning ``c``, given to the forward:
    ``norm(x)·(1 + scale·W_γ c) + scale·W_β c`` (``gain``, ``bias``: linear maps W of ``cond_dim`` inputs).

    ``c``: class indices (B,) (c = one-hot: class y's column of W), class weights (B, num_classes) that mix the
    classes' gains and biases (class interpolation), or any float vector (B, cond_dim) (BigGAN: [shared(y), z chunk]).

    :meth:`per_class` replaces a network's batch norm (de Vries et al. 2017; SNGAN-projection): W starts at 0 (plain
    batch norm at first) and ``scale`` is the learning-rate multiplier of the class parameters under Adam (whose step
    does not depend on a parameter's scale): at scale 1 and lr 2e-4 a class's gain can move by at most ~0.1 in 500
    steps, too little for the label to matter early, and cBN generators ignored it (benchmarks/results/conditioning.md).
    """

    _version = 2  # 1: the per-class gains and biases were stored as embeddings, (num_classes, C): read transposed

    def __init__(
        self,
        num_features: int,
        cond_dim: int,
        scale: float = 1.0,
        norm: type = nn.BatchNorm2d,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
    ):
        super().__init__()
        self.norm = norm(num_features, eps=eps, momentum=momentum, affine=False)
        self.gain = nn.Linear(cond_dim, num_features, bias=False)
        self.bias = nn.Linear(cond_dim, num_features, bias=False)
        self.scale, self.classes = scale, False

    @classmethod
    def per_class(
        cls, norm: nn.modules.batchnorm._BatchNorm, num_classes: int, scale: float = 1.0
    ) -> ConditionalBatchNorm:
        """A class-conditional copy of ``norm`` (same kind, eps, momentum): one gain and bias per class, from 0."""
        layer = cls(norm.num_features, num_classes, scale, type(norm), norm.eps, norm.momentum)
        nn.init.zeros_(layer.gain.weight)
        nn.init.zeros_(layer.bias.weight)
        layer.classes = True
        return layer

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        shape = (len(x), -1) + (1,) * (x.ndim - 2)
        if c.is_floating_point():  # class weights sum to 1: the weighted mean of the classes' gains and biases
            gain, bias = self.gain(c), self.bias(c)
        else:
            gain, bias = F.embedding(c, self.gain.weight.t()), F.embedding(c, self.bias.weight.t())
        gain, bias = 1 + self.scale * gain, self.scale * bias
        return self.norm(x) * gain.view(shape) + bias.view(shape)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs):
        # checkpoints written before version 2 hold a per-class layer's gains and biases as (num_classes, C)
        version = local_metadata.get("version")
        for name in ("gain", "bias"):
            key, weight = f"{prefix}{name}.weight", getattr(self, name).weight
            stored = state_dict.get(key)
            if not self.classes or stored is None or stored.ndim != 2:
                continue
            square = weight.shape[0] == weight.shape[1]
            if (stored.shape == weight.shape[::-1] and not square) or (square and version is not None and version < 2):
                state_dict[key] = stored.t()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)


@contextmanager
def conditioned(layers: list[nn.Module], c: Tensor) -> Iterator[None]:
    """For the block: every call of one of ``layers`` (conditional batch norms deep inside a network whose forward
    knows nothing of ``c``) receives ``c`` as its second argument. Nothing is stored on the layers."""
    handles = [layer.register_forward_pre_hook(lambda module, args: (*args, c)) for layer in layers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


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
    raise ConfigError(
        f"unknown norm {kind!r} for a {'convolutional' if dim == 2 else 'dense'} layer: use one of {NORMS}"
    )


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
