"""The training rule shared by every GAN variant (Lightning manual optimisation).

One ``training_step`` = ``n_critic`` discriminator steps + one generator step:

    for each of the n_critic real batches in the step's batch:      # a fresh real batch per critic step
        fake = G(z)                                                  # fresh z each time
        D step on  d_loss(D(x), D(fake)) + gp_weight·GP + r1_weight/2·R1;  after_discriminator_step()
    G step on  g_loss(D(fake)) + ortho_weight·Ortho                  # reuses the last fake: one G forward saved
    EMA update of G

Optimisers are toggled, so the D step leaves no gradient on G and the G step none on D.

Gradient accumulation (``accumulate=k``, BigGAN's large batches): each D and G step sums the gradients of k
micro-batches (every loss divided by k) before its one optimiser step; a micro-batch is ``data.batch_size`` images
(the loader delivers n_critic·k of them per step), batch norm sees one micro-batch at a time, and the G step draws
its fakes again, micro-batch by micro-batch, from the last critic step's z and labels.

Steps: Lightning's ``global_step`` counts optimiser steps (n_critic + 1 per training step). gan_lab counts
*generator* steps: ``g_steps`` here, ``train/g_steps`` in the logs, and ``trainer.max_steps`` in the configs
(training converts it). TensorBoard's x-axis is the training step, i.e. generator steps too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gan_lab import losses
from gan_lab.errors import ConfigError
from gan_lab.kinds import Condition
from gan_lab.models.health import check_collapse, check_finite
from gan_lab.models.unrolled import unrolled_critic
from gan_lab.nets.pack import wrap_discriminator
from gan_lab.steps import generator_steps

OptimizerFactory = Callable[..., Optimizer]


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode for the block, then back in the mode it was in."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def direct_call(fn: Callable | None) -> Callable | None:
    """A config partial as a plain ``functools.partial`` of the same function and arguments.

    Hydra (1.3.8) returns ``_partial_`` targets as a subclass that re-runs its target policy checks on every call,
    ~0.4 ms each on a 2-core CPU: twice per generator step for the losses alone, several percent of a small model's
    step. The target was authorised when the config was instantiated; the step calls it directly.
    """
    if isinstance(fn, functools.partial) and type(fn) is not functools.partial:
        return functools.partial(fn.func, *fn.args, **fn.keywords)
    return fn


class GANModule(L.LightningModule):
    """An unconditional GAN; variants change the losses, networks and optimisers by config.

    Args:
        generator, discriminator: the networks (the discriminator returns one raw output per image).
        d_loss, g_loss: objective functions from :mod:`gan_lab.losses`.
        g_optimizer, d_optimizer: optimiser factories taking the parameters (config partials).
        latent_dim: size of z ~ N(0, I).
        n_critic: discriminator steps per generator step.
        accumulate: micro-batches whose gradients each D and G step sums (1: none).
        gradient_penalty: ``losses.gradient_penalty`` or ``losses.one_sided_gradient_penalty`` on random
            interpolates, weighted by ``gp_weight`` (λ); None for none.
        r1_weight: γ of the R1 penalty γ/2·E‖∇D(x)‖² on real data (0: off).
        ortho_weight: β of BigGAN's orthogonal regularisation of G (0: off).
        ema_decay: keep an exponential moving average of G's weights (None: off); samples and
            evaluation then use it. Until ``ema_start`` generator steps it simply copies G.
        d_probability: log D(x) and D(G(z)) as probabilities σ(logit) (BCE models) rather than raw outputs.
        seed: seed of the latent/interpolation noise (offset by the process rank); its state is checkpointed.
        channels_last: keep the networks in channels-last memory format (faster convolutions on GPUs).
        torch_compile: compile G and D with ``torch.compile`` (not with GP/R1: no double backward).
        collapse_patience: warn when D wins completely (or G's loss explodes) for this many logged intervals in a
            row (0: never).
        pack, augment, minibatch: mode-collapse remedies on D's input / head (:mod:`gan_lab.nets.pack`):
            PacGAN packing of ``pack`` samples, a DiffAugment policy, a ``stddev``/``discrimination`` layer.
        unroll_steps, unroll_lr, unroll_rule: G's loss through k look-ahead D updates (``adam``: continuing D's
            Adam state, or ``sgd``) (:mod:`gan_lab.models.unrolled`); 0: the plain rule; lr: D's unless set.
        lr_scheduler: a learning-rate schedule factory taking an optimiser (a config partial of a
            ``torch.optim.lr_scheduler`` class, e.g. ``CosineAnnealingLR`` with ``T_max`` = the run's generator
            steps), one for G's and one for D's optimiser, both stepped once per generator step; None: constant.

    Declared kind (:mod:`gan_lab.kinds`): ``condition`` (what G takes besides z), ``num_classes`` (class-conditional
    models), ``stages`` (images one draw makes, smallest first: :meth:`stage_images`).
    """

    condition: Condition = Condition.NONE
    num_classes: int | None = None
    stages: int = 1

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        d_loss: Callable[[Tensor, Tensor], Tensor],
        g_loss: Callable[[Tensor], Tensor],
        g_optimizer: OptimizerFactory,
        d_optimizer: OptimizerFactory,
        latent_dim: int,
        n_critic: int = 1,
        accumulate: int = 1,
        gradient_penalty: Callable[[Tensor, Tensor], Tensor] | None = None,
        gp_weight: float = 10.0,
        r1_weight: float = 0.0,
        ortho_weight: float = 0.0,
        ema_decay: float | None = None,
        ema_start: int = 0,
        d_probability: bool = False,
        seed: int = 0,
        channels_last: bool = False,
        torch_compile: bool = False,
        collapse_patience: int = 5,
        pack: int = 1,
        augment: str | None = None,
        minibatch: str | None = None,
        unroll_steps: int = 0,
        unroll_lr: float | None = None,
        unroll_rule: str = "adam",
        lr_scheduler: Callable[[Optimizer], Any] | None = None,
    ):
        super().__init__()
        if n_critic < 1:
            raise ConfigError(f"model.n_critic must be ≥ 1 (discriminator steps per generator step), got {n_critic}")
        if accumulate < 1:
            raise ConfigError(f"model.accumulate must be ≥ 1 (micro-batches per optimiser step), got {accumulate}")
        self.automatic_optimization = False
        self.accumulate = accumulate
        self.generator = generator
        self.discriminator = wrap_discriminator(discriminator, pack, augment, minibatch)
        self.unroll_steps, self.unroll_rule = unroll_steps, unroll_rule
        self.unroll_lr = unroll_lr if unroll_lr is not None else getattr(d_optimizer, "keywords", {}).get("lr", 1e-3)
        self._unroll_real: Tensor | None = None
        self.d_loss, self.g_loss = direct_call(d_loss), direct_call(g_loss)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.lr_scheduler = lr_scheduler
        self.latent_dim, self.n_critic = latent_dim, n_critic
        self.gradient_penalty, self.gp_weight = direct_call(gradient_penalty), gp_weight
        self.r1_weight, self.ortho_weight = r1_weight, ortho_weight
        self.ema_start, self.d_probability, self.seed = ema_start, d_probability, seed
        if torch_compile and (gradient_penalty is not None or r1_weight):
            raise ConfigError(
                "torch.compile cannot differentiate twice, which the gradient penalty and R1 need: set "
                "model.torch_compile=false for this model"
            )
        self.channels_last, self.torch_compile = channels_last, torch_compile
        self.collapse_patience = collapse_patience
        # EMA of G only, updated after each generator step, read by ``sampler`` (generate/evaluate/samples). Lightning's
        # EMAWeightAveraging averages the whole LightningModule (D too) per optimiser-step batch and swaps the
        # average in for validation only: not what GAN sampling needs.
        self.generator_ema = (
            AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
            if ema_decay else None
        )
        self.noise: torch.Generator | None = None  # created on the training device in on_fit_start
        self._noise_state: Tensor | None = None
        self._last_losses: Tensor | None = None
        self._all_finite: Tensor | None = None  # device-side: every step's losses finite so far (read when logging)
        self._d_wins = 0  # consecutive logged intervals in which D wins completely (collapse signature)
        self.run_config: dict | None = None  # the composed Hydra config, stored in checkpoints by training

    # --- steps -------------------------------------------------------------------------------------------

    @property
    def g_steps(self) -> int:
        """Generator steps taken (Lightning's global_step counts n_critic + 1 optimiser steps per step)."""
        return generator_steps(self.global_step, self.n_critic)

    def sample_z(self, n: int, truncation: float | None = None, generator: torch.Generator | None = None) -> Tensor:
        """z ~ N(0, I), or the truncated normal on [-truncation, truncation] (BigGAN's truncation trick)."""
        generator = generator if generator is not None else self.noise
        z = torch.empty(n, self.latent_dim, device=self.device)
        if truncation is None:
            return z.normal_(generator=generator)
        return nn.init.trunc_normal_(z, 0.0, 1.0, -truncation, truncation, generator=generator)

    def fake_images(self, generator: nn.Module, z: Tensor, labels: Tensor | None) -> Tensor:
        """G(z) with the training or the EMA generator; conditional variants also pass the labels."""
        return generator(z)

    def critic(self, x: Tensor, labels: Tensor) -> Tensor:
        """D(x), one raw output per image; conditional variants also pass the labels."""
        return self.discriminator(x)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        images, labels = batch
        opt_g, opt_d = self.optimizers()
        reals, real_labels = images.chunk(self.n_critic), labels.chunk(self.n_critic)
        for i, (real, y) in enumerate(zip(reals, real_labels)):
            z = self.sample_z(len(real))
            # only the last fake is reused by the G step (with micro-batches G draws its fakes again, from z)
            with torch.set_grad_enabled(i == self.n_critic - 1 and self.accumulate == 1):
                fake = self.fake_images(self.generator, z, y)
            d_loss, logs = self._discriminator_step(opt_d, real, fake.detach(), y)
        g_loss, g_logs = self._generator_step(opt_g, fake, y, z)
        self._update_ema()
        if self.lr_scheduler is not None and (schedulers := self.lr_schedulers()):
            for scheduler in schedulers:  # per generator step, as the schedule's steps are counted
                scheduler.step()
        self._last_losses = torch.stack([d_loss.detach(), g_loss.detach()])
        finite = torch.isfinite(self._last_losses).all()  # every step, no host sync: read at the logging interval
        self._all_finite = finite if self._all_finite is None else self._all_finite & finite
        self._log_step(logs | g_logs)

    def _discriminator_step(self, opt: Any, real: Tensor, fake: Tensor, labels: Tensor) -> tuple[Tensor, dict]:
        k = self.accumulate
        with self.toggled_optimizer(opt):
            opt.zero_grad(set_to_none=True)
            loss, logs = self._backward(self.discriminator_loss(*micro)
                                        for micro in zip(real.chunk(k), fake.chunk(k), labels.chunk(k)))
            opt.step()
        self.after_discriminator_step()
        return loss, logs

    def _generator_step(self, opt: Any, fake: Tensor, labels: Tensor, z: Tensor) -> tuple[Tensor, dict]:
        k = self.accumulate
        with self.toggled_optimizer(opt):
            opt.zero_grad(set_to_none=True)
            fakes = [fake] if k == 1 else (self.fake_images(self.generator, z_i, y_i)
                                           for z_i, y_i in zip(z.chunk(k), labels.chunk(k)))
            loss, logs = self._backward(self.generator_loss(f, y) for f, y in zip(fakes, labels.chunk(k)))
            opt.step()
        return loss, logs

    def _backward(self, losses: Iterator[tuple[Tensor, dict[str, Tensor]]]) -> tuple[Tensor, dict[str, Tensor]]:
        """Backward of each micro-batch's loss / k as it comes (one graph alive at a time); the (mean) loss and
        logged terms."""
        total: dict[str, Tensor] = {}
        for loss, logs in losses:
            self.manual_backward(loss if self.accumulate == 1 else loss / self.accumulate)
            for name, value in {"loss": loss, **logs}.items():
                total[name] = total[name] + value.detach() if name in total else value.detach()
        if self.accumulate > 1:
            total = {name: value / self.accumulate for name, value in total.items()}
        return total.pop("loss"), total

    def discriminator_loss(self, real: Tensor, fake: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The critic's total loss and what to log of it."""
        real = self.penalised_real(real)
        real_out, fake_out = self.critic(real, labels), self.critic(fake, labels)
        adversarial = self.d_loss(real_out, fake_out)
        logs = {"d_loss": adversarial, "wasserstein": real_out.detach().mean() - fake_out.detach().mean()}
        real_shown, fake_shown = real_out.detach(), fake_out.detach()
        if self.d_probability:
            real_shown, fake_shown = real_shown.sigmoid(), fake_shown.sigmoid()
        logs["D(x)"], logs["D(G(z))"] = real_shown.mean(), fake_shown.mean()
        return adversarial + self.penalties(real, fake, labels, real_out, logs), logs

    def penalised_real(self, real: Tensor) -> Tensor:
        """The real batch as the penalties need it (a leaf that takes gradients for R1); the unrolled look-ahead
        keeps a copy. Every ``discriminator_loss`` passes its real batch through here first."""
        if self.r1_weight:
            real = real.detach().requires_grad_(True)
        if self.unroll_steps:
            self._unroll_real = real.detach()  # the generator step's look-ahead trains on it
        return real

    def penalties(self, real: Tensor, fake: Tensor, labels: Tensor, real_out: Tensor,
                  logs: dict[str, Tensor]) -> Tensor | float:
        """gp_weight·GP (on random interpolates) + r1_weight/2·R1 (on ``real_out``, the critic's outputs for the
        ``penalised_real`` batch), each logged into ``logs``; 0 when both are off."""
        total: Tensor | float = 0.0
        if self.gradient_penalty is not None:
            x_hat = losses.random_interpolates(real, fake, self.noise)
            gp = self.gradient_penalty(self.critic(x_hat, labels), x_hat)
            total = total + self.gp_weight * gp
            logs["gradient_penalty"] = gp.detach()
        if self.r1_weight:
            r1 = losses.r1_penalty(real_out, real)
            total = total + self.r1_weight / 2 * r1
            logs["r1_penalty"] = r1.detach()
        return total

    def generator_loss(self, fake: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if self.unroll_steps:
            out = unrolled_critic(self, self._unroll_real, fake, labels, self.unroll_steps, self.unroll_lr,
                                  self.unroll_rule, self.optimizers()[1].optimizer if self._trainer else None)
        else:
            out = self.critic(fake, labels)
        adversarial = self.g_loss(out)
        loss, logs = adversarial, {"g_loss": adversarial}
        if self.ortho_weight:
            ortho = losses.orthogonal_regularization(self.generator)
            loss = loss + self.ortho_weight * ortho
            logs["ortho_penalty"] = ortho.detach()
        return loss, logs

    def after_discriminator_step(self) -> None:
        """Hook run after every critic update (WGAN clips the weights here)."""

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.generator_ema is None:
            return
        if self.g_steps < self.ema_start:
            self.generator_ema.n_averaged.zero_()  # the next update copies G
        self.generator_ema.update_parameters(self.generator)

    def _log_step(self, logs: dict[str, Tensor]) -> None:
        """Every ``log_every_n_steps`` generator steps (when Lightning writes to the loggers): log the step's
        values and check that the losses are finite. In between nothing is logged: ``self.log`` costs about a
        millisecond a call, and reading a value would make the host wait for the device. The last step is
        logged too, so a run shorter than the interval still has curves and metrics."""
        step, trainer = self.g_steps, self.trainer  # g_steps counts this step: its optimiser steps have run
        loop = trainer.fit_loop
        last = 0 < trainer.max_steps <= trainer.global_step or (
            loop.epoch_loop.batch_progress.is_last_batch and loop.max_epochs not in (None, -1)
            and trainer.current_epoch + 1 >= loop.max_epochs)
        if step % trainer.log_every_n_steps and not last:
            return
        trainer.should_stop |= last  # Lightning writes the loggers on its interval or when the run stops
        check_finite(self)
        check_collapse(self, logs)
        shown = {"d_loss", "g_loss"}
        self.log_dict({f"train/{k}": v for k, v in logs.items() if k in shown}, prog_bar=True)
        self.log_dict({f"train/{k}": v for k, v in logs.items() if k not in shown})
        self.log("train/g_steps", float(step))
        self.log("step", float(step))  # the loggers' x axis: generator steps, as the sample grids (and no epoch curve)

    # --- sampling ----------------------------------------------------------------------------------------

    @property
    def sampler(self) -> nn.Module:
        """The generator used for samples and evaluation: the EMA copy when enabled."""
        return self.generator_ema.module if self.generator_ema is not None else self.generator

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor | None = None, ema: bool = True) -> Tensor:
        """Images in [-1, 1] from the EMA generator (when kept and ``ema``) or G, in eval mode (batch norm uses
        running statistics)."""
        generator = self.sampler if ema else self.generator
        with eval_mode(generator):
            return self.fake_images(generator, z.to(self.device), labels)

    # --- Lightning plumbing ------------------------------------------------------------------------------

    def configure_model(self) -> None:
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.torch_compile:  # in place: parameter names (and checkpoints) stay as they are
            self.generator.compile()
            self.discriminator.compile()

    def configure_optimizers(self) -> list[Optimizer] | tuple[list[Optimizer], list[Any]]:
        optimizers = [self.g_optimizer(self.generator.parameters()), self.d_optimizer(self.discriminator.parameters())]
        if self.lr_scheduler is None:
            return optimizers
        schedulers = [self.lr_scheduler(opt) for opt in optimizers]
        if getattr(schedulers[0], "T_max", 1) < 1:
            raise ConfigError("the cosine learning-rate schedule needs the run's length in generator steps: set "
                              "trainer.max_steps (or model.lr_scheduler.T_max) to a number ≥ 1")
        return optimizers, schedulers

    def on_fit_start(self) -> None:
        self.noise = torch.Generator(self.device).manual_seed(self.seed + self.global_rank)
        if self._noise_state is not None and self.trainer.world_size == 1:
            self.noise.set_state(self._noise_state)  # exact continuation of the run
        elif self._noise_state is not None:  # the checkpoint holds rank 0's stream: give each rank its own again
            self.noise.manual_seed(self.seed + self.global_rank + 1_000_003 * self.global_step)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_finite(self)  # never overwrite a good checkpoint with diverged weights
        checkpoint["gan_lab_config"] = self.run_config
        if self.noise is not None:
            checkpoint["noise_state"] = self.noise.get_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._noise_state = checkpoint.get("noise_state")
