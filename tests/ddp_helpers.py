"""Importable helpers for the 2-process DDP tests (spawned workers must be able to import them)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from gan_lab.models import GANModule
from gan_lab.training import build


class RecordingGAN(GANModule):
    """A GANModule that records the inputs and outcome of its first critic loss (to recompute it alone)."""

    record_dir: str = ""

    def discriminator_loss(self, real, fake):
        first = not hasattr(self, "recorded")
        if first:
            noise, weights = self.noise.get_state(), {k: v.clone() for k, v in self.discriminator.state_dict().items()}
        loss, logs = super().discriminator_loss(real, fake)
        if first:
            self.recorded = {
                "real": real.images.detach().clone(),
                "fake": fake.images.detach().clone(),
                "noise": noise,
                "D": weights,
                "gp": logs["gradient_penalty"].item(),
            }
        return loss, logs


class RecordRanks(L.Callback):
    """Per step: the largest parameter difference between ranks; on the first critic step: the all-reduced grads."""

    def __init__(self, out_dir: str):
        self.out_dir, self.max_diffs = out_dir, []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        recorded = getattr(pl_module, "recorded", None)  # a RecordingGAN's
        if recorded is not None and "grads" not in recorded and optimizer is trainer.optimizers[1]:
            pl_module.recorded["grads"] = [p.grad.detach().clone() for p in pl_module.discriminator.parameters()]

    def on_train_batch_end(self, trainer, pl_module, *args):
        flat = torch.cat([p.detach().flatten() for p in pl_module.parameters()])
        both = trainer.strategy.all_gather(flat)
        self.max_diffs.append((both[0] - both[1]).abs().max().item())

    def on_train_end(self, trainer, pl_module):
        torch.save(
            {"recorded": getattr(pl_module, "recorded", None), "max_diffs": self.max_diffs, "steps": pl_module.g_steps},
            Path(self.out_dir) / f"rank{trainer.global_rank}.pt",
        )


def fit_on_two_ranks(cfg, out_dir: Path) -> list[dict]:
    """Fit ``cfg`` (trainer.devices=2); per rank: steps, the largest parameter difference between the ranks after
    every step, and what a RecordingGAN recorded."""
    model, datamodule, trainer = build(cfg)
    trainer.callbacks.append(RecordRanks(str(out_dir)))
    trainer.fit(model, datamodule=datamodule)
    return [torch.load(Path(out_dir) / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
