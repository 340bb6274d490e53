"""Importable callback for the 2-process DDP remedies test (spawned workers must be able to import it)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch


class RanksAgree(L.Callback):
    """After every step: the largest parameter difference between the two ranks; saved at the end per rank."""

    def __init__(self, out_dir: str):
        self.out_dir, self.max_diffs = out_dir, []

    def on_train_batch_end(self, trainer, pl_module, *args):
        flat = torch.cat([p.detach().flatten() for p in pl_module.parameters()])
        both = trainer.strategy.all_gather(flat)
        self.max_diffs.append((both[0] - both[1]).abs().max().item())

    def on_train_end(self, trainer, pl_module):
        torch.save({"max_diffs": self.max_diffs, "steps": pl_module.g_steps},
                   Path(self.out_dir) / f"rank{trainer.global_rank}.pt")
