"""Generated samples refined by the trained discriminator (:mod:`gan_lab.sampling`), for an evaluation that reports
them apart from plain sampling: ``python -m gan_lab.evaluate ckpt=… sampling.method=drs|dot``.

- ``drs``: discriminator rejection sampling, γ at the ``drs_percentile``-th percentile of F over a 10,000-sample
  burn-in (Azadi et al. 2019; ``drs_percentile=null``: γ = 0, exact rejection).
- ``dot``: discriminator optimal transport, ``dot_steps`` Adam steps of ``dot_lr`` per sample, K estimated on a
  batch of real and generated samples (Tanaka 2019).

Both read D's raw logit on single samples, so they take unconditional models whose D judges one sample at a time
(no packing); DiffAugment is left out (D's logit on the sample itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from gan_lab.errors import ConfigError
from gan_lab.kinds import Condition
from gan_lab.metrics.image import real_batches
from gan_lab.nets.pack import DiscriminatorInput
from gan_lab.sampling import dot_refine, lipschitz_estimate, rejection_sample

METHODS = ("plain", "drs", "dot")


def critic_of(model) -> Callable[[Tensor], Tensor]:
    """D's raw logit per sample (no augmentation), or a ConfigError saying why this model has none."""
    if model.condition is not Condition.NONE:
        raise ConfigError(
            f"refined sampling (sampling.method=drs|dot) takes unconditional models; {type(model).__name__} is "
            f"conditioned on {model.condition}: use sampling.method=plain"
        )
    d = model.discriminator
    if isinstance(d, DiscriminatorInput):
        if d.pack > 1:
            raise ConfigError(
                f"refined sampling needs D's verdict on single samples, but this D judges packs of {d.pack}: "
                "use sampling.method=plain"
            )
        d = d.net
    d.eval()
    return lambda x: d(x).flatten().float()


def check_sampling(model, sampling: dict[str, Any]) -> None:
    """A ConfigError now, before any sample is drawn, when ``sampling`` names no method or one this model lacks."""
    if sampling.get("method") not in METHODS:
        raise ConfigError(f"sampling.method must be one of {', '.join(METHODS)}, got {sampling.get('method')!r}")
    if sampling["method"] != "plain":
        critic_of(model)


def refined_batches(
    model,
    datamodule,
    generate: Callable[[Tensor], Tensor],
    n: int,
    batch_size: int,
    seed: int,
    truncation: float | None,
    sampling: dict[str, Any],
    protocol: dict[str, Any],
) -> Iterator[Tensor]:
    """``n`` samples of ``generate(z)`` refined by ``sampling["method"]`` (drs | dot), in batches; what was done goes
    into ``protocol`` (``sampling``, and DRS's acceptance rate or DOT's K)."""
    method = sampling["method"]
    critic = critic_of(model)
    g = torch.Generator().manual_seed(seed)
    draw = lambda size: generate(model.sample_z(size, truncation=truncation, generator=g))  # noqa: E731
    if method == "drs":
        percentile = sampling.get("drs_percentile", 95)
        torch.manual_seed(seed)
        samples, accepted = rejection_sample(draw, critic, n, batch=max(batch_size, 1000), percentile=percentile)
        protocol["sampling"] = f"DRS (γ: {'0' if percentile is None else f'p{percentile:g} of F'}, burn-in 10,000)"
        protocol["drs_acceptance"] = round(accepted, 4)
        yield from samples.split(batch_size)
        return
    split = datamodule.split(train=True)
    real = next(real_batches(split, min(1000, len(split)), 1000))
    k = lipschitz_estimate(critic, real.to(model.device), draw(len(real)))
    steps, lr = sampling.get("dot_steps", 30), sampling.get("dot_lr", 0.01)
    protocol["sampling"] = f"DOT ({steps} Adam steps, lr {lr:g})"
    protocol["dot_k"] = round(float(k), 4)
    for start in range(0, n, batch_size):
        y = draw(min(batch_size, n - start))
        with torch.enable_grad():  # the evaluation runs under no_grad; DOT descends on the samples
            yield dot_refine(critic, y, k, steps=steps, lr=lr)
