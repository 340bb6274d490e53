"""The metrics gan_lab ships, registered in :mod:`gan_lab.metrics.registry`.

- ``fid``, ``kid``, ``is``: Fréchet / kernel Inception distance and Inception Score in the feature network's space
  (:func:`gan_lab.metrics.image.image_metrics`; IS needs the network's class logits).
- ``modes``: the classes (or, for 3-channel images scored by a 1-channel classifier, the 1,000 Stacked-MNIST digit
  triples) the classifier sees in the samples; ``accuracy`` (class-conditional models): the share of images the
  classifier assigns to the class they were drawn for. Both need features=classifier.
- ``coverage``: 2-D mixtures' modes covered and high-quality share; what every evaluation of 2-D points reports.
- ``attributes``, ``r_precision``, ``swap``, ``diversity``: text-to-image scores (:mod:`gan_lab.metrics.text_image`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gan_lab.kinds import Condition, Yields
from gan_lab.metrics.image import IMAGE_METRICS, image_metrics
from gan_lab.metrics.registry import DATA_DEFAULTS, Evaluation, Metric, classifier_of, register
from gan_lab.metrics.text_image import TEXT_METRICS, TextImageScores
from gan_lab.metrics.toy import mode_coverage, mode_histogram_stats, stacked_mnist_modes


def mode_ids(network: nn.Module, images: Tensor) -> tuple[Tensor, int]:
    """(predicted mode per image, number of modes) from a classifier feature network."""
    classifier = classifier_of(network)
    if images.shape[1] == 3 and classifier.channels == 1:  # Stacked MNIST: one digit per channel
        return stacked_mnist_modes(network.logits, images), classifier.num_classes**3
    return network.logits(images).argmax(1), classifier.num_classes


class ImageScores:
    """FID / KID / IS from the extracted features, together (one seeded random stream for KID's subsets and IS's
    splits)."""

    def __init__(self, evaluation: Evaluation, names: list[str]):
        self.names = names

    def see(self, images: Tensor) -> None:
        pass

    def results(self, ev: Evaluation) -> tuple[dict[str, float], dict[str, Any]]:
        return image_metrics(ev.real, ev.fake, ev.fake_logits, self.names, seed=ev.seed), {}


class ModeHistogram:
    """The modes the classifier sees in the generated images, and how evenly."""

    def __init__(self, ev: Evaluation, names: list[str]):
        self.network, self.found = ev.network, []

    def see(self, images: Tensor) -> None:
        self.found.append(mode_ids(self.network, images))

    def results(self, ev: Evaluation) -> tuple[dict[str, float], dict[str, Any]]:
        return mode_histogram_stats(torch.cat([ids.cpu() for ids, _ in self.found]), self.found[0][1]), {}


class ClassAccuracy:
    """The share of generated images the classifier assigns to the class they were drawn for."""

    def __init__(self, ev: Evaluation, names: list[str]):
        self.network, self.predicted = ev.network, []

    def see(self, images: Tensor) -> None:
        self.predicted.append(mode_ids(self.network, images)[0].cpu())

    def results(self, ev: Evaluation) -> tuple[dict[str, float], dict[str, Any]]:
        k = ev.model.num_classes
        accuracy = (torch.cat(self.predicted) == ev.labels.cpu()).float().mean().item()
        return {"accuracy": accuracy}, {"labels": f"classes 0..{k - 1} in turn, {ev.n_samples // k}+ images each"}


COVERAGE = "modes covered (≥ 1/5 of the fair share within 3σ) and high-quality share (within 3σ)"


class ModeCoverage:
    """2-D points: modes covered (≥ 1/5 of the fair share within 3σ) and the high-quality share (within 3σ)."""

    def __init__(self, ev: Evaluation, names: list[str]):
        self.points: list[Tensor] = []

    def see(self, images: Tensor) -> None:
        self.points.append(images.flatten(1).cpu())

    def results(self, ev: Evaluation) -> tuple[dict[str, float], dict[str, Any]]:
        protocol = {"metric": COVERAGE}
        return mode_coverage(torch.cat(self.points), ev.datamodule.centers, ev.datamodule.std), protocol


class TextScores:
    """The text–image scores of :class:`~gan_lab.metrics.text_image.TextImageScores` as one scorer."""

    def __init__(self, ev: Evaluation, names: list[str]):
        self.scores = TextImageScores(ev.datamodule, names, ev.n_samples, ev.cache_dir, ev.seed)

    def see(self, images: Tensor) -> None:
        self.scores.see(images)

    def results(self, ev: Evaluation) -> tuple[dict[str, float], dict[str, Any]]:
        return self.scores.results(ev.model, ev.ema)


IMAGE_NEEDS = {"fid": {"features"}, "kid": {"features"}, "is": {"features", "logits"}}
for name in IMAGE_METRICS:
    register(Metric(name, ImageScores, frozenset(IMAGE_NEEDS[name])))
register(Metric("modes", ModeHistogram, frozenset({"features", "classifier"})))
register(
    Metric(
        "accuracy",
        ClassAccuracy,
        frozenset({"features", "classifier"}),
        frozenset({Condition.CLASS}),
        about="generated images classified as their requested class",
    )
)
register(Metric("coverage", ModeCoverage, data=frozenset({Yields.POINTS})))
TEXT_NEEDS = {"attributes": set(), "r_precision": {"text_encoder"}, "swap": {"text_encoder"}, "diversity": set()}
for name in TEXT_METRICS:
    register(
        Metric(
            name, TextScores, frozenset(TEXT_NEEDS[name]), frozenset({Condition.TEXT}), frozenset({Yields.CAPTIONED})
        )
    )
DATA_DEFAULTS[Yields.POINTS] = ("coverage",)  # 2-D points: mode coverage whatever is asked (FID is for images)
