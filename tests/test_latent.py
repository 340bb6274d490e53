"""Latent-space tools: slerp/lerp maths, interpolation strips and GIFs, the encoder run, arithmetic, D features."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hydra import compose, initialize_config_dir
from PIL import Image

from gan_lab.latent import latent_path, lerp, slerp
from gan_lab.latent import tools
from gan_lab.train import train
from tests.conftest import ROOT


def test_slerp_and_lerp_endpoints_and_norms():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, generator=g), torch.randn(64, generator=g)
    b = b / b.norm() * a.norm()
    t = torch.linspace(0, 1, 11)
    s, l = slerp(a, b, t), lerp(a, b, t)
    for path in (s, l):
        torch.testing.assert_close(path[0], a)
        torch.testing.assert_close(path[-1], b)
    torch.testing.assert_close(s.norm(dim=1), torch.full((11,), a.norm().item()))  # stays on the sphere
    assert l.norm(dim=1)[5] < 0.8 * a.norm()  # the straight line cuts through the low-density centre
    # equal angle per step along the great circle
    angles = torch.arccos((s[1:] * s[:-1]).sum(1) / (s[1:].norm(dim=1) * s[:-1].norm(dim=1)))
    torch.testing.assert_close(angles, angles[:1].expand_as(angles), atol=1e-4, rtol=1e-4)


def test_latent_path_visits_every_point_once():
    points = torch.randn(3, 8)
    path = latent_path(points, steps=5, method="slerp")
    assert path.shape == (9, 8)
    for i, at in enumerate((0, 4, 8)):
        torch.testing.assert_close(path[at], points[i])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.conftest import compose_config

    tmp = tmp_path_factory.mktemp("latent")
    cfg = compose_config(tmp, "data=mnist_5k", "data.batch_size=32", "trainer.max_steps=5",
                         "model.generator.width=16", "model.discriminator.width=16")
    train(cfg)
    return f"{cfg.paths.output_dir}/checkpoints/last.ckpt", cfg.paths.output_dir, tmp


def latent_cfg(command: str, *overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(f"latent/{command}", overrides=list(overrides))


def test_interpolate_writes_a_strip_per_walk_and_a_gif(trained):
    ckpt, run, tmp = trained
    path = tools.interpolate(latent_cfg("interpolate", f"ckpt={ckpt}", "walks=2", "steps=4", "seeds=[1,2,3]",
                                        "gif=true", f"out_dir={tmp}/interp"))
    assert Image.open(path).size == (2 + 7 * 30, 2 + 2 * 30)  # 7 images per walk, 2 walks
    assert Image.open(path.with_suffix(".gif")).n_frames == 7 + 5  # there and back
    gif = tools.progress(latent_cfg("progress", f"run={run}"))
    assert Image.open(gif).n_frames == 2  # the step-0 and final grids


def test_encoder_fits_reports_and_arithmetic_with_a_zero_vector_changes_nothing(trained, digits_classifier):
    ckpt, run, tmp = trained
    report = tools.train_encoder(latent_cfg("encoder", f"ckpt={ckpt}", "max_epochs=1", "n_eval=100",
                                            "progress_bar=false", f"out_dir={tmp}/enc"))
    assert (tmp / "enc" / "encoder.ckpt").is_file() and (tmp / "enc" / "tensorboard").is_dir()
    assert report["n_images"] == 100 and report["encoded_mse"] > 0 and report["random_z_mse"] > 0
    assert json.loads((tmp / "enc" / "report.json").read_text())["split"] == "test"

    common = [f"ckpt={ckpt}", f"encoder={tmp}/enc/encoder.ckpt", "source=3", "target=8", "n=4", "n_vector=50",
              f"out_dir={tmp}/arith"]
    result = tools.arithmetic(latent_cfg("arithmetic", *common, "strengths=[0.0,0.0,1.0]"))
    image = torch.tensor(list(Image.open(result["grid"]).convert("L").getdata())).view(2 + 4 * 30, 2 + 3 * 30)
    first, second = image[:, 2:30], image[:, 32:60]
    assert torch.equal(first, second)  # k = 0: the edited image is the unedited one
    scored = tools.arithmetic(latent_cfg("arithmetic", *common, f"classifier={digits_classifier[0]}"))
    assert 0 <= scored["success_rate"] <= 1


def test_discriminator_features_have_the_documented_shape_and_a_probe(trained):
    ckpt, _, tmp = trained
    results = tools.probe_features(latent_cfg("features", f"ckpt={ckpt}", "n_train=200", "n_test=100",
                                              f"out_dir={tmp}/feat"))
    assert results["feature_dim"] == 16 * 2 * 7 * 7  # DCGAN critic body at 28×28: (2·width, 7, 7)
    assert 0.1 <= results["discriminator_test_accuracy"] <= 1 and 0.1 <= results["pixels_test_accuracy"] <= 1
    assert math.isclose(json.loads((tmp / "feat" / "features_probe.json").read_text())["n_train"], 200)
