"""Reading checkpoints back — the one place that opens them. A checkpoint is data, never code:

- every file is read with ``torch.load(weights_only=True)``: tensors, numbers, strings, lists and dicts only. A
  pickle that asks to import or call anything (a crafted file) is refused before anything runs;
- the run config stored in a gan_lab checkpoint is instantiated only when every ``_target_`` in it names a class
  (or, in the few modules whose parts are functions, a function) *defined* in one of the modules configs pick parts
  from (:data:`ALLOWED_MODULES`): models, networks, losses, optimisers and schedulers, data modules and sources,
  callbacks, loggers, profilers, the Trainer. The name is checked before anything is imported and the object it
  resolves to after, so neither a helper function (``gan_lab.data.cub.read_names``) nor something reached through
  a module (``gan_lab.cli.os.system``) passes: a safely loaded file still cannot make ``instantiate`` call an
  arbitrary function.

The run's config travels inside, so a checkpoint alone rebuilds its model.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.errors import CheckpointError, GanLabError
from gan_lab.legacy import upgrade_model_config
from gan_lab.steps import generator_steps

# What a stored config may instantiate: the public classes defined in these modules (and their submodules), and
# public functions where the module says "functions" (losses, data sources, toy-data centres, the progress bar).
ALLOWED_MODULES = {
    "gan_lab.models": "classes",
    "gan_lab.nets": "classes",
    "gan_lab.losses": "functions",
    "gan_lab.data": "classes",
    "gan_lab.data.sources": "functions",
    "gan_lab.data.toy": "functions",
    "gan_lab.callbacks": "classes",
    "gan_lab.callbacks.progress": "functions",
    "gan_lab.loggers": "classes",
    "gan_lab.metrics": "classes",
    "gan_lab.sweep": "classes",
    "torch.optim": "classes",
    "torch.nn": "classes",
    "lightning.pytorch.callbacks": "classes",
    "lightning.pytorch.loggers": "classes",
    "lightning.pytorch.profilers": "classes",
    "lightning.pytorch.trainer": "classes",
}
ALIASES = {"lightning.pytorch.Trainer": "lightning.pytorch.trainer.trainer.Trainer"}  # names configs use


def _allowed_module(module: str) -> str | None:
    """What ``module`` may provide ("classes" or "functions"), by its closest listed package; None if unlisted."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if (kind := ALLOWED_MODULES.get(".".join(parts[:end]))) is not None:
            return kind
    return None


def allowed_target(target: Any) -> bool:
    """Whether ``target`` names a class (or, where allowed, a function) defined in :data:`ALLOWED_MODULES`: the
    name is checked before any import, then the object it resolves to (an attribute reached through a module, an
    imported helper or a private name fails)."""
    if not isinstance(target, str) or not target.isascii():
        return False
    target = ALIASES.get(target, target)
    module, _, name = target.rpartition(".")
    if (
        not name.isidentifier()
        or name.startswith("_")
        or any(not p.isidentifier() or p.startswith("_") for p in module.split("."))
        or _allowed_module(module) is None
    ):
        return False
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):  # e.g. gan_lab.cli.os: not a module of its own
        return False
    defined = getattr(obj, "__module__", None)
    kind = _allowed_module(defined) if isinstance(defined, str) else None
    if kind is None or getattr(obj, "__name__", None) != name:
        return False
    return inspect.isclass(obj) or (kind == "functions" and inspect.isfunction(obj))


def load_weights(path: str | Path, what: str = "checkpoint") -> dict[str, Any]:
    """The dict stored in ``path``, read weights-only; a CheckpointError saying why it cannot be used."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{what} {path} is a directory, not a checkpoint file (e.g. <run>/checkpoints/last.ckpt)")
    if not path.is_file():
        raise CheckpointError(
            f"{what} {path} does not exist (runs keep theirs in outputs/<date>/<time>_<model>-<data>/checkpoints/)"
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        with open(path, "rb") as f:
            raw_pickle = f.read(1) == pickle.PROTO  # a bare pickle, not torch's zip: may hold anything
        # torch's weights-only unpickler refused what a torch file (a zip) or a bare pickle asked for; other bytes
        # that fail to unpickle are simply not a checkpoint
        refused = "Weights only load failed" in str(err) and zipfile.is_zipfile(path)
        if refused or raw_pickle:
            raise CheckpointError(
                f"refused to open {path}: it is not a weights-only checkpoint ({_refusal(err)}; gan_lab loads "
                "tensors, numbers and strings only, and nothing in it was run). Only open checkpoints from sources "
                "you trust, and never with plain pickle"
            ) from None
        raise CheckpointError(_corrupt(path, err)) from err
    except Exception as err:  # truncated file, wrong format, ...
        raise CheckpointError(_corrupt(path, err)) from err
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint dict")
    return ckpt


def _refusal(err: Exception) -> str:
    """The reason line of torch's weights-only refusal (e.g. "Trying to load unsupported GLOBAL posix.system ...")."""
    skip = (
        "Weights only load failed",
        "Please file an issue",
        "Check the documentation",
        "In PyTorch 2.6",
        "Re-running",
        "(1)",
        "(2)",
        "WeightsUnpickler error",
    )
    lines = [" ".join(line.split()) for line in str(err).splitlines()]
    reasons = [line for line in lines if line and not line.startswith(skip)]
    return (reasons[-1] if reasons else "it asks to import or run code")[:200].rstrip(".")


def _corrupt(path: Path, err: Exception) -> str:
    return (
        f"checkpoint {path} is corrupt or not a PyTorch checkpoint ({_one_line(err)}); use another "
        "one of the run, e.g. checkpoints/epochNNN.ckpt"
    )


def check_targets(config: Any, path: str | Path, key: str = "") -> None:
    """Refuse a stored config with a ``_target_`` that :func:`allowed_target` refuses, naming it and where it is."""
    if isinstance(config, dict):
        target = config.get("_target_")
        if target is not None and not allowed_target(target):
            where = f"{key}._target_" if key else "_target_"
            raise CheckpointError(
                f"refused to build the config stored in {path}: {where} is {str(target)[:200]!r}, and a checkpoint's "
                f"config may only name classes of gan_lab's models, nets, data, callbacks, loggers and metrics, "
                "gan_lab.losses / gan_lab.data.sources functions, torch.optim.*, torch.nn.* and Lightning's callbacks, "
                "loggers, profilers and Trainer"
            )
        for name, value in config.items():
            check_targets(value, path, f"{key}.{name}" if key else str(name))
    elif isinstance(config, list):
        for i, value in enumerate(config):
            check_targets(value, path, f"{key}[{i}]")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A gan_lab training checkpoint (weights-only, config targets allowlisted), or a CheckpointError."""
    ckpt = load_weights(path)
    config = ckpt.get("gan_lab_config")
    if not isinstance(ckpt.get("state_dict"), dict) or not isinstance(config, dict) or not config:
        raise CheckpointError(f"{path} was not written by gan_lab training: it holds no gan_lab config and weights")
    check_targets(ckpt["gan_lab_config"], path)
    return ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Any, DictConfig, int]:
    """The trained module (weights loaded, eval mode), the config of the run that wrote ``path``, and the
    number of generator steps it had taken."""
    from hydra.utils import instantiate

    ckpt = load_checkpoint(path)
    key = Path(path).resolve()
    if key in _LOADING:  # a Stage-II whose stored model.stage1_ckpt leads back to itself
        raise CheckpointError(f"{path} names itself (through model.stage1_ckpt) as the checkpoint its model loads")
    _LOADING.add(key)
    try:
        cfg = OmegaConf.create(ckpt["gan_lab_config"])
        cfg.model = upgrade_model_config(OmegaConf.to_container(cfg.model))  # checkpoints of the flat layout too
        model = instantiate(cfg.model)
    except Exception as err:
        if (reason := user_error(err)) is not None:  # e.g. its Stage-I checkpoint refused: that one line
            raise reason from None
        raise CheckpointError(
            f"cannot build the model the config stored in {path} describes ({_one_line(err)})"
        ) from None
    finally:
        _LOADING.discard(key)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except Exception as err:
        raise CheckpointError(
            f"the weights in {path} do not fit the model its config describes ({_one_line(err)})"
        ) from None
    step = ckpt.get("global_step", 0)
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"{path} holds global_step={str(step)[:50]!r}: not a step count")
    model.run_config = ckpt["gan_lab_config"]
    return model.to(device).eval(), cfg, generator_steps(step, model.n_critic)


_LOADING: set[Path] = set()  # checkpoints whose model is being built (a Stage-II's Stage-I is built inside it)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}"


def user_error(err: BaseException | None) -> BaseException | None:
    """The GanLabError behind ``err`` (instantiate wraps what the constructors raise), if any."""
    while err is not None:
        if isinstance(err, GanLabError):
            return err
        err = err.__cause__ or err.__context__
    return None


def load_run(path: str | Path, device: str | torch.device = "cpu", data_root: str | None = None):
    """(model, the run's datamodule, generator steps) of a checkpoint; ``data_root`` says where the run's real
    data lives now, when it has moved since training."""
    from hydra.utils import instantiate

    model, cfg, g_steps = load_model(path, device)
    if data_root:
        with open_dict(cfg):
            cfg.data.root = data_root
    return model, instantiate(cfg.data), g_steps
