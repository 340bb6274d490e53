"""Fixed-z samples during training: a PNG in the run folder and an image in every logger that takes images."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torchvision.utils import make_grid, save_image

from gan_lab.images import annotate, to_unit_range
from gan_lab.kinds import Condition, Yields


def log_image(trainer: L.Trainer, key: str, image: Tensor, step: int) -> None:
    """Log a (3, H, W) image in [0, 1] to each logger that can show images (TensorBoard, W&B, ...)."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, step)
        elif callable(getattr(logger, "log_image", None)):  # WandbLogger, NeptuneLogger, ...
            logger.log_image(key=key, images=[image], step=step)


def log_text(trainer: L.Trainer, key: str, text: str, step: int) -> None:
    """Log markdown text to each TensorBoard logger (its TEXT tab)."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_text(key, text, step)


def stage_grid(
    pl_module: L.LightningModule, z: Tensor, labels: Tensor, nrow: int, columns: int = 4
) -> tuple[Tensor, int] | None:
    """Models that declare several stages (``stages`` > 1: StackGAN Stage-II, v2): for the first ``columns`` z of
    each row of the sample grid, every stage's image (``stage_images``: smallest first, nearest-upsampled to the
    largest) side by side in one cell, and the number of stages; None for one-stage models."""
    if pl_module.stages < 2:
        return None
    rows, k = len(z) // nrow, min(columns, nrow)
    idx = torch.tensor([r * nrow + c for r in range(rows) for c in range(k)], device=z.device)
    stages = pl_module.stage_images(z[idx], labels[idx])
    size = stages[-1].shape[-1]
    cells = torch.cat([F.interpolate(x.float(), size=(size, size), mode="nearest") for x in stages], -1)
    return make_grid(to_unit_range(cells), nrow=k, padding=2), len(stages)


def yields(trainer: L.Trainer) -> Yields | None:
    """What the run's data module declares it yields (None when the trainer has none)."""
    return None if trainer.datamodule is None else trainer.datamodule.yields


def scatter_image(
    points: Tensor, reference: Tensor | None = None, title: str = "", centers: Tensor | None = None
) -> Tensor:
    """A scatter plot of 2-D points (over optional reference points and the real modes' ``centers``, drawn as
    crosses) as a (3, H, W) image in [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        ax.scatter(*reference.T.cpu(), s=2, c="tab:blue", alpha=0.5, label="real")
    ax.scatter(*points.T.cpu(), s=2, c="tab:red", alpha=0.5, label="generated")
    if centers is not None:
        ax.scatter(*centers.T.cpu(), s=40, c="black", marker="x", linewidths=1, label="real modes")
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
    saved as ``<dirpath>/step_<g_steps>.png`` and logged as ``samples`` (the EMA generator when enabled), in
    TensorBoard with the step above it and, for conditional models, the class (or caption) of each row. A grid of
    real training images is saved and logged once, as ``real.png`` / ``real``. Text-to-image models also log their
    grid's captions as text (``captions``), and multi-stage ones (StackGAN Stage-II, v2) every stage of the first
    4 columns side by side (``stages_<step>.png`` / ``samples_stages``, :func:`stage_grid`).
    """

    def __init__(self, dirpath: str, every_n_steps: int = 200, n_samples: int = 64, nrow: int = 8, seed: int = 1234):
        self.dirpath, self.every_n_steps = Path(dirpath), every_n_steps
        self.n_samples, self.nrow, self.seed = n_samples, nrow, seed
        self.last_written: int | None = None

    def fixed_inputs(self, pl_module: L.LightningModule) -> tuple[Tensor, Tensor | None]:
        """The same z at every call; for conditional models (class or text) one row per class or caption with the
        same z per column (the model's ``class_grid_inputs``)."""
        generator = torch.Generator(pl_module.device).manual_seed(self.seed)
        if pl_module.condition is not Condition.NONE:
            return pl_module.class_grid_inputs(self.nrow, generator)
        return pl_module.sample_z(self.n_samples, generator=generator), None

    @rank_zero_only
    def write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Path:
        step = pl_module.g_steps
        z, labels = self.fixed_inputs(pl_module)
        samples = pl_module.generate(z, labels).float()
        if yields(trainer) is Yields.POINTS:
            datamodule = trainer.datamodule
            image = scatter_image(
                samples.flatten(1),
                datamodule.train_set.images[:2000].flatten(1),
                title=f"generator step {step}",
                centers=datamodule.centers,
            )
            shown = image
        else:
            image = make_grid(to_unit_range(samples), nrow=self.nrow, padding=2)
            shown = annotate(
                image, f"generator step {step}", self.row_labels(pl_module, labels), cell=samples.shape[-2] + 2
            )
        self.dirpath.mkdir(parents=True, exist_ok=True)
        path = self.dirpath / f"step_{step:06d}.png"
        save_image(image, path)
        log_image(trainer, "samples", shown, step)
        stages = stage_grid(pl_module, z, labels, self.nrow) if labels is not None else None
        if stages is not None:
            grid, n_stages = stages
            save_image(grid, self.dirpath / f"stages_{step:06d}.png")
            title = f"generator step {step}: each cell the {n_stages} stages, smallest first"
            log_image(
                trainer,
                "samples_stages",
                annotate(grid, title, self.row_labels(pl_module, labels), cell=samples.shape[-2] + 2),
                step,
            )
        self.last_written = step
        return path

    def row_labels(self, pl_module: L.LightningModule, labels: Tensor | None) -> list[str] | None:
        """What each row of a conditional grid was asked for: its caption (text-to-image) or class."""
        if labels is None:
            return None
        if pl_module.condition is Condition.TEXT:  # no row labels when the data has no caption text
            return [t if len(t) <= 40 else t[:39] + "…" for t in pl_module.grid_texts] or None
        return [f"class {int(k)}" for k in labels[:: self.nrow]]

    @rank_zero_only
    def write_real(self, trainer: L.Trainer) -> None:
        """``real.png`` and the ``real`` image: the first training images, once per run (images only)."""
        from gan_lab.metrics.image import real_batches

        if yields(trainer) in (None, Yields.POINTS) or (self.dirpath / "real.png").exists():
            return  # 2-D toys: the real points are in every scatter plot
        dataset = trainer.datamodule.train_set
        real = next(real_batches(dataset, min(self.n_samples, len(dataset)), self.n_samples))
        image = make_grid(to_unit_range(real.float()), nrow=self.nrow, padding=2)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        save_image(image, self.dirpath / "real.png")
        log_image(trainer, "real", annotate(image, "real training images"), 0)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.write_real(trainer)
        if pl_module.condition is Condition.TEXT and pl_module.grid_texts:  # the grid's captions in full, one per row
            log_text(trainer, "captions", "\n".join(f"{i + 1}. {t}" for i, t in enumerate(pl_module.grid_texts)), 0)
        self.write(trainer, pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        if pl_module.g_steps % self.every_n_steps == 0:
            self.write(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.last_written != pl_module.g_steps:
            self.write(trainer, pl_module)
