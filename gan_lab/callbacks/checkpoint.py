"""Keep a resumable ``last.ckpt`` when training is interrupted (Ctrl-C, SIGTERM, a crash), and never a half-written
checkpoint file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_info

from gan_lab.errors import NonFiniteLossError


class CheckpointOnException(L.Callback):
    """On any exception during fit, save the current state as the ``last.ckpt`` of the run's
    ``ModelCheckpoint``, so ``ckpt_path=.../last.ckpt`` resumes from where training stopped.

    Diverged runs (NaN/inf losses) are the exception: their weights are worthless, so the last good
    ``last.ckpt`` is kept as it is.

    Why not Lightning's ``OnExceptionCheckpoint``: it saves on every exception, a NaN divergence included (it would
    replace the last good checkpoint with diverged weights) and before the first step, and to a file of its own;
    here the save is the run's one ``last.ckpt``, which is the path the interruption message tells users to resume.
    """

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, NonFiniteLossError) or trainer.global_step == 0:
            return
        checkpoint = next((cb for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint)), None)
        if checkpoint is None or checkpoint.dirpath is None:
            return
        path = Path(checkpoint.dirpath) / f"{checkpoint.CHECKPOINT_NAME_LAST}{checkpoint.FILE_EXTENSION}"
        trainer.save_checkpoint(path, weights_only=False)  # the full, resumable state
        rank_zero_info(f"Interrupted ({type(exception).__name__}): saved a resumable checkpoint to {path}")


class ResumeWhereStopped(L.Callback):
    """Extending a finished run (``ckpt_path=<run>/last.ckpt trainer.max_steps=<more>``) goes on exactly where it
    stopped.

    A run that reaches ``trainer.max_steps`` before the end of its epoch leaves the epoch loop early, and Lightning
    then counts the epoch as processed and saves ``last.ckpt`` in ``on_train_epoch_end``. Resumed from that file it
    would start the next epoch (a new shuffle, the current one's unseen batches skipped), so the extended run would
    differ from a straight one. When the file says so (epoch processed but not completed, its last batch not
    reached), the epoch is marked as interrupted mid-way instead, the state a Ctrl-C save holds: the data loader
    continues the epoch at the batch where the run stopped.
    """

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        fit = (checkpoint.get("loops") or {}).get("fit_loop") or {}
        epochs, batches = fit.get("epoch_progress"), fit.get("epoch_loop.batch_progress")
        if not epochs or not batches or batches.get("is_last_batch") or not batches["current"]["processed"]:
            return
        total, current = epochs["total"], epochs["current"]
        if total["started"] == total["processed"] == total["completed"] + 1 and current["processed"] > 0:
            total["processed"] -= 1
            current["processed"] -= 1


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoint files that are always whole: the new file is written beside its target, flushed to disk, then
    renamed over it (``os.replace``, atomic on one filesystem), and the folder entry is flushed too.

    Lightning's own save writes a temporary file in $TMPDIR and moves it; when the run folder is on another
    filesystem (outputs on NFS/Lustre, /tmp local) that move is a copy, and a kill during it leaves a truncated
    ``last.ckpt`` with the previous good one already gone (and a temporary file left in /tmp). Remote URLs
    (``s3://…``) keep Lightning's save.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        if "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
