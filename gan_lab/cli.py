"""What every command-line entry point shares: user errors become one line and exit status 1."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra

from gan_lab.errors import GanLabError

# conf/ of the checkout, or gan_lab/conf inside an installed wheel (pyproject.toml ships it there)
CONFIG_DIR = str(
    next(
        p
        for p in (Path(__file__).resolve().parent / "conf", Path(__file__).resolve().parents[1] / "conf")
        if p.is_dir()
    )
)
log = logging.getLogger("gan_lab")


def user_error(err: BaseException | None) -> GanLabError | None:
    """The GanLabError behind ``err`` (Hydra wraps errors raised while instantiating), if any."""
    while err is not None:
        if isinstance(err, GanLabError):
            return err
        err = err.__cause__ or err.__context__
    return None


def reports_user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn``; a GanLabError anywhere in the chain exits with ``gan_lab: error: <message>`` and status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            if (reason := user_error(err)) is None:
                raise
            to_log_files(f"gan_lab: error: {reason}")  # the run's log (train.log); the console gets it once, below
            sys.exit(f"gan_lab: error: {reason}")

    return wrapper


def to_log_files(message: str, level: int = logging.ERROR) -> None:
    """Write ``message`` as a record to the log files only (``<run>/train.log``; not the console, which prints it
    itself)."""
    record = log.makeRecord(log.name, level, __file__, 0, message, None, None)
    for logger in (log, logging.getLogger()):
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler):
                handler.handle(record)


def check_log_dir(argv: list[str]) -> None:
    """Training writes its run folder under ``paths.log_dir`` (``<paths.root_dir>/outputs``), or where
    ``hydra.run.dir`` says; Hydra creates it before gan_lab runs, so an unwritable one is caught here, from the
    command line, as one line."""
    values = dict(arg.lstrip("+").split("=", 1) for arg in argv if "=" in arg)
    log_dir = Path(values.get("paths.log_dir") or Path(values.get("paths.root_dir", ".")) / "outputs")
    folders = [("paths.log_dir", log_dir)] + (
        [("hydra.run.dir", Path(values["hydra.run.dir"]))] if values.get("hydra.run.dir") else []
    )
    for key, folder in folders:
        if "${" in str(folder):
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)  # Hydra would create it next
            ok = os.access(folder, os.W_OK | os.X_OK)
        except OSError as err:
            ok, folder = False, f"{folder} ({err.strerror})"
        if not ok:
            sys.exit(f"gan_lab: error: cannot write runs under {key}={folder}: set {key}=<a folder you can write to>")


def hydra_command(config_name: str, fn: Callable[..., Any]) -> Callable[[], Any]:
    """A command-line entry point: ``fn(cfg)`` on the Hydra config ``conf/<config_name>.yaml`` + the overrides."""
    command = hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=config_name)(reports_user_errors(fn))
    if config_name != "train":
        return command

    @functools.wraps(command)
    def train_command() -> Any:
        check_log_dir(sys.argv[1:])
        return command()

    return train_command
