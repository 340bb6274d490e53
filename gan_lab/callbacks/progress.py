"""Progress in generator steps: Rich's bar on a terminal, plain periodic lines anywhere else (a log file, CI, a
SLURM job), both counting the ``trainer.max_steps`` the user set (Lightning's own count is optimiser steps)."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import lightning as L
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar

from gan_lab.console import say
from gan_lab.steps import generator_steps


def total_steps(trainer: L.Trainer, pl_module: L.LightningModule) -> int | None:
    """The generator steps this run will make: ``trainer.max_steps`` (as the user set it) or the epochs' batches,
    whichever ends first; None when neither limits it."""
    limits = []
    if trainer.max_steps > 0:
        limits.append(generator_steps(trainer.max_steps, pl_module.n_critic))
    batches = trainer.num_training_batches
    if trainer.max_epochs not in (None, -1) and batches not in (None, float("inf")):
        limits.append(int(batches) * trainer.max_epochs)
    return min(limits) if limits else None


def shown_metrics(bar: ProgressBar, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
    """What the bar shows after the step count: the ``prog_bar`` metrics, without Lightning's version number."""
    metrics = ProgressBar.get_metrics(bar, trainer, pl_module)
    metrics.pop("v_num", None)
    return metrics


class GanRichProgressBar(RichProgressBar):
    """Rich's bar with ``step g/N``: the generator step and the run's length in generator steps."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        total = total_steps(trainer, pl_module)
        return {"step": f"{pl_module.g_steps}/{total or '∞'}", **shown_metrics(self, trainer, pl_module)}


class PlainProgress(ProgressBar):
    """One line every ``every_n_steps`` generator steps and at the end, e.g.
    ``step 200/300 (67%) · 3.1 steps/s · 0:00:32 left · train/d_loss=-3.76 · train/g_loss=1.35``."""

    def __init__(self, every_n_steps: int = 50) -> None:
        super().__init__()
        self.every_n_steps, self._enabled, self._start, self._first = every_n_steps, True, 0.0, 0

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start, self._first = time.monotonic(), pl_module.g_steps
        if self._enabled and trainer.is_global_zero:
            total = total_steps(trainer, pl_module)
            say(f"training from generator step {self._first} to {total or 'no limit'}")

    def line(self, trainer: L.Trainer, pl_module: L.LightningModule) -> str:
        step, total = pl_module.g_steps, total_steps(trainer, pl_module)
        rate = (step - self._first) / max(time.monotonic() - self._start, 1e-9)
        parts = [f"step {step}/{total}" + (f" ({step / total:.0%})" if total else ""), f"{rate:.2f} steps/s"]
        if total and rate > 0:
            parts.append(f"{timedelta(seconds=round((total - step) / rate))} left")
        metrics = shown_metrics(self, trainer, pl_module)
        parts += [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()]
        return " · ".join(parts)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        total = total_steps(trainer, pl_module)
        step = pl_module.g_steps
        if self._enabled and trainer.is_global_zero and (step % self.every_n_steps == 0 or step == total):
            say(self.line(trainer, pl_module))


def progress_bar(refresh_rate: int = 5, every_n_steps: int = 50, plain: bool | None = None) -> ProgressBar:
    """Rich's bar when standard output is a terminal, plain lines otherwise (``plain=true|false`` forces one)."""
    plain = not sys.stdout.isatty() if plain is None else plain
    return PlainProgress(every_n_steps) if plain else GanRichProgressBar(refresh_rate=refresh_rate)
