"""Largest singular values σ₀ of G's and D's weights: logged as a collapse early-warning (BigGAN §4.1: σ₀ of G's
layers explodes just before training collapses), and clamped after each optimiser step (``+stabilizer=[sv_clamp]``).

σ₀ is estimated by power iteration on each weight reshaped to (out, fan_in), warm-started from the previous call's
vectors (the first call starts from spectral norm's own ``_u`` when the layer has it), so one iteration per call
tracks σ₀ as cheaply as spectral norm does. For a spectrally normalised layer σ₀ is that of the raw weight
(``parametrizations.weight.original``): the one that explodes, since the normalised weight has σ₀ ≈ 1 by design.
"""

from __future__ import annotations

import shutil
import statistics
import warnings
from collections import deque
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor, nn
from torch.nn.utils import parametrize

from gan_lab.errors import ConfigError


def raw_weights(net: nn.Module) -> dict[str, tuple[Tensor, nn.Module | None]]:
    """Every weight matrix/kernel (ndim ≥ 2) of ``net`` by layer name, as the raw tensor to measure or clamp, with
    the layer's spectral-norm parametrisation (or None)."""
    out = {}
    for name, module in net.named_modules():
        if parametrize.is_parametrized(module, "weight"):
            plist = module.parametrizations.weight
            sn = next((p for p in plist if hasattr(p, "_u") and getattr(p, "dim", 1) == 0), None)
            out[name] = (plist.original, sn)
        elif isinstance(getattr(module, "weight", None), nn.Parameter) and module.weight.ndim >= 2:
            out[name] = (module.weight, None)
    return out


class PowerIteration:
    """Warm-started power iteration for σ₀ of many matrices, keyed by name."""

    def __init__(self, n_power_iterations: int = 1):
        self.n = n_power_iterations
        self.vectors: dict[str, tuple[Tensor, Tensor]] = {}

    @torch.no_grad()
    def top(self, key: str, weight: Tensor, sn: nn.Module | None = None, n: int | None = None):
        """(σ₀, u, v) of ``weight.flatten(1)`` after ``n`` (default: the configured count) more iterations."""
        w = weight.detach().flatten(1).float()
        u, v = self.vectors.get(key, (None, None))
        if u is None or u.shape[0] != w.shape[0] or u.device != w.device:
            u = sn._u.detach().float().clone() if sn is not None and sn._u.shape[0] == w.shape[0] else None
            if u is None:
                u = F.normalize(torch.randn(w.shape[0], device=w.device), dim=0)
        for _ in range(max(1, self.n if n is None else n)):
            v = F.normalize(w.T @ u, dim=0)
            u = F.normalize(w @ v, dim=0)
        self.vectors[key] = (u, v)
        return float(u @ w @ v), u, v


def nets_of(pl_module: nn.Module, which: str) -> dict[str, nn.Module]:
    if which not in ("G", "D", "both"):
        raise ConfigError(f"nets must be 'G', 'D' or 'both', got {which!r}")
    nets = {"G": pl_module.generator, "D": pl_module.discriminator}
    return nets if which == "both" else {which: nets[which]}


@torch.no_grad()
def clamp_top_singular_value(
    weight: Tensor, bound: float, power: PowerIteration, key: str, sn: nn.Module | None = None, max_rounds: int = 4
) -> None:
    """W ← W - (σ₀ - bound)·u vᵀ while σ₀ > bound (BigGAN's σ₀ clamp; repeated since the next singular value can
    also exceed the bound)."""
    w = weight.data.view(weight.shape[0], -1)
    for _ in range(max_rounds):
        sigma, u, v = power.top(key, weight, sn)
        if sigma <= bound:
            return
        w.sub_(((sigma - bound) * torch.outer(u, v)).to(w.dtype))


class SingularValueClamp(L.Callback):
    """After every optimiser step of G (and/or D), clamp σ₀ of each weight of that net to ≤ ``bound``.

    Registered as a post-step hook on the net's optimiser, so it also runs after each of the ``n_critic`` critic
    steps. ``n_power_iterations`` per clamp (warm-started); the estimate is a lower bound of σ₀, so use a few
    iterations when the bound must hold tightly.
    """

    def __init__(self, bound: float = 1.0, nets: str = "G", n_power_iterations: int = 1, max_rounds: int = 4):
        if bound <= 0:
            raise ConfigError(f"sv_clamp bound must be > 0, got {bound}")
        self.bound, self.nets, self.max_rounds = bound, nets, max_rounds
        self.power = PowerIteration(n_power_iterations)
        self.handles = []

    def clamp(self, tag: str, net: nn.Module) -> None:
        for name, (w, sn) in raw_weights(net).items():
            clamp_top_singular_value(w, self.bound, self.power, f"{tag}/{name}", sn, self.max_rounds)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for tag, net in nets_of(pl_module, self.nets).items():
            ids = {id(p) for p in net.parameters()}
            for opt in trainer.optimizers:
                opt = getattr(opt, "optimizer", opt)
                if any(id(p) in ids for g in opt.param_groups for p in g["params"]):
                    self.handles.append(opt.register_step_post_hook(lambda *_, tag=tag, net=net: self.clamp(tag, net)))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


class SingularValueMonitor(L.Callback):
    """Log σ₀ of every G and D layer every ``every_n_steps`` generator steps (``sigma0/G/<layer>``,
    ``sigma0/D/<layer>``) and warn when a G layer's σ₀ exceeds ``explode_ratio`` × its running median over the
    last ``window`` measurements; at the first such warning the newest checkpoint (from before the explosion) is
    copied to ``checkpoints/before_collapse_step<N>.ckpt``."""

    def __init__(
        self,
        every_n_steps: int = 50,
        n_power_iterations: int = 1,
        explode_ratio: float = 3.0,
        window: int = 20,
        min_history: int = 5,
    ):
        self.every_n_steps, self.explode_ratio = every_n_steps, explode_ratio
        self.window, self.min_history = window, min_history
        self.power = PowerIteration(n_power_iterations)
        self.history: dict[str, deque] = {}
        self.saved: Path | None = None

    def measure(self, pl_module: nn.Module) -> dict[str, float]:
        return {
            f"sigma0/{tag}/{name}": self.power.top(f"{tag}/{name}", w, sn)[0]
            for tag, net in nets_of(pl_module, "both").items()
            for name, (w, sn) in raw_weights(net).items()
        }

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        step = pl_module.g_steps
        if step % self.every_n_steps:
            return
        sigmas = self.measure(pl_module)
        for logger in trainer.loggers:
            logger.log_metrics(sigmas, step=step)
        exploded = []
        for key, s in sigmas.items():
            hist = self.history.setdefault(key, deque(maxlen=self.window))
            if key.startswith("sigma0/G/") and len(hist) >= self.min_history:
                median = statistics.median(hist)
                if median > 0 and s > self.explode_ratio * median:
                    exploded.append(f"{key[9:]} {s:.3g} (median {median:.3g})")
            hist.append(s)
        if exploded:
            self.warn(trainer, step, exploded)

    @rank_zero_only
    def warn(self, trainer: L.Trainer, step: int, exploded: list[str]) -> None:
        msg = f"step {step}: σ₀ of G exploded (> {self.explode_ratio}× running median): {', '.join(exploded[:4])}"
        ckpt = getattr(trainer.checkpoint_callback, "last_model_path", "") or ""
        if self.saved is None and ckpt and Path(ckpt).is_file():
            self.saved = Path(ckpt).with_name(f"before_collapse_step{step}.ckpt")
            shutil.copy2(ckpt, self.saved)
            msg += f"; the last good checkpoint is kept as {self.saved}"
        warnings.warn(msg, stacklevel=1)
