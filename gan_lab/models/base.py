"""The training rule shared by every GAN variant (Lightning manual optimisation).

One ``training_step`` = ``n_critic`` discriminator steps + one generator step:

    for each of the n_critic real batches in the step's batch:      # a fresh real batch per critic step
        fake = draw(G, z, condition)                                 # fresh z each time
        D step on  critic_objective(judge(x), judge(fake)) + Σ parts' d_penalty (GP, R1, ...)
        after_discriminator_step()                                   # WGAN clips here
    G step on  generator_objective(judge(fake)) + Σ parts' g_penalty  # reuses the last fake: one G forward saved
    every part's after_generator_step (EMA of G); learning-rate schedules step

Optimisers are toggled, so the D step leaves no gradient on G and the G step none on D. What travels between the
steps is typed (:mod:`gan_lab.models.parts`): :class:`Reals`, :class:`Draw` and :class:`Critique`; a variant
overrides ``reals``/``draw``/``judge`` and the two objectives, never the loop.

Gradient accumulation (``accumulate=k``, BigGAN's large batches): each D and G step sums the gradients of k
micro-batches (every loss divided by k) before its one optimiser step; a micro-batch is ``data.batch_size`` images
(the loader delivers n_critic·k of them per step), batch norm sees one micro-batch at a time, and the G step draws
its fakes again, micro-batch by micro-batch, from the last critic step's z and labels.

Steps: Lightning's ``global_step`` counts optimiser steps (n_critic + 1 per training step). gan_lab counts
*generator* steps: ``g_steps`` here, ``train/g_steps`` in the logs, and ``trainer.max_steps`` in the configs
(training converts it). TensorBoard's x-axis is the training step, i.e. generator steps too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.swa_utils import AveragedModel

from gan_lab.errors import ConfigError
from gan_lab.kinds import Condition
from gan_lab.models.health import Health
from gan_lab.models.parts import Critique, Draw, Images, Part, Reals, Runtime, add_terms, direct_call, parts
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


class GANModule(L.LightningModule):
    """An unconditional GAN; variants change the losses, networks and optimisers by config.

    Args:
        generator, discriminator: the networks (the discriminator returns one raw output per image).
        d_loss, g_loss: objective functions from :mod:`gan_lab.losses`.
        g_optimizer, d_optimizer: optimiser factories taking the parameters (config partials).
        latent_dim: size of z ~ N(0, I).
        n_critic: discriminator steps per generator step.
        accumulate: micro-batches whose gradients each D and G step sums (1: none).
        stabilizers: parts by name (:mod:`gan_lab.models.stabilizers`: gradient penalty, R1, orthogonal
            regularisation, EMA of G, a learning-rate schedule); ``+stabilizer=<name>`` adds one.
        remedies: parts by name (:mod:`gan_lab.models.remedies`: packing, DiffAugment, minibatch layers, the
            unrolled look-ahead, top-k generator updates); ``+remedy=<name>`` adds one.
        runtime: seed, speed flags, health checks and how D's outputs are logged (:class:`Runtime`).

    Declared kind (:mod:`gan_lab.kinds`): ``condition`` (what G takes besides z), ``num_classes`` (class-conditional
    models), ``stages`` (images one draw makes, smallest first: :meth:`stage_images`).
    """

    condition: Condition = Condition.NONE
    num_classes: int | None = None
    stages: int = 1
    grid_texts: list[str] = []  # text models: the captions of the sample grid's rows

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
        stabilizers: Mapping[str, Part | None] | None = None,
        remedies: Mapping[str, Part | None] | None = None,
        runtime: Runtime | None = None,
    ):
        super().__init__()
        if n_critic < 1:
            raise ConfigError(f"model.n_critic must be ≥ 1 (discriminator steps per generator step), got {n_critic}")
        if accumulate < 1:
            raise ConfigError(f"model.accumulate must be ≥ 1 (micro-batches per optimiser step), got {accumulate}")
        self.automatic_optimization = False
        self.generator, self.discriminator = generator, discriminator
        self.d_loss, self.g_loss = direct_call(d_loss), direct_call(g_loss)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.latent_dim, self.n_critic, self.accumulate = latent_dim, n_critic, accumulate
        self.runtime = runtime or Runtime()
        self.generator_ema: AveragedModel | None = None  # set by the EMA stabiliser; ``sampler`` reads it
        self.parts = parts(stabilizers) + parts(remedies)
        if self.runtime.torch_compile and any(p.needs_double_backward for p in self.parts):
            raise ConfigError(
                "torch.compile cannot differentiate twice, which the gradient penalty and R1 need: set "
                "model.runtime.torch_compile=false for this model"
            )
        self.real_grad = any(p.needs_real_grad for p in self.parts)
        for part in self.parts:
            part.attach(self)
        self.noise: torch.Generator | None = None  # created on the training device in on_fit_start
        self._noise_state: Tensor | None = None  # restored from a checkpoint, applied in on_fit_start
        self.health = Health(self.runtime.collapse_patience, self.runtime.d_probability)
        self.run_config: dict | None = None  # the composed Hydra config, stored in checkpoints by training

    @property
    def d_probability(self) -> bool:
        return self.runtime.d_probability

    # --- steps -------------------------------------------------------------------------------------------

    @property
    def g_steps(self) -> int:
        """Generator steps taken (Lightning's global_step counts n_critic + 1 optimiser steps per step)."""
        return generator_steps(self.global_step, self.n_critic)

    def sample_z(self, n: int, truncation: float | None = None, generator: torch.Generator | None = None) -> Tensor:
        """z ~ N(0, I), or the truncated normal on [-truncation, truncation] (BigGAN's truncation trick), on the
        module's device. Drawn where ``generator`` lives: a seeded CPU generator gives the same z on any device."""
        generator = generator if generator is not None else self.noise
        z = torch.empty(n, self.latent_dim, device=generator.device if generator is not None else self.device)
        if truncation is None:
            z.normal_(generator=generator)
        else:
            nn.init.trunc_normal_(z, 0.0, 1.0, -truncation, truncation, generator=generator)
        return z.to(self.device)

    def reals(self, batch: tuple[Tensor, ...]) -> Reals:
        """The loader's batch as the losses see it: (images, labels); labels are the condition and the classes."""
        images, labels = batch
        return Reals(images, labels, labels)

    def draw(self, generator: nn.Module, z: Tensor, condition: Tensor) -> Draw:
        """G(z) with the training or the EMA generator; conditional variants also pass the condition."""
        return Draw(generator(z), condition)

    def judge(self, x: Images, condition: Tensor) -> Critique:
        """D's verdict on a batch; conditional variants also pass the condition."""
        return Critique(self.discriminator(x))

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        reals = self.reals(batch).chunk(self.n_critic)
        opt_g, opt_d = self.optimizers()
        for i, real in enumerate(reals):
            z = self.sample_z(real.size)
            # only the last fake is reused by the G step (with micro-batches G draws its fakes again, from z)
            with torch.set_grad_enabled(i == self.n_critic - 1 and self.accumulate == 1):
                fake = self.draw(self.generator, z, real.condition)
            d_loss, logs = self._discriminator_step(opt_d, real, fake.detach())
        g_loss, g_logs = self._generator_step(opt_g, fake, real, z)
        for part in self.parts:
            part.after_generator_step(self)
        for scheduler in self._schedulers():  # per generator step, as the schedule's steps are counted
            scheduler.step()
        self.health.step(d_loss, g_loss)
        self._log_step(logs | g_logs)

    def _schedulers(self) -> list[Any]:
        if not self._trainer or not self.trainer.lr_scheduler_configs:
            return []
        return [config.scheduler for config in self.trainer.lr_scheduler_configs]

    def _discriminator_step(self, opt: Any, real: Reals, fake: Draw) -> tuple[Tensor, dict]:
        k = self.accumulate
        with self.toggled_optimizer(opt):
            opt.zero_grad(set_to_none=True)
            loss, logs = self._backward(self.discriminator_loss(r, f) for r, f in zip(real.chunk(k), fake.chunk(k)))
            opt.step()
        self.after_discriminator_step()
        return loss, logs

    def _generator_step(self, opt: Any, fake: Draw, real: Reals, z: Tensor) -> tuple[Tensor, dict]:
        k = self.accumulate
        with self.toggled_optimizer(opt):
            opt.zero_grad(set_to_none=True)
            reals = real.chunk(k)
            fakes = (
                [fake] if k == 1 else (self.draw(self.generator, z_i, r.condition) for z_i, r in zip(z.chunk(k), reals))
            )
            loss, logs = self._backward(self.generator_loss(f, r) for f, r in zip(fakes, reals))
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

    def discriminator_loss(self, real: Reals, fake: Draw) -> tuple[Tensor, dict[str, Tensor]]:
        """The critic's total loss (objective + the parts' penalties) and what to log of it."""
        if self.real_grad:  # leaves that take gradients, for R1
            real = real.taking_gradients()
        real_j, fake_j = self.judge(real.images, real.condition), self.judge(fake.images, fake.condition)
        loss, logs = self.critic_objective(real, fake, real_j, fake_j)
        for part in self.parts:
            loss = add_terms(loss, logs, part.d_penalty(self, real, fake, real_j.out))
        return loss, logs

    def critic_objective(
        self, real: Reals, fake: Draw, real_j: Critique, fake_j: Critique
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """D's objective on its verdicts, and the logged D(x), D(G(z)) and Wasserstein estimate."""
        adversarial = self.d_loss(real_j.out, fake_j.out)
        real_out, fake_out = real_j.out.detach(), fake_j.out.detach()
        logs = {"d_loss": adversarial, "wasserstein": real_out.mean() - fake_out.mean()}
        if self.d_probability:
            real_out, fake_out = real_out.sigmoid(), fake_out.sigmoid()
        logs["D(x)"], logs["D(G(z))"] = real_out.mean(), fake_out.mean()
        return adversarial, logs

    def generator_loss(self, fake: Draw, real: Reals) -> tuple[Tensor, dict[str, Tensor]]:
        """G's total loss (objective + the parts' penalties) on D's verdict, or on a part's (the look-ahead);
        ``real`` is the last critic step's real batch."""
        fake_j = next((j for p in self.parts if (j := p.judge_fakes(self, real, fake)) is not None), None)
        fake_j = fake_j or self.judge(fake.images, fake.condition)
        for part in self.parts:
            fake_j = part.select_fakes(self, fake_j)
        loss, logs = self.generator_objective(fake, fake_j, real)
        for part in self.parts:
            loss = add_terms(loss, logs, part.g_penalty(self, fake))
        return loss, logs

    def generator_objective(self, fake: Draw, fake_j: Critique, real: Reals) -> tuple[Tensor, dict[str, Tensor]]:
        """G's objective on D's verdict on its images (``real``: the batch they were drawn beside)."""
        adversarial = self.g_loss(fake_j.out)
        return adversarial, {"g_loss": adversarial}

    def after_discriminator_step(self) -> None:
        """Hook run after every critic update (WGAN clips the weights here)."""

    def _log_step(self, logs: dict[str, Tensor]) -> None:
        """Every ``log_every_n_steps`` generator steps (when Lightning writes to the loggers): log the step's
        values and check the run's health. In between nothing is logged: ``self.log`` costs about a millisecond a
        call, and reading a value would make the host wait for the device. The last step is logged too, so a run
        shorter than the interval still has curves and metrics."""
        step, trainer = self.g_steps, self.trainer  # g_steps counts this step: its optimiser steps have run
        loop = trainer.fit_loop
        last = 0 < trainer.max_steps <= trainer.global_step or (
            loop.epoch_loop.batch_progress.is_last_batch
            and loop.max_epochs not in (None, -1)
            and trainer.current_epoch + 1 >= loop.max_epochs
        )
        if step % trainer.log_every_n_steps and not last:
            return
        trainer.should_stop |= last  # Lightning writes the loggers on its interval or when the run stops
        self.health.check(self, logs)
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

    def class_grid_inputs(self, columns: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """(z, condition) of a conditional sample grid: one row per class or caption, the same z in each column."""
        raise ConfigError(f"{type(self).__name__} is unconditional: its sample grid has no rows of conditions")

    @torch.no_grad()
    def stage_images(self, z: Tensor, labels: Tensor | None = None, ema: bool = True) -> list[Tensor]:
        """The images of every stage (smallest first) for the same z and condition: one stage here."""
        return [self.generate(z, labels, ema)]

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor | None = None, ema: bool = True) -> Tensor:
        """Images in [-1, 1] from the EMA generator (when kept and ``ema``) or G, in eval mode (batch norm uses
        running statistics)."""
        generator = self.sampler if ema else self.generator
        with eval_mode(generator):
            return self.draw(generator, z.to(self.device), labels).images

    # --- Lightning plumbing ------------------------------------------------------------------------------

    def configure_model(self) -> None:
        if self.runtime.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.runtime.torch_compile:  # in place: parameter names (and checkpoints) stay as they are
            self.generator.compile()
            self.discriminator.compile()

    def configure_optimizers(self) -> list[Optimizer] | tuple[list[Optimizer], list[Any]]:
        optimizers = [self.g_optimizer(self.generator.parameters()), self.d_optimizer(self.discriminator.parameters())]
        schedulers = [s for part in self.parts for s in part.schedulers(optimizers)]
        return (optimizers, schedulers) if schedulers else optimizers

    def on_fit_start(self) -> None:
        seed = self.runtime.seed
        self.noise = torch.Generator(self.device).manual_seed(seed + self.global_rank)
        if self._noise_state is not None and self.trainer.world_size == 1:
            self.noise.set_state(self._noise_state)  # exact continuation of the run
        elif self._noise_state is not None:  # the checkpoint holds rank 0's stream: give each rank its own again
            self.noise.manual_seed(seed + self.global_rank + 1_000_003 * self.global_step)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.health.check_finite(self)  # never overwrite a good checkpoint with diverged weights
        checkpoint["gan_lab_config"] = self.run_config
        if self.noise is not None:
            checkpoint["noise_state"] = self.noise.get_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._noise_state = checkpoint.get("noise_state")
