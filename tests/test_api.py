"""The Python API (README, docs/getting-started.md): train, load_model, sample and score as functions."""

from __future__ import annotations

import torch

import gan_lab
from gan_lab import load_model, sample, score, train
from tests.conftest import QUIET


def test_train_load_sample_score(tmp_path, digits_classifier):
    run = train("model=cgan", "data=digits", "trainer.max_steps=3", f"paths.log_dir={tmp_path}", "tags=[api]", *QUIET)
    assert run.path.parent.parent == tmp_path and run.path.name.endswith("_cgan-digits-api")
    assert run.checkpoint.is_file() and run.metrics["train/g_steps"] == 3
    model = load_model(run.checkpoint)
    assert not model.training and model.num_classes == 10
    images = sample(model, 20, seed=3)
    assert images.shape == (20, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    assert torch.equal(images, sample(model, 20, seed=3))  # a seed gives the same images
    sevens = sample(model, 4, labels=[7] * 4, seed=3)
    assert not torch.equal(sevens, sample(model, 4, labels=[1] * 4, seed=3))  # same z, another class
    results = score(
        run.checkpoint,
        "features=classifier",
        f"features.checkpoint={digits_classifier[0]}",
        "metrics=[fid]",
        "n_samples=100",
        f"cache_dir={tmp_path}/cache",
        f"paths.data_dir={tmp_path}",
    )
    assert results["fid"] > 0
    assert (run.path / "eval" / "eval_classifier.json").is_file()


def test_api_names_are_lazy_and_listed():
    assert set(gan_lab.API) == {"Run", "config", "load_model", "sample", "score", "train"}
    assert callable(gan_lab.train) and gan_lab.train is train
    cfg = gan_lab.config("train", "model=wgan_gp")
    assert cfg.model.n_critic == 5 and "hydra" not in cfg
