"""Stabilisers as parts of the training rule (``model.stabilizers.<name>``; ``+stabilizer=<name>`` adds one).

    GradientPenalty   D loss += weight · penalty(D(x̂), x̂) on random interpolates x̂ (WGAN-GP, or one-sided)
    R1                D loss += γ/2 · E‖∇ₓ D(x)‖² on the real batch (Mescheder et al. 2018)
    Orthogonal        G loss += β · Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F (BigGAN)
    EMA               an exponential moving average of G's weights samples and evaluates (copies G until ``start``)
    LRSchedule        one learning-rate schedule per optimiser, stepped once per generator step

The formulas themselves are the pure functions of :mod:`gan_lab.losses`; these classes only weigh and place them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gan_lab import losses
from gan_lab.errors import ConfigError
from gan_lab.models.parts import Draw, Part, Reals, Weighted, direct_call

if TYPE_CHECKING:
    from gan_lab.models.base import GANModule


class GradientPenalty(Part):
    """``weight`` · ``penalty`` (:func:`gan_lab.losses.gradient_penalty` or its one-sided form) on interpolates
    between the real and the fake batch, judged with the real batch's condition."""

    needs_double_backward = True

    def __init__(self, penalty: Callable[[Tensor, Tensor], Tensor] = losses.gradient_penalty, weight: float = 10.0):
        self.penalty, self.weight = direct_call(penalty), weight

    def d_penalty(self, module: GANModule, real: Reals, fake: Draw, real_out: Tensor) -> dict[str, Weighted]:
        x_hat = losses.random_interpolates(real.images, fake.images, module.noise)
        gp = self.penalty(module.judge(x_hat, real.condition).out, x_hat)
        return {"gradient_penalty": (self.weight, gp)}


class R1(Part):
    """γ/2 · :func:`gan_lab.losses.r1_penalty` on the real batch (``gamma`` = γ)."""

    needs_double_backward = needs_real_grad = True

    def __init__(self, gamma: float = 10.0):
        self.gamma = gamma

    def d_penalty(self, module: GANModule, real: Reals, fake: Draw, real_out: Tensor) -> dict[str, Weighted]:
        return {"r1_penalty": (self.gamma / 2, losses.r1_penalty(real_out, real.images))}


class Orthogonal(Part):
    """β · :func:`gan_lab.losses.orthogonal_regularization` of G (``beta`` = β)."""

    def __init__(self, beta: float = 1e-4):
        self.beta = beta

    def g_penalty(self, module: GANModule, fake: Draw) -> dict[str, Weighted]:
        return {"ortho_penalty": (self.beta, losses.orthogonal_regularization(module.generator))}


class EMA(Part):
    """Keeps ``module.generator_ema``, the average ema ← decay·ema + (1 − decay)·G after every G step; until
    ``start`` generator steps it copies G. Samples and evaluation then use it (``module.sampler``).

    Lightning's EMAWeightAveraging averages the whole LightningModule (D too) per optimiser-step batch and swaps the
    average in for validation only: not what GAN sampling needs."""

    def __init__(self, decay: float = 0.999, start: int = 0):
        if not 0 < decay < 1:
            raise ConfigError(f"model.stabilizers.ema.decay must be in (0, 1), got {decay}")
        self.decay, self.start = decay, start

    def attach(self, module: GANModule) -> None:
        module.generator_ema = AveragedModel(
            module.generator, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True
        )

    @torch.no_grad()
    def after_generator_step(self, module: GANModule) -> None:
        if module.g_steps < self.start:
            module.generator_ema.n_averaged.zero_()  # the next update copies G
        module.generator_ema.update_parameters(module.generator)


class LRSchedule(Part):
    """``schedule`` (a factory taking an optimiser, e.g. a partial of ``CosineAnnealingLR`` with ``T_max`` = the
    run's generator steps) for G's and for D's optimiser."""

    def __init__(self, schedule: Callable[[Optimizer], Any]):
        self.schedule = schedule

    def schedulers(self, optimizers: list[Optimizer]) -> list[Any]:
        schedulers = [self.schedule(opt) for opt in optimizers]
        if getattr(schedulers[0], "T_max", 1) < 1:
            raise ConfigError(
                "the cosine learning-rate schedule needs the run's length in generator steps: set "
                "trainer.max_steps (or model.stabilizers.cosine_lr.schedule.T_max) to a number ≥ 1"
            )
        return schedulers
