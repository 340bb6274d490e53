"""Mode-collapse remedies as parts of the training rule (``model.remedies.<name>``; ``+remedy=<name>`` adds one).

    Pack         PacGAN (Lin et al. 2018): D judges packs of ``m`` samples (D's input channels × m)
    DiffAugment  differentiable augmentation of every image D sees (Zhao et al. 2020)
    Minibatch    a minibatch-stddev or minibatch-discrimination layer in front of D's head
    Unrolled     G's loss through k look-ahead D updates (Metz et al. 2017; :mod:`gan_lab.models.unrolled`)
    TopK         G learns from its k most realistic fakes, k annealed (Sinha et al. 2020; :mod:`gan_lab.topk`)

Packing and augmentation wrap D in :class:`gan_lab.nets.DiscriminatorInput` (one wrapper for both, the net as
``.net``), so checkpoints keep one layout whichever order the remedies are listed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from gan_lab.augment import parse_policy
from gan_lab.errors import ConfigError
from gan_lab.kinds import Condition
from gan_lab.models.parts import Critique, Draw, Part, Reals
from gan_lab.models.unrolled import RULES, unrolled_critic
from gan_lab.nets.minibatch import add_minibatch_layer
from gan_lab.nets.pack import DiscriminatorInput
from gan_lab.topk import top_k_fake_logits, topk_fraction

if TYPE_CHECKING:
    from gan_lab.models.base import GANModule


def discriminator_input(module: GANModule) -> DiscriminatorInput:
    """The module's D input wrapper, put in place on first use."""
    if not isinstance(module.discriminator, DiscriminatorInput):
        module.discriminator = DiscriminatorInput(module.discriminator)
    return module.discriminator


def inner_net(module: GANModule) -> nn.Module:
    """The discriminator net inside the input wrapper (and a conditional wrapper's ``net``)."""
    d = module.discriminator.net if isinstance(module.discriminator, DiscriminatorInput) else module.discriminator
    return d.net if module.condition is Condition.CLASS else d  # ConditionalDiscriminator wraps the net


class Pack(Part):
    """D judges packs of ``m`` consecutive samples (its net built with m·C input channels: ``+remedy=pack``)."""

    def __init__(self, m: int = 2):
        if m < 1:
            raise ConfigError(f"model.remedies.pack.m must be ≥ 1 (1: no packing), got {m}")
        self.m = m

    def attach(self, module: GANModule) -> None:
        if self.m > 1:
            discriminator_input(module).pack = self.m


class DiffAugment(Part):
    """Every image D sees is augmented with ``policy`` (e.g. ``color,translation,cutout``), one draw per pack."""

    def __init__(self, policy: str | list[str] = "color,translation,cutout"):
        self.policy = parse_policy(policy)

    def attach(self, module: GANModule) -> None:
        if self.policy:
            discriminator_input(module).augment = self.policy


class Minibatch(Part):
    """A ``stddev`` or ``discrimination`` layer in front of D's head (:mod:`gan_lab.nets.minibatch`); None: none."""

    def __init__(self, kind: str | None = "stddev"):
        self.kind = kind

    def attach(self, module: GANModule) -> None:
        if self.kind:
            add_minibatch_layer(inner_net(module), self.kind)


class Unrolled(Part):
    """G's loss on D after ``steps`` differentiable look-ahead updates (``rule``: ``adam`` continues D's Adam state,
    ``sgd`` is lr·g; ``lr``: D's learning rate unless set)."""

    def __init__(self, steps: int = 5, lr: float | None = None, rule: str = "adam"):
        if rule not in RULES:
            raise ConfigError(f"unknown model.remedies.unrolled.rule {rule!r}: use one of {RULES}")
        self.steps, self.lr, self.rule = steps, lr, rule

    def judge_fakes(self, module: GANModule, real: Reals, fake: Draw) -> Critique | None:
        if not self.steps:
            return None
        lr = self.lr if self.lr is not None else getattr(module.d_optimizer, "keywords", {}).get("lr", 1e-3)
        optimizer = module.optimizers()[1].optimizer if module._trainer else None
        return unrolled_critic(module, real, fake, self.steps, lr, self.rule, optimizer)


class TopK(Part):
    """G's adversarial loss on the ``fraction``·B fakes D rates most realistic (largest outputs), fraction =
    max(decay^⌊g_step / every⌋, minimum) (:func:`gan_lab.topk.topk_fraction`; the paper: 0.99 per epoch, floor
    0.5). With packing D rates packs, so the best packs are kept. Other terms (ACGAN's class loss) see every fake.

    Args:
        every: generator steps per annealing step (the paper: an epoch).
        decay: fraction multiplier per annealing step.
        minimum: the floor of the fraction.
    """

    def __init__(self, every: int = 1000, decay: float = 0.99, minimum: float = 0.5):
        if every < 1 or not 0 < decay <= 1 or not 0 < minimum <= 1:
            raise ConfigError(
                f"top-k needs every ≥ 1, 0 < decay ≤ 1 and 0 < minimum ≤ 1; got every={every}, "
                f"decay={decay}, minimum={minimum}"
            )
        self.every, self.decay, self.minimum = every, decay, minimum

    def select_fakes(self, module: GANModule, fake_j: Critique) -> Critique:
        fraction = topk_fraction(module.g_steps, self.every, self.decay, self.minimum)
        return fake_j.with_out(top_k_fake_logits(fake_j.out, max(1, int(fraction * len(fake_j.out)))))
