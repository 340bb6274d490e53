"""The console of a run: the composed config as a tree (printed and saved in the run folder) and no framework
noise unless ``verbose=true``. Called once from :func:`gan_lab.training.train`."""

from __future__ import annotations

import io
import logging
import sys
import warnings
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_lab.cli import to_log_files

# Shown first in the tree; the rest follow in config order.
ORDER = ("model", "data", "trainer", "callbacks", "logger", "paths")

# Messages the frameworks print that say nothing about the run (the test suite silences the same ones).
NOISE = (
    r".*does not have many workers.*",
    r".*torch\.jit\.script.*",
    r".*litlogger.*",
    r".*Tip:.*",
    r".*The ``compute`` method of metric .* was called before the ``update``.*",
    r".*Metric `.*` will save all .* in buffer.*",
    r".*Using ModelCheckpoint with manual optimization.*",
    r".*smaller than the logging interval.*",  # gan_lab logs the last step of a short run anyway
)
NOISY_LOGGERS = ("alembic", "optuna.storages._rdb", "lightning.pytorch.utilities.rank_zero")


def quiet(verbose: bool = False) -> None:
    """Silence known framework noise (tips, adverts, deprecations, buffer warnings) unless ``verbose``."""
    if verbose:
        return
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    for message in NOISE:
        warnings.filterwarnings("ignore", message=message)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).addFilter(_drop_tips)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _drop_tips(record: logging.LogRecord) -> bool:
    text = record.getMessage()
    # Lightning's "max_steps=N reached" counts optimiser steps (G + D), not the generator steps the user set;
    # gan_lab's own summary line says how many generator steps were trained.
    noise = ("💡 Tip", "litlogger", "Tip:", "Trainer already configured with model summary", "` reached.")
    return not any(part in text for part in noise)


def config_tree(cfg: DictConfig) -> str:
    """The composed config as a rich tree (plain text), main groups first."""
    from rich.console import Console
    from rich.syntax import Syntax
    from rich.tree import Tree

    tree = Tree("CONFIG")
    keys = [k for k in ORDER if k in cfg] + [k for k in cfg if k not in ORDER and k != "hydra"]
    for key in keys:
        branch = tree.add(str(key))
        value = cfg[key]
        text = _yaml(value) if isinstance(value, DictConfig) else str(value)
        branch.add(Syntax(text.rstrip(), "yaml", theme="ansi_dark"))
    buffer = io.StringIO()
    Console(file=buffer, width=110, force_terminal=False, color_system=None).print(tree)
    return buffer.getvalue()


def _yaml(node: DictConfig) -> str:
    try:
        return OmegaConf.to_yaml(node, resolve=True)
    except Exception:  # an interpolation only the run resolves (e.g. hydra:...): show it as written
        return OmegaConf.to_yaml(node, resolve=False)


def check_device(cfg: DictConfig) -> None:
    """A one-line error when the run asks for GPUs this machine does not have."""
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    if accelerator not in ("gpu", "cuda"):
        return
    import torch

    devices = cfg.trainer.get("devices", 1)
    wanted = devices if isinstance(devices, int) and devices > 0 else 1
    have = torch.cuda.device_count()
    if have < wanted:
        from gan_lab.errors import ConfigError

        raise ConfigError(
            f"trainer.accelerator=gpu asks for {wanted} GPU(s) but this machine has {have}: "
            "drop trainer=gpu/ddp (the default trainer uses the CPU), or set trainer.devices to at most "
            f"{have}"
            if have
            else f"trainer.accelerator=gpu asks for {wanted} GPU(s) but this machine has none (torch.cuda."
            "is_available() is False): drop trainer=gpu/ddp to train on the CPU, or run on a machine with a GPU"
        )


def say(text: str, error: bool = False) -> None:
    """Print ``text`` (standard output, or standard error when ``error``) and keep it in ``<run>/train.log``."""
    print(text, file=sys.stderr if error else sys.stdout, flush=True)
    to_log_files(text, logging.WARNING if error else logging.INFO)


def _show_and_log(message, category, filename, lineno, file=None, line=None) -> None:
    _show_warning(message, category, filename, lineno, file, line)
    to_log_files(f"{category.__name__}: {message}", logging.WARNING)


_show_warning = warnings.showwarning


def log_to_run_file() -> None:
    """``<run>/train.log`` (Hydra's file handler) also gets Lightning's messages and every warning shown."""
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    lightning = logging.getLogger("lightning.pytorch")
    for handler in files:
        if handler not in lightning.handlers:
            lightning.addHandler(handler)
    warnings.showwarning = _show_and_log


def start(cfg: DictConfig) -> None:
    """Check the device, quiet the frameworks, print the config tree and save it as ``<run>/config_tree.log``;
    from here on what the run prints is also in ``<run>/train.log``."""
    check_device(cfg)
    quiet(bool(cfg.get("verbose", False)))
    log_to_run_file()
    text = config_tree(cfg)
    say(text.rstrip("\n"))
    output = Path(cfg.paths.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "config_tree.log").write_text(text)
