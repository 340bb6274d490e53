"""The metric registry: every metric says what it needs and which kinds of model and data it scores.

A metric is a :class:`Metric`: its name, the scorer that computes it (metrics with the same scorer are computed by
one instance: FID, KID and IS share the features and one seeded random stream; the text scores share a caption
set), what it needs from the evaluation (:data:`NEEDS`) and the model conditions (:class:`~gan_lab.kinds.Condition`)
and data kinds (:class:`~gan_lab.kinds.Yields`) it applies to. :func:`gan_lab.metrics.evaluate_generator` asks the
registry (:func:`select`) which scorers to run; it holds no metric of its own.

A scorer is made once per evaluation, ``scorer(evaluation, names)`` (:class:`Evaluation`: the model, data, feature
network, the labels the images are drawn for, and, once extracted, the real and generated features). It is shown
every batch of generated images as it passes (``see``) and then reports ``results(evaluation)``: (scores, protocol
lines). A new metric is one function plus one ``register(Metric(...))`` call (see tests/test_metric_registry.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from torch import Tensor, nn

from gan_lab.kinds import Condition, Yields
from gan_lab.metrics.features import FeatureNetworkError

NEEDS = ("features", "logits", "classifier", "text_encoder")  # what a metric can ask of an evaluation
# features: real and generated images' features from the feature network (features=inception|classifier)
# logits: the feature network's class logits of the generated images
# classifier: a feature network with a class-predicting classifier (features=classifier)
# text_encoder: the data's text encoder (captioned data)
IMAGE_DATA = frozenset({Yields.IMAGES, Yields.CAPTIONED})
MODEL_KINDS = {Condition.NONE: "unconditional", Condition.CLASS: "class-conditional", Condition.TEXT: "text-to-image"}
EXAMPLES = {
    Condition.CLASS: " (model=cgan, biggan, ...)",
    Condition.TEXT: " (model=stackgan, stackgan_v2, ...)",
    Condition.NONE: "",
}


@dataclasses.dataclass
class Evaluation:
    """What the scorers of one evaluation share."""

    model: Any
    datamodule: Any
    network: nn.Module | None
    n_samples: int
    seed: int = 0
    ema: bool = True
    batch_size: int = 250
    cache_dir: str | None = None
    labels: Tensor | None = None  # what each generated image is drawn for: class ids or caption embeddings
    real: Tensor | None = None  # real images' features (when a metric needs features)
    fake: Tensor | None = None  # generated images' features
    fake_logits: Tensor | None = None  # generated images' class logits (when a metric needs logits)
    n_real: int = 0


class Scorer(Protocol):
    def see(self, images: Tensor) -> None:
        """One batch of generated images (in [-1, 1]) on its way to feature extraction."""

    def results(self, evaluation: Evaluation) -> tuple[dict[str, float], dict[str, Any]]:
        """(scores, protocol lines) once every image has passed (and the features are extracted)."""


@dataclasses.dataclass(frozen=True)
class Metric:
    """A metric: ``scorer(evaluation, names)`` computes it (with the other requested metrics of the same scorer)."""

    name: str
    scorer: Callable[[Evaluation, list[str]], Scorer]
    needs: frozenset[str] = frozenset()
    models: frozenset[Condition] = frozenset(Condition)
    data: frozenset[Yields] = IMAGE_DATA
    about: str = ""  # one line for error messages and listings

    def __post_init__(self) -> None:
        unknown = set(self.needs) - set(NEEDS)
        if unknown:
            raise ValueError(f"metric {self.name!r} needs {sorted(unknown)}: a metric can need {list(NEEDS)}")


REGISTRY: dict[str, Metric] = {}
# data whose kind every image metric misses: scored by these whatever is asked (2-D points: mode coverage)
DATA_DEFAULTS: dict[Yields, tuple[str, ...]] = {}


def register(metric: Metric) -> Metric:
    """Add (or replace) ``metric`` under its name."""
    REGISTRY[metric.name] = metric
    return metric


def names() -> list[str]:
    return list(REGISTRY)


def for_data(requested: Iterable[str], data: Yields) -> list[str]:
    """The metrics to compute on ``data`` for the requested names (the data kind's defaults replace them)."""
    return list(DATA_DEFAULTS.get(data, requested))


def needs(requested: Iterable[str], data: Yields) -> set[str]:
    """Everything the requested metrics need on data of kind ``data`` (e.g. ``"features"``: build the network)."""
    chosen = for_data(requested, data)
    unknown = [m for m in chosen if m not in REGISTRY]
    if unknown:
        raise FeatureNetworkError(f"unknown metric(s) {unknown}: choose from {names()}")
    return set().union(*(REGISTRY[m].needs for m in chosen))


def classifier_of(network: nn.Module | None) -> nn.Module | None:
    """The class-predicting classifier a feature network carries (features=classifier), or None."""
    return getattr(network, "classifier", None)


def select(
    requested: Iterable[str], condition: Condition, data: Yields, model_name: str, network: nn.Module | None
) -> list[Metric]:
    """The registered metrics to compute, in registration order; a FeatureNetworkError naming what does not fit
    (an unknown name, a model or data kind the metric does not score, a missing feature network or classifier)."""
    chosen = for_data(requested, data)
    needs(chosen, data)  # unknown names
    metrics = [m for m in REGISTRY.values() if m.name in chosen]
    wrong_model = [m for m in metrics if condition not in m.models]
    if wrong_model:
        kinds = sorted({k for m in wrong_model for k in m.models}, key=list(Condition).index)
        what = " or ".join(MODEL_KINDS[k] for k in kinds)
        raise FeatureNetworkError(
            f"{[m.name for m in wrong_model]} score {what} models{EXAMPLES[kinds[-1]]}; this "
            f"checkpoint's model ({model_name}) is {MODEL_KINDS[condition]}"
        )
    wrong_data = [m.name for m in metrics if data not in m.data]
    if wrong_data:
        raise FeatureNetworkError(f"{wrong_data} do not score {data.value} data")
    if network is None and any("features" in m.needs for m in metrics):
        raise FeatureNetworkError(
            f"{[m.name for m in metrics if 'features' in m.needs]} need a feature network: "
            "pass features=inception or features=classifier"
        )
    for m in metrics:
        if "classifier" in m.needs and classifier_of(network) is None:
            raise FeatureNetworkError(f"the {m.name!r} metric needs class predictions: use features=classifier")
    return metrics
