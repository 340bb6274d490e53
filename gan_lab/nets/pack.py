"""What the discriminator is shown: DiffAugment, then PacGAN packing (Lin et al. 2018), around any discriminator.

Packing m: the batch (N, C, H, W) becomes N/m packs (N/m, m·C, H, W), pack i = samples i·m … i·m+m−1 concatenated
along channels in that order (2-D toy points are 2-channel 1×1 images, so for them this is concatenation along
features). The wrapped net is built with m·C input channels (``+remedy=pack`` sets that) and gives one output per
pack. Real and fake batches are packed separately (the model calls D on each), so packs never mix them.

A model switches these on with ``+remedy=pack`` and ``+remedy=diffaugment`` (:mod:`gan_lab.models.remedies`): the
model's discriminator is then this wrapper, with the net as ``.net``.
"""

from __future__ import annotations

from torch import Tensor, nn

from gan_lab.augment import diff_augment, parse_policy
from gan_lab.errors import ConfigError


def pack(x: Tensor, m: int) -> Tensor:
    """(N, C, ...) -> (N/m, m·C, ...): m consecutive samples concatenated along channels."""
    if len(x) % m:
        raise ConfigError(
            f"packing {m} samples (model.remedies.pack.m={m}) needs batches divisible by {m}; got a batch of {len(x)} "
            f"(set data.batch_size to a multiple of {m})"
        )
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])


PACK_LABELS = "packing (+remedy=pack) is for unconditional models (a pack has one output but m labels)"


class DiscriminatorInput(nn.Module):
    """D(pack(augment(x))): the net sees augmented (one draw per pack), packed batches; extra args pass through."""

    def __init__(self, net: nn.Module, pack: int = 1, augment: str | list[str] | None = None):
        super().__init__()
        if pack < 1:
            raise ConfigError(f"the pack size must be ≥ 1 (1: no packing), got {pack}")
        self.net, self.pack, self.augment = net, pack, parse_policy(augment)

    def forward(self, x: Tensor, *args: Tensor) -> Tensor:
        if args and self.pack > 1:
            raise ConfigError(PACK_LABELS)
        if self.augment:
            x = diff_augment(x, self.augment, group=self.pack)
        return self.net(pack(x, self.pack) if self.pack > 1 else x, *args)

    def classify(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """ACGAN's one pass (adversarial output, class logits) on the augmented images, as forward sees them."""
        if self.pack > 1:
            raise ConfigError(PACK_LABELS)
        return self.net.classify(diff_augment(x, self.augment) if self.augment else x)

    def __getattr__(self, name: str):  # the net's own methods (features, ...)
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("net"), name)
