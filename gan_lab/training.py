"""Training entry point: ``python -m gan_lab [overrides]``.

``train(cfg)`` only instantiates and wires what the config names, fits, and returns the metrics; ``main``
is the thin Hydra wrapper that reports user errors without a traceback and returns the metric a sweep
optimises (``optimized_metric``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationKeyError

from gan_lab import console
from gan_lab.callbacks import AtomicCheckpointIO, ResumeWhereStopped
from gan_lab.checkpoints import load_checkpoint
from gan_lab.cli import hydra_command
from gan_lab.errors import ConfigError
from gan_lab.loggers import GanTensorBoardLogger, run_hparams
from gan_lab.steps import optimizer_steps
from gan_lab.sweep import write_atomically
from gan_lab.threads import apply_thread_policy

# gan_lab checkpoints hold the state after the step that was just evaluated: that is the intent, not a risk.
warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")


def relative_paths(config: Any, cwd: Path) -> Any:
    """The config with paths under ``cwd`` made relative to it: a shared checkpoint does not carry the layout of
    the machine that trained it (paths given outside the working folder stay as given)."""
    if isinstance(config, dict):
        return {k: relative_paths(v, cwd) for k, v in config.items()}
    if isinstance(config, list):
        return [relative_paths(v, cwd) for v in config]
    if isinstance(config, str) and config.startswith(f"{cwd}{os.sep}"):
        return config[len(str(cwd)) + 1 :]
    return config


def build(cfg: DictConfig) -> tuple[L.LightningModule, L.LightningDataModule, L.Trainer]:
    """The model, data and trainer a config describes. ``trainer.max_steps`` counts generator steps."""
    model = instantiate(cfg.model)
    model.run_config = relative_paths(OmegaConf.to_container(cfg, resolve=True), Path.cwd())
    datamodule = instantiate(cfg.data, batches_per_step=model.n_critic * model.accumulate)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    callbacks.append(ResumeWhereStopped())  # extending a finished run continues its epoch where it stopped
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    g_steps = cfg.trainer.get("max_steps", -1)
    max_steps = optimizer_steps(g_steps, model.n_critic) if g_steps > 0 else g_steps
    plugins = [AtomicCheckpointIO()]  # every checkpoint file (last, periodic, best-FID, on-exception) saved whole
    lightning_trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    lightning_trainer.pop("threads", None)  # gan_lab's thread policy (train), not a Lightning Trainer argument
    trainer = instantiate(
        lightning_trainer, callbacks=callbacks, logger=loggers or False, max_steps=max_steps, plugins=plugins
    )
    return model, datamodule, trainer


def check_config(cfg: DictConfig) -> None:
    """One-line errors for values every run needs, before anything is built."""
    steps = cfg.trainer.get("max_steps", -1)
    if not isinstance(steps, int) or isinstance(steps, bool) or (steps < 1 and steps != -1):
        raise ConfigError(
            f"trainer.max_steps must be a whole number of generator steps ≥ 1, or -1 for no limit; got {steps!r}"
        )
    batch = cfg.data.get("batch_size")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ConfigError(f"data.batch_size must be a whole number ≥ 1, got {batch!r}")
    for name in ("g_optimizer", "d_optimizer"):
        lr = OmegaConf.select(cfg, f"model.{name}.lr")
        if lr is not None and (not isinstance(lr, (int, float)) or isinstance(lr, bool) or lr <= 0):
            raise ConfigError(f"model.{name}.lr must be a positive number, got {lr!r}")
    if "num_classes" in cfg.model:
        try:
            _ = cfg.model.num_classes  # resolving it raises when the data has no classes
        except InterpolationKeyError:
            raise ConfigError(
                f"model {cfg.model._target_.rsplit('.', 1)[-1]} is conditional and needs labelled data, "
                f"but this data set has no classes (data.num_classes): use an unconditional model or "
                "labelled data (e.g. data=mnist_5k)"
            ) from None
    if stage1 := OmegaConf.select(cfg, "model.stage1_ckpt"):
        check_stage1(cfg, stage1)
    try:
        OmegaConf.to_container(cfg.model, resolve=True)
    except InterpolationKeyError as err:  # e.g. a text-to-image model on data without captions
        key = str(err).split("'")[1] if "'" in str(err) else str(err)
        hint = " (captioned data: data=shapes, cub or oxford102)" if key == "data.embedding_dim" else ""
        raise ConfigError(
            f"model {cfg.model._target_.rsplit('.', 1)[-1]} needs {key}, which this data set does not provide{hint}"
        ) from None


def check_stage1(cfg: DictConfig, path: str) -> None:
    """Stage-II refines what its Stage-I draws for the same caption embeddings: a Stage-I trained on another data
    set or with another text encoder would be given embeddings it never saw. One line saying which differs."""
    theirs = load_checkpoint(path)["gan_lab_config"].get("data") or {}
    mine = OmegaConf.to_container(cfg.data, resolve=True)
    if theirs.get("_target_") != mine.get("_target_"):
        raise ConfigError(
            f"model.stage1_ckpt={path} was trained on {theirs.get('_target_')} data, this run's data "
            f"is {mine.get('_target_')}: Stage-II must use its Stage-I's data and caption embeddings"
        )
    a, b = theirs.get("text_encoder"), mine.get("text_encoder")
    same = a == b or (
        a is not None
        and b is not None
        and Path(a).is_file()
        and Path(b).is_file()
        and Path(a).read_bytes() == Path(b).read_bytes()
    )
    if not same:
        name = lambda e: "null (the hashed bag of words)" if e is None else e  # noqa: E731
        raise ConfigError(
            f"model.stage1_ckpt={path} was trained with data.text_encoder={name(a)} but this run uses "
            f"{name(b)}: Stage-II must read the caption embeddings its Stage-I was trained on"
        )


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit the configured GAN; returns the final logged metrics (``callback_metrics``) as floats."""
    check_config(cfg)
    console.start(cfg)  # config tree (printed, <run>/config_tree.log); framework noise off unless verbose=true
    console.say(apply_thread_policy(cfg.trainer.get("threads")))  # before any op: PyTorch's pool is sized once
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    if cfg.get("ckpt_path"):
        load_checkpoint(cfg.ckpt_path)  # a clear error for a missing or corrupt file, before any work
    model, datamodule, trainer = build(cfg)
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
    except SystemExit as stop:  # SIGTERM or Ctrl-C, after CheckpointOnException saved last.ckpt
        interrupted(cfg, trainer, model, stop)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    for logger in trainer.loggers:  # the run's config; TensorBoard's HPARAMS: what tells runs apart + final metrics
        if isinstance(logger, GanTensorBoardLogger):
            logger.log_run(run_hparams(cfg, hydra_choices()), metrics, step=model.g_steps)
        else:
            logger.log_hyperparams(model.run_config)
    if trainer.is_global_zero:
        write_metrics(cfg, metrics)
        console.say(summary(cfg, trainer, model))
    return metrics


def hydra_choices() -> dict[str, Any]:
    """The config-group choices of this run (``model: dcgan``, ``data: mnist_5k``, ...); empty outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    return dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}


def write_metrics(cfg: DictConfig, metrics: dict) -> None:
    """``<run>/metrics.json``, replaced in one step (read by the sweep summary)."""
    output = Path(cfg.paths.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    write_atomically(output / "metrics.json", json.dumps(metrics, indent=2))


def interrupted(cfg: DictConfig, trainer: L.Trainer, model: L.LightningModule, stop: SystemExit) -> None:
    """End an interrupted run as a failure a scheduler can see: exit status 143 for SIGTERM (a preempted job;
    Lightning's SIGTERMException is a SystemExit(0)), 130 for Ctrl-C, after saying where to resume from and
    writing ``metrics.json`` with what was logged."""
    code = 143 if isinstance(stop, SIGTERMException) else 130 if trainer.interrupted else stop.code
    if trainer.is_global_zero:
        write_metrics(cfg, {**{k: float(v) for k, v in trainer.callback_metrics.items()}, "interrupted": True})
        last = Path(trainer.checkpoint_callback.dirpath) / "last.ckpt" if trainer.checkpoint_callback else None
        resume = f"; resume with ckpt_path={last}" if last is not None and last.is_file() else " (no checkpoint saved)"
        console.say(f"interrupted at generator step {model.g_steps}{resume}", error=True)
    raise SystemExit(code) from None


def summary(cfg: DictConfig, trainer: L.Trainer, model: L.LightningModule) -> str:
    """Where a finished run left its files."""
    run = Path(cfg.paths.output_dir)
    lines = [f"Trained {type(model).__name__} for {model.g_steps} generator steps. Run folder: {run}"]
    ckpt = trainer.checkpoint_callback
    if ckpt is not None and ckpt.last_model_path and Path(ckpt.last_model_path).is_file():
        lines.append(f"  checkpoint:  {ckpt.last_model_path}   (resume: ckpt_path=<it>)")
    for logger in (lg for lg in trainer.loggers if lg.log_dir):  # not fast_dev_run's DummyLogger
        hint = f"   (tensorboard --logdir {run})" if isinstance(logger, TensorBoardLogger) else ""
        lines.append(f"  {type(logger).__name__}: {logger.log_dir}{hint}")
    samples = run / "samples"
    if samples.is_dir():
        lines.append(f"  samples:     {samples}")
    return "\n".join(lines)


def discard_unstarted_run() -> None:
    """Remove the run folder of a command-line run that failed before it wrote a checkpoint, a sample or metrics
    (only Hydra's config, the log, the config tree, an empty event file): no empty run folders. A folder the
    user named (``hydra.run.dir=``), a resumed run's and sweep jobs' are kept."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return
    hydra = HydraConfig.get()
    named = any(
        o.lstrip("+").startswith(("hydra.run.dir=", "ckpt_path="))
        for o in [*hydra.overrides.hydra, *hydra.overrides.task]
    )
    run = Path(hydra.runtime.output_dir)
    if named or hydra.mode != RunMode.RUN or not run.is_dir():
        return
    written = [
        p
        for p in run.rglob("*")
        if p.is_file() and p.relative_to(run).parts[0] in ("checkpoints", "samples", "metrics.json")
    ]
    if written:
        return
    for logger in (logging.getLogger(), logging.getLogger("lightning.pytorch")):
        for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
            if Path(handler.baseFilename).is_relative_to(run):
                handler.close()
                logger.removeHandler(handler)
    shutil.rmtree(run, ignore_errors=True)
    with contextlib.suppress(OSError):
        run.parent.rmdir()  # the date folder, when this was its only run


def train_and_report(cfg: DictConfig) -> float | None:
    """Train; return the value of ``optimized_metric`` (for Optuna and other sweepers) when one is set."""
    try:
        metrics = train(cfg)
    except BaseException:
        discard_unstarted_run()
        raise
    metric = cfg.get("optimized_metric")
    if metric is None:
        return None
    if metric not in metrics:
        raise ConfigError(f"optimized_metric {metric!r} was not logged; logged: {sorted(metrics)}")
    return metrics[metric]


main = hydra_command("train", train_and_report)
