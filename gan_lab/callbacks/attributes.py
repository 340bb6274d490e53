"""Attribute accuracy during training for text-to-image models (StackGAN on ``data=shapes``): every
``every_n_steps`` generator steps (and at the end), images drawn for the first ``n_samples`` test captions are read
by the data's attribute classifier (trained once, cached) and logged as ``val/attributes/<name>`` (and, with
``swap`` in ``metrics``, ``val/swap/colour_follows`` and ``val/swap/<name>_kept``), so TensorBoard shows the
curve of "does G draw what the caption says". The same protocol as ``python -m gan_lab.evaluate
metrics=[attributes,swap]`` (:mod:`gan_lab.metrics.text_image`).

Training is not disturbed: the draws use their own seeded generators, and the model's noise stream and the global
random state are restored afterwards, so a run with the callback trains exactly as one without it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch

from gan_lab.callbacks.evaluation import Periodic
from gan_lab.errors import ConfigError
from gan_lab.kinds import Condition
from gan_lab.metrics import FeatureCache, evaluate_generator

ATTRIBUTE_METRICS = ("attributes", "swap")


class AttributeEvaluation(Periodic):
    """Args:
    every_n_steps: generator steps between evaluations (and one at the end of training).
    n_samples: test captions drawn (one image each; the first caption of each test image first).
    metrics: ``attributes`` and/or ``swap``.
    cache_dir: where the attribute classifier is kept (trained on the first evaluation otherwise).
    history_file: a JSON-lines file that gets one line per evaluation ({"step": …, "attributes/colour": …}),
        the curve without a logger (None: none).
    """

    def __init__(
        self,
        every_n_steps: int = 500,
        n_samples: int = 500,
        metrics: Sequence[str] = ("attributes",),
        cache_dir: str | None = None,
        batch_size: int = 250,
        seed: int = 0,
        history_file: str | None = None,
    ):
        unknown = [m for m in metrics if m not in ATTRIBUTE_METRICS]
        if unknown or not metrics:
            raise ConfigError(f"callbacks.attributes.metrics takes {', '.join(ATTRIBUTE_METRICS)}; got {list(metrics)}")
        if every_n_steps < 1:
            raise ConfigError(f"callbacks.attributes.every_n_steps must be ≥ 1, got {every_n_steps}")
        self.every_n_steps, self.n_samples, self.metrics = every_n_steps, n_samples, list(metrics)
        self.cache, self.batch_size, self.seed = FeatureCache(cache_dir), batch_size, seed
        self.evaluated_at: int | None = None
        self.history_file = Path(history_file) if history_file else None
        self.history: list[tuple[int, dict[str, float]]] = []  # (generator step, results) of every evaluation

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.condition is not Condition.TEXT:
            raise ConfigError(
                "callbacks=attributes scores text-to-image models (model=stackgan…) on captioned data "
                f"(data=shapes); this model conditions on {pl_module.condition.value}"
            )

    @torch.no_grad()
    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        results = None
        if trainer.is_global_zero:
            noise = pl_module.noise.get_state() if pl_module.noise is not None else None
            with torch.random.fork_rng(devices=[pl_module.device] if pl_module.device.type == "cuda" else []):
                results, _ = evaluate_generator(
                    pl_module,
                    trainer.datamodule,
                    None,
                    self.metrics,
                    self.n_samples,
                    batch_size=self.batch_size,
                    cache=self.cache,
                    seed=self.seed,
                )
            if noise is not None:
                pl_module.noise.set_state(noise)
        results = trainer.strategy.broadcast(results, src=0)
        self.publish(trainer, pl_module, results)
        self.history.append((pl_module.g_steps, dict(results)))
        if self.history_file is not None and trainer.is_global_zero:
            self.history_file.parent.mkdir(parents=True, exist_ok=True)
            with self.history_file.open("a") as f:
                f.write(json.dumps({"step": pl_module.g_steps, **results}) + "\n")
        return results
