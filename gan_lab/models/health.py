"""Health checks of a training run, called by the training rule at the logging interval: non-finite losses stop
it (saying truthfully which checkpoint is left), the classic collapse signature gets a warning."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from gan_lab.errors import NonFiniteLossError


class Health:
    """What the rule watches between logging intervals, without making the host wait for the device.

    Args:
        collapse_patience: warn when D wins completely (D(x) > 0.99 and D(G(z)) < 0.01 as probabilities) or G's
            loss explodes for this many logged intervals in a row (0: never).
        d_probability: D's logged outputs are probabilities (only then can "D wins" be read from them).
    """

    def __init__(self, collapse_patience: int = 5, d_probability: bool = False):
        self.collapse_patience, self.d_probability = collapse_patience, d_probability
        self.last_losses: Tensor | None = None
        self.all_finite: Tensor | None = None  # device-side AND of every step's check since the start
        self.d_wins = 0  # consecutive logged intervals in which D wins completely

    def step(self, d_loss: Tensor, g_loss: Tensor) -> None:
        """Every step: remember the losses and fold their finiteness in (no host sync)."""
        self.last_losses = torch.stack([d_loss.detach(), g_loss.detach()])
        finite = torch.isfinite(self.last_losses).all()
        self.all_finite = finite if self.all_finite is None else self.all_finite & finite

    def check(self, module: L.LightningModule, logs: dict[str, Tensor]) -> None:
        """At the logging interval: stop on non-finite losses, warn on collapse."""
        self.check_finite(module)
        self.check_collapse(module, logs)

    def check_finite(self, module: L.LightningModule) -> None:
        """Stop on non-finite losses (also called before a checkpoint is saved)."""
        if self.all_finite is None or bool(self.all_finite):
            return
        d, g = self.last_losses.tolist()
        callback = module.trainer.checkpoint_callback
        last = Path(callback.dirpath) / "last.ckpt" if callback is not None and callback.dirpath else None
        kept = (
            f"the last good checkpoint, {last}, was kept"
            if last is not None and last.is_file()
            else "no checkpoint had been written yet"
        )
        raise NonFiniteLossError(
            f"the losses stopped being finite (last: d_loss={d}, g_loss={g}) by generator step {module.g_steps}; "
            f"training stopped and {kept}. Lower the learning rates, or add a gradient penalty / spectral norm."
        )

    def check_collapse(self, module: L.LightningModule, logs: dict[str, Tensor]) -> None:
        if not self.collapse_patience:
            return
        logs = {k: v.detach() for k, v in logs.items() if k in ("g_loss", "D(x)", "D(G(z))")}
        explodes = abs(float(logs["g_loss"])) > 1e6
        d_wins = self.d_probability and float(logs["D(x)"]) > 0.99 and float(logs["D(G(z))"]) < 0.01
        self.d_wins = self.d_wins + 1 if explodes or d_wins else 0
        if self.d_wins == self.collapse_patience:
            rank_zero_warn(
                f"training looks collapsed at generator step {module.g_steps}: for {self.d_wins} logged intervals "
                f"D(x)={float(logs['D(x)']):.3g}, D(G(z))={float(logs['D(G(z))']):.3g}, g_loss="
                f"{float(logs['g_loss']):.3g} (D wins completely; G gets no useful gradient). Earlier checkpoints "
                "are in the run's checkpoints/ folder; lower D's learning rate or add spectral norm / R1."
            )
