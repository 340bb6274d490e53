"""Reading gan_lab checkpoints back: the run's config travels inside, so a checkpoint alone rebuilds its model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.errors import CheckpointError
from gan_lab.models import GANModule
from gan_lab.steps import generator_steps


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, or a CheckpointError saying why it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (runs keep theirs in outputs/<date>/<time>/checkpoints/)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # truncated file, wrong format, ...
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a PyTorch checkpoint ({type(err).__name__}: {err}); use another "
            "one of the run, e.g. checkpoints/epochNNN.ckpt"
        ) from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or not ckpt.get("gan_lab_config"):
        raise CheckpointError(f"{path} was not written by gan_lab training: it holds no gan_lab config and weights")
    return ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[GANModule, DictConfig, int]:
    """The trained module (weights loaded, eval mode), the config of the run that wrote ``path``, and the
    number of generator steps it had taken."""
    ckpt = load_checkpoint(path)
    cfg = OmegaConf.create(ckpt["gan_lab_config"])
    model = instantiate(cfg.model)
    model.load_state_dict(ckpt["state_dict"])
    model.run_config = ckpt["gan_lab_config"]
    return model.to(device).eval(), cfg, generator_steps(ckpt["global_step"], model.n_critic)


def load_run(path: str | Path, device: str | torch.device = "cpu", data_root: str | None = None):
    """(model, the run's datamodule, generator steps) of a checkpoint; ``data_root`` says where the run's real
    data lives now, when it has moved since training."""
    model, cfg, g_steps = load_model(path, device)
    if data_root:
        with open_dict(cfg):
            cfg.data.root = data_root
    return model, instantiate(cfg.data), g_steps
