"""Reading checkpoints back — the one place that opens them. A checkpoint is data, never code:

- every file is read with ``torch.load(weights_only=True)``: tensors, numbers, strings, lists and dicts only. A
  pickle that asks to import or call anything (a crafted file) is refused before anything runs;
- the run config stored in a gan_lab checkpoint is instantiated only when every ``_target_`` in it names one of
  the allowlisted packages (:data:`ALLOWED_TARGETS`): a safely loaded file still cannot make ``instantiate`` call an
  arbitrary function.

The run's config travels inside, so a checkpoint alone rebuilds its model.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.errors import CheckpointError
from gan_lab.legacy import upgrade_model_config
from gan_lab.steps import generator_steps

# What a stored config may instantiate: gan_lab itself, and the torch / Lightning pieces gan_lab's configs name
# (a name ending in "." allows the package, any other only itself).
ALLOWED_TARGETS = ("gan_lab.", "torch.optim.", "torch.nn.", "lightning.pytorch.callbacks.",
                   "lightning.pytorch.loggers.", "lightning.pytorch.Trainer")


def allowed_target(target: Any) -> bool:
    return isinstance(target, str) and any(
        target.startswith(allowed) if allowed.endswith(".") else target == allowed for allowed in ALLOWED_TARGETS)


def load_weights(path: str | Path, what: str = "checkpoint") -> dict[str, Any]:
    """The dict stored in ``path``, read weights-only; a CheckpointError saying why it cannot be used."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{what} {path} is a directory, not a checkpoint file (e.g. <run>/checkpoints/last.ckpt)")
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist (runs keep theirs in outputs/<date>/<time>_<model>-<data>/checkpoints/)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        with open(path, "rb") as f:
            raw_pickle = f.read(1) == pickle.PROTO  # a bare pickle, not torch's zip: may hold anything
        if "Unsupported global" in str(err) or raw_pickle:
            raise CheckpointError(
                f"refused to open {path}: it is not a weights-only checkpoint (it asks to import or run code; gan_lab "
                "loads tensors, numbers and strings only). Only open checkpoints from sources you trust, and never "
                "with plain pickle"
            ) from None
        raise CheckpointError(_corrupt(path, err)) from err
    except Exception as err:  # truncated file, wrong format, ...
        raise CheckpointError(_corrupt(path, err)) from err
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint dict")
    return ckpt


def _corrupt(path: Path, err: Exception) -> str:
    return (f"checkpoint {path} is corrupt or not a PyTorch checkpoint ({type(err).__name__}: {err}); use another "
            "one of the run, e.g. checkpoints/epochNNN.ckpt")


def check_targets(config: Any, path: str | Path, key: str = "") -> None:
    """Refuse a stored config with a ``_target_`` outside :data:`ALLOWED_TARGETS`, naming it and where it is."""
    if isinstance(config, dict):
        target = config.get("_target_")
        if target is not None and not allowed_target(target):
            where = f"{key}._target_" if key else "_target_"
            raise CheckpointError(
                f"refused to build the config stored in {path}: {where} is {target!r}, and a checkpoint's config may "
                f"only name {', '.join(p + '*' if p.endswith('.') else p for p in ALLOWED_TARGETS)}"
            )
        for name, value in config.items():
            check_targets(value, path, f"{key}.{name}" if key else str(name))
    elif isinstance(config, list):
        for i, value in enumerate(config):
            check_targets(value, path, f"{key}[{i}]")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A gan_lab training checkpoint (weights-only, config targets allowlisted), or a CheckpointError."""
    ckpt = load_weights(path)
    if "state_dict" not in ckpt or not ckpt.get("gan_lab_config"):
        raise CheckpointError(f"{path} was not written by gan_lab training: it holds no gan_lab config and weights")
    check_targets(ckpt["gan_lab_config"], path)
    return ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Any, DictConfig, int]:
    """The trained module (weights loaded, eval mode), the config of the run that wrote ``path``, and the
    number of generator steps it had taken."""
    from hydra.utils import instantiate

    ckpt = load_checkpoint(path)
    cfg = OmegaConf.create(ckpt["gan_lab_config"])
    cfg.model = upgrade_model_config(OmegaConf.to_container(cfg.model))  # checkpoints of the flat layout too
    model = instantiate(cfg.model)
    model.load_state_dict(ckpt["state_dict"])
    model.run_config = ckpt["gan_lab_config"]
    return model.to(device).eval(), cfg, generator_steps(ckpt["global_step"], model.n_critic)


def load_run(path: str | Path, device: str | torch.device = "cpu", data_root: str | None = None):
    """(model, the run's datamodule, generator steps) of a checkpoint; ``data_root`` says where the run's real
    data lives now, when it has moved since training."""
    from hydra.utils import instantiate

    model, cfg, g_steps = load_model(path, device)
    if data_root:
        with open_dict(cfg):
            cfg.data.root = data_root
    return model, instantiate(cfg.data), g_steps
