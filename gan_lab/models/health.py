"""Health checks of a training run, called by the training rule at the logging interval: non-finite losses stop
it (saying truthfully which checkpoint is left), the classic collapse signature gets a warning."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from gan_lab.errors import NonFiniteLossError


def check_finite(module: L.LightningModule) -> None:
    """Stop on non-finite losses: ``_all_finite`` is the device-side AND of every step's check since the start
    (read here, at the logging interval or before a checkpoint is saved, so no step waits for the device)."""
    if module._all_finite is None or bool(module._all_finite):
        return
    d, g = module._last_losses.tolist()
    callback = module.trainer.checkpoint_callback
    last = Path(callback.dirpath) / "last.ckpt" if callback is not None and callback.dirpath else None
    kept = (f"the last good checkpoint, {last}, was kept" if last is not None and last.is_file()
            else "no checkpoint had been written yet")
    raise NonFiniteLossError(
        f"the losses stopped being finite (last: d_loss={d}, g_loss={g}) by generator step {module.g_steps}; "
        f"training stopped and {kept}. Lower the learning rates, or add a gradient penalty / spectral norm."
    )


def check_collapse(module: L.LightningModule, logs: dict[str, Tensor]) -> None:
    """Warn once when D wins completely (D(x) > 0.99 and D(G(z)) < 0.01 as probabilities) or G's loss explodes
    for ``collapse_patience`` logged intervals in a row: the classic signature of a collapsed run."""
    if not module.collapse_patience:
        return
    logs = {k: v.detach() for k, v in logs.items() if k in ("g_loss", "D(x)", "D(G(z))")}
    explodes = abs(float(logs["g_loss"])) > 1e6
    d_wins = module.d_probability and float(logs["D(x)"]) > 0.99 and float(logs["D(G(z))"]) < 0.01
    module._d_wins = module._d_wins + 1 if explodes or d_wins else 0
    if module._d_wins == module.collapse_patience:
        rank_zero_warn(
            f"training looks collapsed at generator step {module.g_steps}: for {module._d_wins} logged intervals "
            f"D(x)={float(logs['D(x)']):.3g}, D(G(z))={float(logs['D(G(z))']):.3g}, g_loss="
            f"{float(logs['g_loss']):.3g} (D wins completely; G gets no useful gradient). Earlier checkpoints "
            "are in the run's checkpoints/ folder; lower D's learning rate or add spectral norm / R1."
        )
