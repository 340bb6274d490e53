"""What the training rule hands between its steps, and the parts that plug into it.

The hand-over is typed: a training step turns its batch into :class:`Reals`, the generator side returns a
:class:`Draw` (the images — one batch, or one per stage — what they were drawn for, and extras such as conditioning
augmentation's KL), and the critic returns a :class:`Critique` (its raw outputs, and ACGAN's class logits or a
multi-branch critic's per-branch outputs). Nothing travels between methods on the module's attributes.

A :class:`Part` is an optional piece of the rule with its own config group: stabilisers (``model.stabilizers``:
gradient penalty, R1, orthogonal regularisation, EMA of G, a learning-rate schedule) and mode-collapse remedies
(``model.remedies``: packing, DiffAugment, minibatch layers, the unrolled look-ahead). Each overrides only the hooks
it needs; the rule calls every part's hook at its place. :class:`Runtime` holds how the rule runs and is watched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from torch import Tensor
from torch.optim import Optimizer

if TYPE_CHECKING:
    from gan_lab.models.base import GANModule

Images = Tensor | list[Tensor]  # one batch (B, C, H, W), or one per stage, smallest first
Weighted = tuple[float, Tensor]  # (weight, value) of a penalty term


def _detach(images: Images) -> Images:
    return [x.detach() for x in images] if isinstance(images, list) else images.detach()


def direct_call(fn: Callable | None) -> Callable | None:
    """A config partial as a plain ``functools.partial`` of the same function and arguments.

    Hydra (1.3.8) returns ``_partial_`` targets as a subclass that re-runs its target policy checks on every call,
    ~0.4 ms each on a 2-core CPU: twice per generator step for the losses alone, several percent of a small model's
    step. The target was authorised when the config was instantiated; the step calls it directly.
    """
    if isinstance(fn, functools.partial) and type(fn) is not functools.partial:
        return functools.partial(fn.func, *fn.args, **fn.keywords)
    return fn


@dataclass
class Reals:
    """A real batch as the losses see it: images, what G is conditioned on for them (class ids, caption embeddings;
    unconditional models carry the data's labels), and their class ids (for mismatched pairs)."""

    images: Images
    condition: Tensor
    classes: Tensor

    def chunk(self, n: int) -> list[Reals]:
        """``n`` consecutive equal slices (one per critic step or micro-batch)."""
        if n == 1:
            return [self]
        parts = [x.chunk(n) for x in self.images] if isinstance(self.images, list) else None
        images = [list(p) for p in zip(*parts)] if parts is not None else self.images.chunk(n)
        return [Reals(x, c, k) for x, c, k in zip(images, self.condition.chunk(n), self.classes.chunk(n))]

    @property
    def size(self) -> int:
        return len(self.condition)

    def taking_gradients(self) -> Reals:
        """The same batch with its images as leaves that take gradients (R1 differentiates D's outputs for them)."""
        images = _detach(self.images)
        for x in images if isinstance(images, list) else [images]:
            x.requires_grad_(True)
        return Reals(images, self.condition, self.classes)


@dataclass
class Draw:
    """What one draw of the generator side hands to the losses: images, the condition they were drawn for, extras."""

    images: Images
    condition: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)

    def detach(self) -> Draw:
        return Draw(_detach(self.images), self.condition, {k: v.detach() for k, v in self.extras.items()})

    def chunk(self, k: int) -> list[Draw]:
        """``k`` micro-batches (the extras, e.g. CA's KL, are per batch: each micro-batch keeps them)."""
        if k == 1:
            return [self]
        parts = [x.chunk(k) for x in self.images] if isinstance(self.images, list) else None
        images = [list(p) for p in zip(*parts)] if parts is not None else self.images.chunk(k)
        return [Draw(x, c, self.extras) for x, c in zip(images, self.condition.chunk(k))]


@dataclass
class Critique:
    """The critic's verdict on one batch: one raw output per image (what the objectives and penalties read), and
    what some critics give besides it from the same pass."""

    out: Tensor
    logits: Tensor | None = None  # ACGAN / TAC-GAN class logits
    branches: list[Any] | None = None  # multi-branch critics (StackGAN-v2): each branch's outputs

    def with_out(self, out: Tensor) -> Critique:
        return replace(self, out=out)


@dataclass
class Runtime:
    """How the rule runs and is watched (``model.runtime``).

    Args:
        seed: seed of the latent and penalty noise (offset by the process rank); its state is checkpointed.
        d_probability: log D(x) and D(G(z)) as probabilities σ(logit) (BCE objectives) rather than raw outputs.
        channels_last: keep the networks in channels-last memory format (faster convolutions on GPUs).
        torch_compile: compile G and D with ``torch.compile`` (not with GP/R1: no double backward).
        collapse_patience: warn when D wins completely (or G's loss explodes) for this many logged intervals in a
            row (0: never).
    """

    seed: int = 0
    d_probability: bool = False
    channels_last: bool = False
    torch_compile: bool = False
    collapse_patience: int = 5


class Part:
    """An optional piece of the training rule; every hook defaults to doing nothing.

    ``needs_double_backward``: the part differentiates through an input gradient (torch.compile cannot).
    ``needs_real_grad``: the real batch must take gradients (R1 differentiates D's outputs for it).
    """

    needs_double_backward = False
    needs_real_grad = False

    def attach(self, module: GANModule) -> None:
        """Once, when the module is built (wrap D, register an averaged G, ...)."""

    def d_penalty(self, module: GANModule, real: Reals, fake: Draw, real_out: Tensor) -> dict[str, Weighted]:
        """Terms added to D's loss as ``{log name: (weight, value)}`` (``real.images`` takes gradients when
        needs_real_grad; ``real_out`` are D's outputs for it); the value is logged, weight·value is added."""
        return {}

    def g_penalty(self, module: GANModule, fake: Draw) -> dict[str, Weighted]:
        """Terms added to G's loss, as d_penalty's."""
        return {}

    def judge_fakes(self, module: GANModule, real: Reals, fake: Draw) -> Critique | None:
        """The critique G's loss is taken on, when the part replaces D's plain verdict (e.g. a look-ahead)."""
        return None

    def select_fakes(self, module: GANModule, fake_j: Critique) -> Critique:
        """The verdicts G's loss is taken on (e.g. only the k most realistic fakes); all of them by default."""
        return fake_j

    def after_generator_step(self, module: GANModule) -> None:
        """After every G update (e.g. averaging G's weights)."""

    def schedulers(self, optimizers: list[Optimizer]) -> list[Any]:
        """Learning-rate schedulers for (G's, D's) optimisers, stepped once per generator step."""
        return []


def parts(group: Mapping[str, Part | None] | None) -> list[Part]:
    """The parts of a config group (name → part; ``null`` switches a listed part off), in order."""
    return [p for p in (group or {}).values() if p is not None]


def add_terms(loss: Tensor, logs: dict[str, Tensor], terms: dict[str, Weighted]) -> Tensor:
    """loss + Σ weight·value over ``terms``, each value logged under its name."""
    for name, (weight, value) in terms.items():
        loss = loss + weight * value
        logs[name] = value.detach()
    return loss
