"""The metric registry: a metric added in one place is computed by evaluate_generator; what it declares it needs
and scores is checked before any image is drawn."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from gan_lab.kinds import Condition, Yields
from gan_lab.metrics import (
    REGISTRY,
    Evaluation,
    FeatureNetworkError,
    Metric,
    evaluate_generator,
    fake_batches,
    register,
)
from gan_lab.metrics.registry import needs


class Brightness:
    """A toy metric: the mean pixel of the generated images in [0, 1]; and how many images it saw."""

    def __init__(self, evaluation: Evaluation, names: list[str]):
        self.total, self.count = 0.0, 0

    def see(self, images: torch.Tensor) -> None:
        self.total += images.add(1).div(2).sum().item()
        self.count += images.numel()

    def results(self, evaluation: Evaluation):
        return {"brightness": self.total / self.count}, {"brightness": "mean pixel in [0, 1]"}


@pytest.fixture
def tiny(make_cfg):
    cfg = make_cfg("model.generator.width=8", "model.discriminator.width=8")
    return instantiate(cfg.model).eval(), instantiate(cfg.data)


def test_a_toy_metric_added_through_the_registry_scores_a_tiny_model(tiny, monkeypatch):
    monkeypatch.setitem(REGISTRY, "brightness", Metric("brightness", Brightness))
    model, datamodule = tiny
    results, protocol = evaluate_generator(model, datamodule, None, ["brightness"], n_samples=20, batch_size=8, seed=3)
    images = torch.cat(list(fake_batches(lambda z, y: model.generate(z, y), model.sample_z, 20, 8, 3)))
    expected = images.add(1).div(2).mean().item()  # by hand: the same seeded z, the same images
    assert results == {"brightness": pytest.approx(expected, rel=1e-6)}
    assert protocol["brightness"] == "mean pixel in [0, 1]" and protocol["n_fake"] == 20
    assert "feature_network" not in protocol  # it needs no features: none are extracted


def test_what_a_metric_declares_is_checked_before_drawing(tiny, monkeypatch):
    model, datamodule = tiny
    monkeypatch.setitem(REGISTRY, "texty", Metric("texty", Brightness, models=frozenset({Condition.TEXT})))
    with pytest.raises(FeatureNetworkError, match=r"\['texty'\] score text-to-image models .* is unconditional"):
        evaluate_generator(model, datamodule, None, ["texty"], n_samples=4)
    monkeypatch.setitem(REGISTRY, "sharp", Metric("sharp", Brightness, frozenset({"features"})))
    with pytest.raises(FeatureNetworkError, match=r"\['sharp'\] need a feature network"):
        evaluate_generator(model, datamodule, None, ["sharp"], n_samples=4)
    with pytest.raises(FeatureNetworkError, match=r"unknown metric\(s\) \['nope'\]: choose from \[.*'fid'"):
        evaluate_generator(model, datamodule, None, ["nope"], n_samples=4)
    with pytest.raises(ValueError, match="a metric can need"):
        register(Metric("odd", Brightness, frozenset({"telepathy"})))
    assert "odd" not in REGISTRY


def test_the_shipped_metrics_declare_their_needs_and_points_are_scored_by_coverage():
    assert needs(["fid", "kid"], Yields.IMAGES) == {"features"}
    assert needs(["is"], Yields.IMAGES) == {"features", "logits"}
    assert needs(["attributes", "diversity"], Yields.CAPTIONED) == set()  # the text scores alone: no network
    assert needs(["fid"], Yields.POINTS) == set()  # 2-D points: mode coverage whatever is asked
    assert REGISTRY["accuracy"].models == {Condition.CLASS}
    assert REGISTRY["coverage"].data == {Yields.POINTS}
