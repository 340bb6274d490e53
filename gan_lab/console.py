"""The console of a run: the composed config as a tree (printed and saved in the run folder) and no framework
noise unless ``verbose=true``. Called once from :func:`gan_lab.train.train`."""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

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
    return not ("💡 Tip" in text or "litlogger" in text or "Tip:" in text)


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


def start(cfg: DictConfig) -> None:
    """Quiet the frameworks, print the config tree and save it as ``<run>/config_tree.log``."""
    quiet(bool(cfg.get("verbose", False)))
    text = config_tree(cfg)
    print(text, end="")
    output = Path(cfg.paths.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "config_tree.log").write_text(text)
