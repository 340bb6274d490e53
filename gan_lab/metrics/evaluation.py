"""One routine that scores a generator, used by ``python -m gan_lab.evaluate`` and the training callback.

It draws ``n_samples`` images (class-conditional models: every class in turn; text-to-image models: one test caption
per image, :func:`gan_lab.metrics.text_image.caption_inputs`), shows each batch to the scorers of the requested
metrics, extracts features of real and generated images when a metric needs them, and collects every scorer's
results. Which metrics exist, what they need and what they score is the registry's
(:mod:`gan_lab.metrics.registry`; the shipped ones: :mod:`gan_lab.metrics.standard`).
Every result carries its protocol, so numbers are never reported without what they were measured on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from gan_lab.kinds import Condition
from gan_lab.metrics import standard  # noqa: F401  (registers the shipped metrics)
from gan_lab.metrics.image import FeatureCache, Progress, extract, fake_batches, real_batches
from gan_lab.metrics.refined import check_sampling, refined_batches
from gan_lab.metrics.registry import Evaluation, select
from gan_lab.metrics.text_image import caption_inputs, caption_protocol


def _tap(batches: Iterator[Tensor], see: Callable[[Tensor], None]) -> Iterator[Tensor]:
    """The same batches, each shown to ``see`` on its way to feature extraction."""
    for images in batches:
        see(images)
        yield images


def drawn_for(model, datamodule, n: int) -> Tensor | None:
    """What each of ``n`` generated images is drawn for: every class equally often (class-conditional models), one
    test caption's embedding each (text-to-image models), nothing (unconditional ones)."""
    if model.condition is Condition.CLASS:
        return torch.arange(n, device=model.device) % model.num_classes
    if model.condition is Condition.TEXT:
        return caption_inputs(datamodule, n)[2].to(model.device)
    return None


@torch.no_grad()
def evaluate_generator(
    model,
    datamodule,
    network: nn.Module | None = None,
    metrics=("fid", "kid"),
    n_samples: int = 10_000,
    n_real: int | None = None,
    split: str = "test",
    batch_size: int = 250,
    cache: FeatureCache | None = None,
    seed: int = 0,
    truncation: float | None = None,
    ema: bool = True,
    progress: bool = False,
    sampling: dict[str, Any] | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """(results, protocol) for ``model``'s generator on ``datamodule``'s data (``progress``: print how the
    feature extraction goes, with the time left; ``sampling``: plain, or refined by D, :mod:`.refined`)."""
    sampling = dict(sampling or {"method": "plain"})
    check_sampling(model, sampling)
    chosen = select(metrics, model.condition, datamodule.yields, type(model).__name__, network)
    protocol: dict[str, Any] = {
        "dataset": datamodule.name,
        "generator": "EMA" if ema and model.generator_ema is not None else "raw",
        "n_fake": n_samples,
        "truncation": truncation,
        "seed": seed,
    }
    if model.condition is Condition.TEXT:
        protocol |= caption_protocol(datamodule)
    cache = cache or FeatureCache(None)
    ev = Evaluation(
        model,
        datamodule,
        network,
        n_samples,
        seed,
        ema,
        batch_size,
        cache.directory,
        drawn_for(model, datamodule, n_samples),
    )
    groups: dict[Any, list[str]] = {}
    for metric in chosen:  # metrics with the same scorer are computed by one instance
        groups.setdefault(metric.scorer, []).append(metric.name)
    scorers = [scorer(ev, names) for scorer, names in groups.items()]
    generate = lambda z, y: model.generate(z, y, ema=ema)  # noqa: E731
    if sampling["method"] == "plain":
        fakes = fake_batches(generate, model.sample_z, n_samples, batch_size, seed, truncation, ev.labels)
    else:
        fakes = refined_batches(
            model, datamodule, lambda z: generate(z, None), n_samples, batch_size, seed, truncation, sampling, protocol
        )
    for scorer in scorers:
        fakes = _tap(fakes, scorer.see)
    needs = set().union(*(m.needs for m in chosen))
    if "features" in needs:
        _extract_features(ev, fakes, split, n_real, cache, "logits" in needs, progress, protocol)
    else:
        for _ in fakes:
            pass
    results: dict[str, float] = {}
    for scorer in scorers:
        scores, lines = scorer.results(ev)
        results, protocol = results | scores, protocol | lines
    return results, protocol


def _extract_features(
    ev: Evaluation,
    fakes: Iterator[Tensor],
    split: str,
    n_real: int | None,
    cache: FeatureCache,
    logits: bool,
    progress: bool,
    protocol: dict[str, Any],
) -> None:
    """Real features (cached per dataset, split, network and n) and those of the generated images, into ``ev``."""
    real_split = ev.datamodule.split(train=split == "train")
    n_real = min(n_real or ev.n_samples, len(real_split))
    device = ev.model.device
    network = ev.network.to(device).eval()
    key = {
        "dataset": ev.datamodule.name.split(":")[0],
        "split": split,
        "network": network.name,
        "weights": getattr(network, "weights", ""),
        "n": n_real,
        "data": ev.datamodule.name,
    }
    report = (
        (lambda what, n: Progress(f"{what} ({network.name} on {device})", n)) if progress else (lambda what, n: None)
    )
    ev.real, _ = cache.get_or_compute(
        key,
        lambda: extract(
            network,
            real_batches(real_split, n_real, ev.batch_size),
            device=device,
            progress=report(f"real {split} features", n_real),
        ),
    )
    ev.fake, ev.fake_logits = extract(
        network, fakes, logits=logits, device=device, progress=report("generated images' features", ev.n_samples)
    )
    ev.n_real = n_real
    kid_size = min(1000, n_real, ev.n_samples)
    protocol.update(
        feature_network=network.name,
        feature_weights=getattr(network, "weights", ""),
        real_split=split,
        n_real=n_real,
        kid_subsets=1 if kid_size == min(n_real, ev.n_samples) else 100,
        kid_subset_size=kid_size,
        is_splits=10,
    )
