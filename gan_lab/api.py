"""The Python API: the command-line tools as functions, for notebooks and scripts.

    from gan_lab import train, load_model, sample, score

    run = train("model=wgan_gp", "trainer.max_steps=200")      # the same overrides as `python -m gan_lab`
    model = load_model(run.checkpoint)                          # a GANModule, weights only, in eval mode
    images = sample(model, 16)                                  # (16, C, H, W) in [0, 1], the EMA G when kept
    scores = score(run.checkpoint, "features=classifier", "metrics=[fid,kid]")  # evaluate

Each composes the same Hydra config as its command (``conf/``), so a run trained here is a run like any other:
same folder layout, checkpoints, TensorBoard events.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from gan_lab.cli import CONFIG_DIR
from gan_lab.kinds import Condition
from gan_lab.resolvers import run_name


@dataclasses.dataclass
class Run:
    """A finished training run: its folder, final metrics and newest checkpoint."""

    path: Path
    metrics: dict[str, float]

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last.ckpt"


def config(name: str, *overrides: str) -> DictConfig:
    """The composed config of a command (``train``, ``evaluate``, ``generate``, ...) with ``overrides``."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(name, overrides=list(overrides), return_hydra_config=True)
    choices = cfg.hydra.runtime.choices
    with open_dict(cfg):
        if name == "train" and not any(o.startswith("paths.output_dir=") for o in overrides):
            folder = f"{time.strftime('%Y-%m-%d')}/{time.strftime('%H-%M-%S')}_" + run_name(
                choices.get("model"), choices.get("data"), cfg.get("tags")
            )
            cfg.paths.output_dir = str(Path(cfg.paths.log_dir) / folder)
        del cfg["hydra"]
    return cfg


def train(*overrides: str) -> Run:
    """Train as ``python -m gan_lab <overrides>`` does; returns the run (folder, metrics, checkpoint)."""
    from gan_lab.training import train as fit

    cfg = config("train", *overrides)
    metrics = fit(cfg)
    return Run(Path(cfg.paths.output_dir), metrics)


def load_model(ckpt: str | Path, device: str | torch.device = "cpu") -> Any:
    """The trained model in a checkpoint (read as data: weights-only), in eval mode on ``device``."""
    from gan_lab.checkpoints import load_model as load

    model, _, _ = load(ckpt, device)
    return model.eval()


@torch.no_grad()
def sample(
    model: Any,
    n: int = 64,
    labels: list[int] | torch.Tensor | None = None,
    seed: int | None = 0,
    truncation: float | None = None,
    ema: bool = True,
) -> torch.Tensor:
    """``n`` images in [0, 1] (conditional models: ``labels``, one per image, default classes in turn)."""
    from gan_lab.images import to_unit_range

    generator = None if seed is None else torch.Generator(model.device).manual_seed(seed)
    z = model.sample_z(n, truncation=truncation, generator=generator)
    if labels is None and model.condition is Condition.CLASS:
        labels = torch.arange(n) % model.num_classes
    if labels is not None:
        labels = torch.as_tensor(labels, device=model.device)
    return to_unit_range(model.generate(z, labels, ema=ema)).cpu()


def score(ckpt: str | Path, *overrides: str) -> dict[str, float]:
    """Evaluate a checkpoint as ``python -m gan_lab.evaluate ckpt=<ckpt> <overrides>`` does (``score``: the
    module ``gan_lab.evaluate`` keeps its name for ``python -m``)."""
    from gan_lab.evaluate import evaluate

    return evaluate(config("evaluate", f"ckpt={ckpt}", *overrides))
