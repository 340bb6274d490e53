"""Fixed-z samples during training: a PNG in the run folder and an image in every logger that takes images."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torchvision.utils import make_grid, save_image

from gan_lab.data import to_unit_range


def log_image(trainer: L.Trainer, key: str, image: Tensor, step: int) -> None:
    """Log a (3, H, W) image in [0, 1] to each logger that can show images (TensorBoard, W&B, ...)."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, step)
        elif callable(getattr(logger, "log_image", None)):  # WandbLogger, NeptuneLogger, ...
            logger.log_image(key=key, images=[image], step=step)


def scatter_image(points: Tensor, reference: Tensor | None = None, title: str = "") -> Tensor:
    """A scatter plot of 2-D points (over optional reference points) as a (3, H, W) image in [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        ax.scatter(*reference.T.cpu(), s=2, c="tab:blue", alpha=0.3, label="real")
    ax.scatter(*points.T.cpu(), s=2, c="tab:red", alpha=0.5, label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    return torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1).float() / 255


class SampleGrid(L.Callback):
    """Samples from one fixed set of z every ``every_n_steps`` generator steps, at the start and at the end.

    Images become an ``nrow``-wide grid; 2-D toy data becomes a scatter plot over real points. Each is
    saved as ``<dirpath>/step_<g_steps>.png`` and logged as ``samples`` (the EMA generator when enabled).
    """

    def __init__(self, dirpath: str, every_n_steps: int = 200, n_samples: int = 64, nrow: int = 8, seed: int = 1234):
        self.dirpath, self.every_n_steps = Path(dirpath), every_n_steps
        self.n_samples, self.nrow, self.seed = n_samples, nrow, seed
        self.last_written: int | None = None

    def fixed_inputs(self, pl_module: L.LightningModule) -> tuple[Tensor, Tensor | None]:
        """The same z at every call; for conditional models one row per class with the same z per column."""
        generator = torch.Generator(pl_module.device).manual_seed(self.seed)
        if hasattr(pl_module, "class_grid_inputs"):
            return pl_module.class_grid_inputs(self.nrow, generator)
        return pl_module.sample_z(self.n_samples, generator=generator), None

    @rank_zero_only
    def write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Path:
        step = pl_module.g_steps
        z, labels = self.fixed_inputs(pl_module)
        samples = pl_module.generate(z, labels).float()
        if samples.shape[1:] == (2, 1, 1):
            real = trainer.datamodule.train_set.images[:2000].flatten(1) if trainer.datamodule else None
            image = scatter_image(samples.flatten(1), real, title=f"generator step {step}")
        else:
            image = make_grid(to_unit_range(samples), nrow=self.nrow, padding=2)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        path = self.dirpath / f"step_{step:06d}.png"
        save_image(image, path)
        log_image(trainer, "samples", image, step)
        self.last_written = step
        return path

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.write(trainer, pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        if pl_module.g_steps % self.every_n_steps == 0:
            self.write(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.last_written != pl_module.g_steps:
            self.write(trainer, pl_module)
