"""Layers that let the discriminator see a whole minibatch, the classic cures for mode collapse.

- :class:`MinibatchStdDev` (ProGAN, Karras et al. 2018): the standard deviation of every feature over a group of
  samples, averaged into one number per group, appended as one constant extra channel (or feature).
- :class:`MinibatchDiscrimination` (Salimans et al. 2016): M = f·T reshaped (N, B, C); c_b(i, j) =
  exp(−‖M_i,b − M_j,b‖₁); o(x_i)_b = Σ_j c_b(i, j) (j = i included, as in the paper and its code); appended.

:func:`add_minibatch_layer` puts one of them in front of the head of any gan_lab discriminator (they all have
``features`` and ``head``), so the net's ``forward``, ``features`` and the conditional wrappers stay as they are.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from gan_lab.errors import ConfigError
from gan_lab.nets.layers import maybe_sn

MINIBATCH_LAYERS = ("stddev", "discrimination")


class MinibatchStdDev(nn.Module):
    """(N, F) or (N, C, H, W) -> one more feature/channel: mean over features of the std over each group.

    Groups are strided as in ProGAN: sample i belongs to group i mod (N/G).
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def forward(self, x: Tensor) -> Tensor:
        n = len(x)
        g = min(self.group_size, n)
        if n % g:
            raise ConfigError(f"minibatch stddev groups of {g} need a batch divisible by {g}; got {n}")
        y = x.reshape(g, n // g, *x.shape[1:]).float()  # [G, M, ...]: sample i is in group i mod M
        std = (y.var(0, unbiased=False) + self.eps).sqrt()  # [M, ...]
        stat = std.flatten(1).mean(1).to(x.dtype).repeat(g)  # [N]
        extra = stat.view(n, 1, *([1] * (x.ndim - 2))).expand(n, 1, *x.shape[2:])
        return torch.cat([x, extra], 1)


class MinibatchDiscrimination(nn.Module):
    """(N, A) -> (N, A + B): Salimans et al.'s closeness of each sample to the rest of the batch."""

    def __init__(self, in_features: int, out_features: int = 32, kernel_dims: int = 8):
        super().__init__()
        self.out_features, self.kernel_dims = out_features, kernel_dims
        self.T = nn.Parameter(torch.randn(in_features, out_features * kernel_dims) * 0.1)

    def forward(self, x: Tensor) -> Tensor:
        f = x.flatten(1)
        m = (f @ self.T).view(len(f), self.out_features, self.kernel_dims)  # [N, B, C]
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(3)  # [N, N, B]: ‖M_i,b − M_j,b‖₁
        return torch.cat([f, torch.exp(-l1).sum(1)], 1)


def _rebuilt_head(head: nn.Module, extra: int) -> nn.Module:
    """A fresh copy of a Linear/Conv2d head with ``extra`` more inputs (spectral norm kept)."""
    sn = parametrize.is_parametrized(head)
    if isinstance(head, nn.Linear):
        new = nn.Linear(head.in_features + extra, head.out_features, head.bias is not None)
    elif isinstance(head, nn.Conv2d):
        new = nn.Conv2d(
            head.in_channels + extra,
            head.out_channels,
            head.kernel_size,
            head.stride,
            head.padding,
            bias=head.bias is not None,
        )
    else:
        raise ConfigError(f"a minibatch layer needs a Linear or Conv2d discriminator head; got {type(head).__name__}")
    nn.init.normal_(new.weight, 0.0, 0.02)
    if new.bias is not None:
        nn.init.zeros_(new.bias)
    return maybe_sn(new, sn)


def add_minibatch_layer(
    net: nn.Module, kind: str, group_size: int = 4, out_features: int = 32, kernel_dims: int = 8
) -> nn.Module:
    """Put a minibatch layer in front of ``net.head`` (in place; returns ``net``)."""
    if kind not in MINIBATCH_LAYERS:
        raise ConfigError(f"unknown minibatch layer {kind!r}: use one of {MINIBATCH_LAYERS} (or null)")
    if not hasattr(net, "head"):
        raise ConfigError(f"{type(net).__name__} has no `head` to put a minibatch layer in front of")
    head = net.head
    if kind == "stddev":
        net.head = nn.Sequential(MinibatchStdDev(group_size), _rebuilt_head(head, 1))
        return net
    in_features = head.in_features if isinstance(head, nn.Linear) else head.in_channels * head.kernel_size[0] ** 2
    if isinstance(head, nn.Conv2d) and head.kernel_size[0] != head.kernel_size[1]:
        raise ConfigError("minibatch discrimination needs a square convolutional head")
    outputs = head.out_channels if isinstance(head, nn.Conv2d) else head.out_features
    flat = nn.Linear(in_features + out_features, outputs)
    nn.init.normal_(flat.weight, 0.0, 0.02)
    nn.init.zeros_(flat.bias)
    net.head = nn.Sequential(
        MinibatchDiscrimination(in_features, out_features, kernel_dims),
        maybe_sn(flat, parametrize.is_parametrized(head)),
    )
    return net
