"""TensorBoard as a GAN dashboard (``logger=tensorboard``, the default).

Lightning's ``TensorBoardLogger`` with three changes a GAN researcher wants on the first page:

- a **custom-scalars layout** (TensorBoard's CUSTOM SCALARS tab): D and G losses on one chart, D(x) and D(G(z))
  on one, the Wasserstein estimate with the penalties, FID/KID over steps, then conditioning, mode coverage
  and σ₀ charts;
- no ``epoch`` curve among the GAN curves (Lightning adds one to every logged step; gan_lab runs count
  generator steps);
- HPARAMS holds the few values that tell runs apart (:func:`run_hparams`) with the run's final metrics read
  from the scalars already logged, not a ``final/*`` card of one dot at step 0 per metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.core.saving import save_hparams_to_yaml
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

# category -> chart title -> regexes of the scalar tags drawn together (TensorBoard's custom-scalars plugin)
LAYOUT: dict[str, dict[str, list[str]]] = {
    "GAN": {
        "D and G losses": [r"^train/d_loss$", r"^train/g_loss$"],
        "D(x) and D(G(z))": [r"^train/D\(x\)$", r"^train/D\(G\(z\)\)$"],
        "Wasserstein estimate and penalties": [r"^train/wasserstein$", r"^train/.*_penalty$"],
        "FID and KID over steps": [r"^val/(fid|kid)$"],
    },
    "GAN: conditioning and modes": {
        "class losses (ACGAN head, mismatch term)": [r"^train/.*(aux|mismatch).*$"],
        "class accuracy and label effect": [r"^val/(class_accuracy|label_effect)"],
        "modes covered and high-quality share": [r"^val/(modes|high_quality|kl)"],
    },
    "GAN: spectral norms (σ₀)": {
        "generator layers": [r"^sigma0/G/"],
        "discriminator layers": [r"^sigma0/D/"],
    },
}

# Lightning's epoch staircase (it adds one unless a "step" is logged; gan_lab logs "step" = generator steps, the
# x axis of every chart) and the generator-step count itself, a diagonal line once it is the x axis.
HIDDEN = ("epoch", "step", "train/g_steps")


def _short(node: Any) -> str | None:
    """``gan_lab.losses.d_hinge`` -> ``d_hinge`` for a ``_target_`` node; None when absent."""
    target = node.get("_target_") if isinstance(node, (dict, DictConfig)) else None
    return str(target).rsplit(".", 1)[-1] if target else None


def _part_value(part: Any) -> str:
    """A part's main setting in a run's name: its first number or word, e.g. ``r1(10.0)``, ``ema(0.999)``."""
    values = [v for k, v in part.items() if k != "_target_" and not isinstance(v, (dict, DictConfig))]
    return str(values[0]) if values else ""


def run_hparams(cfg: DictConfig, choices: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values that distinguish one run from another: model, net, data, losses, learning rates, n_critic,
    batch, stabilisers and remedies, seed, length (``choices``: Hydra's config-group choices, when known)."""
    choices = choices or {}
    m = cfg.model
    get = lambda key, default=None: OmegaConf.select(cfg, key, default=default)  # noqa: E731
    g_net, d_net = _short(m.get("generator")), _short(m.get("discriminator"))
    parts = {**(m.get("stabilizers") or {}), **(m.get("remedies") or {})}
    stabilisers = [f"{name}({_part_value(part)})" for name, part in parts.items() if part is not None] + [
        name
        for name, on in (
            ("spectral_norm", bool(get("model.discriminator.spectral_norm"))),
            ("attention", get("model.generator.attention_at") is not None),
        )
        if on
    ]
    values = {
        "model": choices.get("model") or _short(m),
        "net": choices.get("model/net") or f"{g_net}/{d_net}",
        "data": choices.get("data") or _short(cfg.data),
        "experiment": choices.get("experiment"),
        "d_loss": _short(m.get("d_loss")),
        "g_loss": _short(m.get("g_loss")),
        "g_lr": get("model.g_optimizer.lr"),
        "d_lr": get("model.d_optimizer.lr"),
        "betas": str(list(get("model.g_optimizer.betas", []) or [])),
        "n_critic": m.get("n_critic"),
        "batch_size": get("data.batch_size"),
        "accumulate": m.get("accumulate"),
        "conditioning": "/".join(str(c) for c in (m.get("g_conditioning"), m.get("d_conditioning")) if c) or None,
        "stabilizers": ",".join(stabilisers) or "none",
        "image_size": get("data.image_size"),
        "latent_dim": m.get("latent_dim"),
        "max_steps": get("trainer.max_steps"),
        "precision": str(get("trainer.precision")),
        "seed": cfg.get("seed"),
        "tags": ",".join(map(str, cfg.get("tags") or [])) or None,
    }
    return {k: v for k, v in values.items() if v is not None}


class GanTensorBoardLogger(TensorBoardLogger):
    """``TensorBoardLogger`` with the GAN layout, no epoch curve and a short HPARAMS table (module docstring)."""

    def __init__(self, *args: Any, layout: dict | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("default_hp_metric", False)
        super().__init__(*args, **kwargs)
        self.layout = LAYOUT if layout is None else layout
        self._layout_written = False

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if not self._layout_written:
            self.experiment.add_custom_scalars(
                {c: {t: ["Multiline", tags] for t, tags in charts.items()} for c, charts in self.layout.items()}
            )
            self._layout_written = True
        super().log_metrics({k: v for k, v in metrics.items() if k not in HIDDEN}, step)

    @rank_zero_only
    def log_run(self, hparams: dict[str, Any], metrics: dict[str, float], step: int) -> None:
        """HPARAMS: ``hparams`` (see :func:`run_hparams`) with ``metrics`` named by the scalar tags they were
        logged under, so TensorBoard shows each tag's last value and writes no new scalar."""
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        shown = {k: float(v) for k, v in metrics.items() if k not in HIDDEN}
        self.hparams.update(hparams)  # also hparams.yaml, beside the events (Lightning leaves it empty)
        save_hparams_to_yaml(Path(self.log_dir) / self.NAME_HPARAMS_FILE, self.hparams)
        writer = self.experiment._get_file_writer()
        for summary in hparams_summary(hparams, shown):
            writer.add_summary(summary, step)
        self.experiment.flush()
