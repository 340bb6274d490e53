"""Periodic evaluation during training: FID/KID (images) or mode coverage (2-D mixtures), logged as ``val/*``
so TensorBoard shows it and a ``ModelCheckpoint(monitor="val/fid")`` keeps the best checkpoint.

Conditional models are also checked for conditioning: ``val/label_effect`` (how much G's images change with the
label for fixed z, relative to z; 0 = the label is ignored) and, with a classifier feature network,
``val/class_accuracy`` (share of images the classifier assigns to the class they were asked for). A run whose
samples ignore the label gets a warning: a falling aux loss alone does not show it (see models/conditional.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import lightning as L
import torch
from torch import nn

from gan_lab.errors import ConfigError
from gan_lab.kinds import Condition, Yields
from gan_lab.metrics import FeatureCache, evaluate_generator, label_effect
from gan_lab.metrics.registry import classifier_of

log = logging.getLogger("gan_lab")


class Periodic(L.Callback):
    """A callback that runs ``evaluate`` every ``every_n_steps`` generator steps and once at the end of training
    (the last step, or the last epoch), never twice at one step."""

    every_n_steps: int
    evaluated_at: int | None = None  # generator step of the last evaluation

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        raise NotImplementedError

    @staticmethod
    def publish(trainer: L.Trainer, pl_module: L.LightningModule, results: dict, prog_bar: Sequence[str] = ()) -> None:
        """Log ``results`` as ``val/<name>`` once, at this generator step, and keep them in ``callback_metrics``
        (checkpoint monitors, the returned metrics), ``logged_metrics`` and the progress bar. ``self.log`` from a
        callback would keep the values, and the step they were logged at, in every logged row until the epoch ends."""
        metrics = {f"val/{name}": float(value) for name, value in results.items()}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=pl_module.g_steps)
        for known in (trainer.callback_metrics, trainer.logged_metrics):
            known.update({key: torch.tensor(value) for key, value in metrics.items()})
        shown = {f"val/{name}" for name in prog_bar}
        trainer.progress_bar_metrics.update({key: value for key, value in metrics.items() if key in shown})

    def _evaluate_once(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.evaluated_at != pl_module.g_steps:
            self.evaluate(trainer, pl_module)
            self.evaluated_at = pl_module.g_steps

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        last = 0 < trainer.max_steps <= trainer.global_step
        if pl_module.g_steps % self.every_n_steps == 0 or last:
            self._evaluate_once(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.max_epochs not in (None, -1) and trainer.current_epoch + 1 >= trainer.max_epochs:
            self._evaluate_once(trainer, pl_module)  # the run ends with this epoch


class Evaluation(Periodic):
    """Score the generator every ``every_n_steps`` generator steps and at the end of training, so every run reports
    its final scores (rank 0 computes, every rank logs).

    Args:
        features: the feature network (ignored for 2-D mixtures, which use mode coverage).
        metrics: which of fid, kid, is to compute; logged as ``val/<metric>``.
        n_samples: generated (and real) images per evaluation; the real features are computed once.
        split: the real split to compare with.
    """

    def __init__(
        self,
        features: nn.Module | None = None,
        metrics: Sequence[str] = ("fid",),
        every_n_steps: int = 500,
        n_samples: int = 2000,
        split: str = "test",
        batch_size: int = 250,
        cache_dir: str | None = None,
        seed: int = 0,
    ):
        self.features, self.metrics, self.every_n_steps = features, list(metrics), every_n_steps
        self.n_samples, self.split, self.batch_size, self.seed = n_samples, split, batch_size, seed
        self.cache = FeatureCache(cache_dir)
        self.evaluated_at: int | None = None  # generator step of the last evaluation

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        results = None
        if trainer.is_global_zero:
            conditional = pl_module.condition is Condition.CLASS
            check_classes = conditional and classifier_of(self.features) is not None
            metrics = self.metrics + ["accuracy"] * (check_classes and "accuracy" not in self.metrics)
            results, _ = evaluate_generator(
                pl_module,
                trainer.datamodule,
                self.features,
                metrics,
                self.n_samples,
                split=self.split,
                batch_size=self.batch_size,
                cache=self.cache,
                seed=self.seed,
            )
            if conditional:
                results = self._check_conditioning(results, pl_module, pl_module.num_classes)
        results = trainer.strategy.broadcast(results, src=0)
        self.publish(trainer, pl_module, results, prog_bar=("fid", "modes_covered"))
        return results

    def _check_conditioning(self, results: dict, pl_module: L.LightningModule, num_classes: int) -> dict:
        results = dict(results)
        if "accuracy" in results:
            results["class_accuracy"] = results.pop("accuracy")
        results["label_effect"] = label_effect(pl_module, seed=self.seed)
        accuracy = results.get("class_accuracy")
        if results["label_effect"] < 0.1 or (accuracy is not None and accuracy < 2 / num_classes):
            shown = "" if accuracy is None else f"class accuracy {accuracy:.1%} (chance {1 / num_classes:.1%}), "
            log.warning(
                f"generator step {pl_module.g_steps}: the samples barely depend on the label ({shown}"
                f"label effect {results['label_effect']:.3f}): the model is not conditioning yet"
            )
        return results

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.features is None and trainer.datamodule.yields is not Yields.POINTS:
            raise ConfigError(
                "evaluation without a feature network scores mode coverage of 2-D mixtures "
                "(data=ring or data=grid); for images use callbacks=fid with features=inception or "
                "features=classifier"
            )
