"""Label conditioning for any generator / discriminator of gan_lab (they share their argument names).

Generator:
- ``concat`` (Mirza & Osindero 2014): G(z ⊕ onehot(y)), the net built with latent_dim + num_classes inputs.
- ``cbn`` (conditional batch norm, de Vries et al. 2017; SNGAN-projection): every batch norm of the net
  becomes a class-conditional one (:class:`gan_lab.nets.layers.ConditionalBatchNorm`), with a gain and bias per
  class, given the labels as its forward argument; with ``cbn_input`` the one-hot label also
  joins z at the input (as BigGAN-deep feeds its class embedding to the input layer).
- ``shared``: the net takes the labels itself, ``net(z, y)`` (BigGAN's shared embedding and hierarchical z,
  :mod:`gan_lab.nets.biggan`).

Discriminator:
- ``concat``: the one-hot label as extra constant input channels (1 + 10 = 11 for MNIST).
- ``projection`` (Miyato & Koyama 2018): D(x, y) = ψ(φ(x)) + ⟨embed(y), φ(x)⟩.
- ``acgan`` (Odena et al. 2017): no label input; an auxiliary head classifies the image (``classify``, one pass
  for the adversarial output and the class logits).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.errors import ConfigError
from gan_lab.nets.layers import ConditionalBatchNorm, conditioned, maybe_sn

G_CONDITIONING = ("concat", "cbn", "shared")
D_CONDITIONING = ("concat", "projection", "acgan")
AUX_HEADS = ("flat", "pooled")


def _replace_batch_norms(module: nn.Module, num_classes: int, scale: float) -> list[ConditionalBatchNorm]:
    replaced = []
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            cbn = ConditionalBatchNorm.per_class(child, num_classes, scale)
            setattr(module, name, cbn)
            replaced.append(cbn)
        else:
            replaced += _replace_batch_norms(child, num_classes, scale)
    return replaced


def check_labels(labels: Tensor, num_classes: int, hint: str = "") -> None:
    if labels.ndim != 1 or labels.is_floating_point():
        raise ConfigError(
            f"conditional models need one integer class per image; got labels of shape "
            f"{tuple(labels.shape)} and dtype {labels.dtype} (attribute vectors are not classes)"
        )
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ConfigError(
            f"labels range over [{low}, {high}] but the model has num_classes={num_classes}, "
            f"classes 0..{num_classes - 1}{hint}"
        )


class ConditionalGenerator(nn.Module):
    """(z (B, latent_dim), y) -> images, around a generator factory of gan_lab's nets.

    y: class indices (B,), or class weights (B, num_classes) (rows summing to 1) that blend classes, as in class
    interpolation: a one-hot row gives exactly the image of its class.
    """

    def __init__(
        self,
        net: Callable[..., nn.Module],
        latent_dim: int,
        num_classes: int,
        conditioning: str = "concat",
        cbn_scale: float = 1.0,
        cbn_input: bool = False,
        label_scale: float = 1.0,
    ):
        super().__init__()
        if conditioning not in G_CONDITIONING:
            raise ConfigError(f"unknown generator conditioning {conditioning!r}: use one of {G_CONDITIONING}")
        self.num_classes, self.conditioning, self.label_scale = num_classes, conditioning, label_scale
        self.label_input = conditioning == "concat" or (conditioning == "cbn" and cbn_input)
        if conditioning == "concat":
            self.net, self.cbns = net(latent_dim=latent_dim + num_classes), []
        elif conditioning == "shared":
            params = inspect.signature(net).parameters
            if "num_classes" not in params:
                raise ConfigError(
                    "g_conditioning=shared needs a generator that takes the labels itself "
                    "(model/net=biggan); use concat or cbn with this one"
                )
            scale = {"embed_scale": label_scale} if "embed_scale" in params else {}
            self.net, self.cbns = net(latent_dim=latent_dim, num_classes=num_classes, **scale), []
        else:
            self.net = net(latent_dim=latent_dim + num_classes * self.label_input)
            self.cbns = _replace_batch_norms(self.net, num_classes, cbn_scale)
            if not self.cbns:
                raise ConfigError("conditioning=cbn needs batch norm in the generator (generator.norm=batch)")

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        if y.is_floating_point():
            if y.shape != (len(z), self.num_classes):
                raise ConfigError(
                    f"class weights must have shape (batch, num_classes) = ({len(z)}, "
                    f"{self.num_classes}); got {tuple(y.shape)}"
                )
            y = y.to(z.dtype)
        if self.conditioning == "shared":
            return self.net(z, y)
        if self.label_input:
            weights = y if y.is_floating_point() else F.one_hot(y, self.num_classes).to(z.dtype)
            z = torch.cat([z, self.label_scale * weights], 1)
        with conditioned(self.cbns, y):  # each cBN layer of the net gets y as its forward argument
            return self.net(z)


class ConditionalDiscriminator(nn.Module):
    """(x, y (B,)) -> one raw output per image, around a discriminator factory of gan_lab's nets.

    The wrapped net must provide ``features`` and ``head`` (every gan_lab discriminator does).
    """

    def __init__(
        self,
        net: Callable[..., nn.Module],
        channels: int,
        image_size: int,
        num_classes: int,
        conditioning: str = "projection",
        spectral_norm: bool = False,
        twin: bool = False,
        aux_head: str = "pooled",
    ):
        super().__init__()
        if conditioning not in D_CONDITIONING:
            raise ConfigError(f"unknown discriminator conditioning {conditioning!r}: use one of {D_CONDITIONING}")
        self.num_classes, self.conditioning = num_classes, conditioning
        self.net = net(channels=channels + num_classes) if conditioning == "concat" else net()
        if conditioning != "concat":
            with torch.no_grad():
                h = self.net.features(torch.zeros(2, channels, image_size, image_size))
            width = self._pooled(h).shape[1]
            if conditioning == "projection":
                embed = nn.Embedding(num_classes, width)
                # at the scale of the heads' N(0, 0.02) init: with Embedding's N(0, 1) the projection term starts ~50×
                # larger than the adversarial output, and the critic saturates on the label alone
                nn.init.normal_(embed.weight, 0.0, 0.02)
                self.embed = maybe_sn(embed, spectral_norm)
            else:
                # ACGAN's class head; with ``twin`` (TAC-GAN) a second head on the same features: logits K..2K.
                # ``flat``: a linear layer on the whole feature map, as ACGAN's (and as the adversarial head sees
                # it); ``pooled``: on the spatially summed features, which keep no layout (where a stroke is)
                if aux_head not in AUX_HEADS:
                    raise ConfigError(f"unknown model.aux_head {aux_head!r}: use one of {AUX_HEADS}")
                self.flat = aux_head == "flat"
                inputs = h[0].numel() if self.flat else width
                self.classes = maybe_sn(nn.Linear(inputs, num_classes * (2 if twin else 1)), spectral_norm)

    @staticmethod
    def _pooled(h: Tensor) -> Tensor:
        return h.sum((2, 3)) if h.ndim == 4 else h

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if self.conditioning == "concat":
            maps = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
            return self.net(torch.cat([x, maps], 1))
        h = self.net.features(x)
        out = self.net.head(h).flatten()
        if self.conditioning == "projection":
            out = out + (self.embed(y) * self._pooled(h)).sum(1)
        return out

    def classify(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """ACGAN: (adversarial output (B,), class logits (B, num_classes), or (B, 2·num_classes) with the twin
        head of TAC-GAN after the class head's) from one pass."""
        h = self.net.features(x)
        return self.net.head(h).flatten(), self.classes(h.flatten(1) if self.flat else self._pooled(h))
