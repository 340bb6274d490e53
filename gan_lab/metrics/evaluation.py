"""One routine that scores a generator, used by ``python -m gan_lab.evaluate`` and the training callback.

Images: FID / KID / IS of ``n_samples`` generated images against the first ``n_real`` images of a real split,
in the space of a feature network; ``accuracy`` (conditional models) is the share of images the classifier
assigns to the class they were generated for; ``modes`` counts the classes (or, for 3-channel images scored by a
1-channel classifier, the 1,000 Stacked-MNIST digit triples) that the classifier sees in the samples.
2-D mixtures: modes covered and the share of high-quality samples. Text-to-image models (StackGAN) draw each image
for a test caption, and ``attributes`` / ``r_precision`` / ``diversity`` score them (:mod:`gan_lab.metrics.text_image`;
they need no feature network).
Every result carries its protocol, so numbers are never reported without what they were measured on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from gan_lab.data import GaussianMixtureDataModule
from gan_lab.kinds import Condition
from gan_lab.metrics.features import FeatureNetworkError
from gan_lab.metrics.image import FeatureCache, Progress, extract, fake_batches, image_metrics, real_batches
from gan_lab.metrics.text_image import TEXT_METRICS, TextImageScores
from gan_lab.metrics.toy import mode_coverage, mode_histogram_stats, stacked_mnist_modes


def _mode_ids(network: nn.Module, images: Tensor) -> tuple[Tensor, int]:
    """(predicted mode per image, number of modes) from a classifier feature network."""
    classifier = getattr(network, "classifier", None)
    if classifier is None:
        raise FeatureNetworkError("the 'modes' metric needs class predictions: use features=classifier")
    if images.shape[1] == 3 and classifier.channels == 1:  # Stacked MNIST: one digit per channel
        return stacked_mnist_modes(network.logits, images), classifier.num_classes ** 3
    return network.logits(images).argmax(1), classifier.num_classes


def _tap(batches: Iterator[Tensor], see: Callable[[Tensor], None]) -> Iterator[Tensor]:
    """The same batches, each shown to ``see`` on its way to feature extraction."""
    for images in batches:
        see(images)
        yield images


@torch.no_grad()
def evaluate_generator(model, datamodule, network: nn.Module | None = None, metrics=("fid", "kid"),
                       n_samples: int = 10_000, n_real: int | None = None, split: str = "test",
                       batch_size: int = 250, cache: FeatureCache | None = None, seed: int = 0,
                       truncation: float | None = None, ema: bool = True,
                       progress: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
    """(results, protocol) for ``model``'s generator on ``datamodule``'s data (``progress``: print how the
    feature extraction goes, with the time left)."""
    protocol: dict[str, Any] = {
        "dataset": datamodule.name, "generator": "EMA" if ema and model.generator_ema is not None else "raw",
        "n_fake": n_samples, "truncation": truncation, "seed": seed,
    }
    generate = lambda z, y: model.generate(z, y, ema=ema)  # noqa: E731
    num_classes = getattr(model, "num_classes", None)  # conditional: every class equally often
    labels = torch.arange(n_samples, device=model.device) % num_classes if num_classes else None
    text_metrics = [m for m in metrics if m in TEXT_METRICS]
    scores = None
    if model.condition is Condition.TEXT:  # text-to-image: one test caption per image (caption_inputs)
        scores = TextImageScores(datamodule, text_metrics, n_samples, cache.directory if cache else None, seed)
        labels = scores.embeddings.to(model.device)
    elif text_metrics:
        raise FeatureNetworkError(f"{text_metrics} score text-to-image models (model=stackgan...); this checkpoint's "
                                  f"model ({type(model).__name__}) does not read text")
    fakes = fake_batches(generate, model.sample_z, n_samples, batch_size, seed, truncation, labels)
    if text_metrics:
        fakes = _tap(fakes, scores.see)
    if isinstance(datamodule, GaussianMixtureDataModule):
        points = torch.cat([f.flatten(1).cpu() for f in fakes])
        protocol.update(metric="modes covered (≥ 1/5 of the fair share within 3σ) and high-quality share (within 3σ)")
        return mode_coverage(points, datamodule.centers, datamodule.std), protocol

    if scores is not None and not [m for m in metrics if m not in TEXT_METRICS]:  # text scores only: no features
        for _ in fakes:
            pass
        results, text_protocol = scores.results(model, ema)
        return results, protocol | text_protocol
    real_split = datamodule.split(train=split == "train")
    n_real = min(n_real or n_samples, len(real_split))
    device = model.device
    network = network.to(device).eval()
    key = {"dataset": datamodule.name.split(":")[0], "split": split, "network": network.name,
           "weights": getattr(network, "weights", ""), "n": n_real, "data": datamodule.name}
    cache = cache or FeatureCache(None)
    report = (lambda what, n: Progress(f"{what} ({network.name} on {device})", n)) if progress else (
        lambda what, n: None)
    real, _ = cache.get_or_compute(key, lambda: extract(network, real_batches(real_split, n_real, batch_size),
                                                        device=device, progress=report(f"real {split} features", n_real)))
    found: list[tuple[Tensor, int]] = []
    if "modes" in metrics:
        fakes = _tap(fakes, lambda images: found.append(_mode_ids(network, images)))
    predicted: list[Tensor] = []
    if "accuracy" in metrics:
        if not num_classes:
            raise FeatureNetworkError("'accuracy' (generated images classified as their requested class) needs a "
                                      "conditional model")
        fakes = _tap(fakes, lambda images: predicted.append(_mode_ids(network, images)[0].cpu()))
    fake, fake_logits = extract(network, fakes, logits="is" in metrics, device=device,
                                progress=report("generated images' features", n_samples))
    kid_size = min(1000, n_real, n_samples)
    protocol.update(feature_network=network.name, feature_weights=getattr(network, "weights", ""),
                    real_split=split, n_real=n_real, kid_subsets=1 if kid_size == min(n_real, n_samples) else 100,
                    kid_subset_size=kid_size,
                    is_splits=10)
    results = image_metrics(real, fake, fake_logits, metrics, seed=seed)
    if found:
        results.update(mode_histogram_stats(torch.cat([ids.cpu() for ids, _ in found]), found[0][1]))
    if predicted:
        results["accuracy"] = (torch.cat(predicted) == labels.cpu()).float().mean().item()
        protocol["labels"] = f"classes 0..{num_classes - 1} in turn, {n_samples // num_classes}+ images each"
    if scores is not None:
        text_results, text_protocol = scores.results(model, ema)
        results, protocol = results | text_results, protocol | text_protocol
    return results, protocol


@torch.no_grad()
def spread(model, labels: Tensor, n_z: int = 16, seed: int = 0, ema: bool = True) -> tuple[float, float]:
    """(distance across labels at one z, distance across z for one label): mean RMS pixel distances between the
    images of ``n_z`` fixed z under each of the k ``labels`` (classes (k,) or caption embeddings (k, E))."""
    g = torch.Generator().manual_seed(seed)
    k = len(labels)
    z = model.sample_z(n_z, generator=g)
    images = model.generate(z.repeat(k, 1), labels.to(model.device).repeat_interleave(n_z, 0), ema=ema)
    images = images.float().flatten(1).view(k, n_z, -1) / images[0].numel() ** 0.5  # RMS: distance / sqrt(pixels)
    across_labels = torch.cdist(images.transpose(0, 1), images.transpose(0, 1)).mean() * k / (k - 1)  # per z
    across_z = torch.cdist(images, images).mean() * n_z / (n_z - 1)  # per label
    return across_labels.item(), across_z.item()


@torch.no_grad()
def label_effect(model, n_z: int = 16, seed: int = 0, ema: bool = True) -> float:
    """How much a conditional generator's images change with the label, relative to how much they change with z.

    For ``n_z`` fixed z and every class: the mean distance between images of one z under different labels, divided
    by the mean distance between images of one label under different z. 0: the label changes nothing (the model
    ignores it); around 1 or more: the class matters as much as the noise, as in a model that conditions.
    """
    across_labels, across_z = spread(model, torch.arange(model.num_classes), n_z, seed, ema)
    return across_labels / max(across_z, 1e-12)
