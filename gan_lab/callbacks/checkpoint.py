"""Keep a resumable ``last.ckpt`` when training is interrupted (Ctrl-C, SIGTERM, a crash)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_info

from gan_lab.errors import NonFiniteLossError


class CheckpointOnException(L.Callback):
    """On any exception during fit, save the current state as the ``last.ckpt`` of the run's
    ``ModelCheckpoint``, so ``ckpt_path=.../last.ckpt`` resumes from where training stopped.

    Diverged runs (NaN/inf losses) are the exception: their weights are worthless, so the last good
    ``last.ckpt`` is kept as it is.
    """

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, NonFiniteLossError) or trainer.global_step == 0:
            return
        checkpoint = next((cb for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint)), None)
        if checkpoint is None or checkpoint.dirpath is None:
            return
        path = Path(checkpoint.dirpath) / f"{checkpoint.CHECKPOINT_NAME_LAST}{checkpoint.FILE_EXTENSION}"
        trainer.save_checkpoint(path)
        rank_zero_info(f"Interrupted ({type(exception).__name__}): saved a resumable checkpoint to {path}")
