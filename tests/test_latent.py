"""Latent-space tools: slerp/lerp maths, interpolation strips and GIFs, the encoder run, arithmetic, D features."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hydra import compose, initialize_config_dir
from PIL import Image

from gan_lab.errors import ConfigError
from gan_lab.latent import latent_path, lerp, slerp, tools
from gan_lab.progress import progress
from gan_lab.training import train
from tests.conftest import ROOT


def test_slerp_and_lerp_endpoints_and_norms():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, generator=g), torch.randn(64, generator=g)
    b = b / b.norm() * a.norm()
    t = torch.linspace(0, 1, 11)
    s, lin = slerp(a, b, t), lerp(a, b, t)
    for path in (s, lin):
        torch.testing.assert_close(path[0], a)
        torch.testing.assert_close(path[-1], b)
    torch.testing.assert_close(s.norm(dim=1), torch.full((11,), a.norm().item()))  # stays on the sphere
    assert lin.norm(dim=1)[5] < 0.8 * a.norm()  # the straight line cuts through the low-density centre
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
    cfg = compose_config(
        tmp,
        "data=mnist_5k",
        "data.batch_size=32",
        "trainer.max_steps=5",
        "model.generator.width=16",
        "model.discriminator.width=16",
    )
    train(cfg)
    return f"{cfg.paths.output_dir}/checkpoints/last.ckpt", cfg.paths.output_dir, tmp


def latent_cfg(command: str, *overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(f"latent/{command}", overrides=list(overrides))


def test_interpolate_writes_a_strip_per_walk_and_a_gif(trained):
    ckpt, run, tmp = trained
    path = tools.interpolate(
        latent_cfg(
            "interpolate", f"ckpt={ckpt}", "walks=2", "steps=4", "seeds=[1,2,3]", "gif=true", f"out_dir={tmp}/interp"
        )
    )
    assert Image.open(path).size == (2 + 7 * 30, 2 + 2 * 30)  # 7 images per walk, 2 walks
    assert Image.open(path.with_suffix(".gif")).n_frames == 7 + 5  # there and back
    gif = progress(latent_cfg("progress", f"run={run}"))
    assert Image.open(gif).n_frames == 2  # the step-0 and final grids


@pytest.fixture(scope="module")
def encoder(trained):
    ckpt, run, tmp = trained
    report = tools.train_encoder(
        latent_cfg("encoder", f"ckpt={ckpt}", "max_epochs=1", "n_eval=100", "progress_bar=false", f"out_dir={tmp}/enc")
    )
    return tmp / "enc" / "encoder.ckpt", report


def test_encoder_fits_and_reports_held_out_error(encoder):
    path, report = encoder
    assert path.is_file() and (path.parent / "tensorboard").is_dir()
    assert report["n_images"] == 100 and report["encoded_mse"] > 0 and report["random_z_mse"] > 0
    assert json.loads((path.parent / "report.json").read_text())["split"] == "test"


def grid_pixels(path, rows: int, columns: int, cell: int = 30) -> torch.Tensor:
    return torch.tensor(list(Image.open(path).convert("L").getdata())).view(2 + rows * cell, 2 + columns * cell)


def test_arithmetic_with_a_zero_vector_changes_nothing(trained, encoder, digits_classifier):
    ckpt, _, tmp = trained
    common = [
        f"ckpt={ckpt}",
        f"encoder={encoder[0]}",
        "source=3",
        "target=8",
        "n=4",
        "n_vector=50",
        f"out_dir={tmp}/arith",
    ]
    result = tools.arithmetic(latent_cfg("arithmetic", *common, "strengths=[0.0,0.0,1.0]"))
    image = grid_pixels(result["grid"], 4, 3)
    first, second = image[:, 2:30], image[:, 32:60]
    assert torch.equal(first, second)  # k = 0: the edited image is the unedited one
    scored = tools.arithmetic(latent_cfg("arithmetic", *common, f"classifier={digits_classifier[0]}"))
    assert 0 <= scored["success_rate"] <= 1


def test_arithmetic_from_a_csv_of_files_equals_the_same_images_by_label(trained, encoder, tmp_path):
    from gan_lab.checkpoints import load_run

    ckpt, _, tmp = trained
    train_split = load_run(ckpt)[1].split(train=True)
    eights, threes = [(train_split.labels == c).nonzero().flatten()[:12].tolist() for c in (8, 3)]
    (tmp_path / "images").mkdir()
    rows = ["file,is_eight,unused"]
    for i in sorted(eights + threes):  # interleaved, but each group in the split's order
        Image.fromarray(train_split.images[i, 0].numpy()).save(tmp_path / "images" / f"{i}.png")
        rows.append(f"{i}.png,{1 if i in eights else -1},0")
    (tmp_path / "attributes.csv").write_text("\n".join(rows) + "\n")
    common = [f"ckpt={ckpt}", f"encoder={encoder[0]}", "n=4", "n_vector=12", f"out_dir={tmp_path}/out"]
    by_label = tools.arithmetic(latent_cfg("arithmetic", *common, "source=3", "target=8"))
    by_csv = tools.arithmetic(
        latent_cfg(
            "arithmetic",
            *common,
            f"attributes={tmp_path}/attributes.csv",
            f"images={tmp_path}/images",
            "attribute=is_eight",
        )
    )
    assert by_csv["vector_norm"] == pytest.approx(by_label["vector_norm"], rel=1e-6)
    assert torch.equal(grid_pixels(by_csv["grid"], 4, 5), grid_pixels(by_label["grid"], 4, 5))

    with pytest.raises(ConfigError, match="no attribute 'glasses' in .*valid: is_eight, unused"):
        tools.arithmetic(
            latent_cfg(
                "arithmetic",
                *common,
                f"attributes={tmp_path}/attributes.csv",
                f"images={tmp_path}/images",
                "attribute=glasses",
            )
        )
    with pytest.raises(ConfigError, match="found 0 with and 24 without"):
        tools.arithmetic(
            latent_cfg(
                "arithmetic",
                *common,
                f"attributes={tmp_path}/attributes.csv",
                f"images={tmp_path}/images",
                "attribute=unused",
            )
        )
    with pytest.raises(ConfigError, match=r"12 image\(s\) named in the attribute file are missing"):
        tools.arithmetic(
            latent_cfg("arithmetic", *common, f"attributes={tmp_path}/attributes.csv", "attribute=is_eight")
        )
    with pytest.raises(ConfigError, match="needs multi-attribute labels"):  # digits have class labels only
        tools.arithmetic(latent_cfg("arithmetic", *common, "attribute=1"))


def test_discriminator_features_have_the_documented_shape_and_a_probe(trained):
    ckpt, _, tmp = trained
    results = tools.probe_features(
        latent_cfg("features", f"ckpt={ckpt}", "n_train=200", "n_test=100", f"out_dir={tmp}/feat")
    )
    assert results["feature_dim"] == 16 * 2 * 7 * 7  # DCGAN critic body at 28×28: (2·width, 7, 7)
    assert 0.1 <= results["discriminator_test_accuracy"] <= 1 and 0.1 <= results["pixels_test_accuracy"] <= 1
    assert math.isclose(json.loads((tmp / "feat" / "features_probe.json").read_text())["n_train"], 200)


def test_interpolate_between_classes_of_a_conditional_model(tmp_path):
    from gan_lab.checkpoints import load_model
    from tests.conftest import compose_config

    cfg = compose_config(tmp_path, "model=cgan", "trainer.max_steps=2")  # concat: classes differ from the start
    train(cfg)
    ckpt = f"{cfg.paths.output_dir}/checkpoints/last.ckpt"
    path = tools.interpolate(
        latent_cfg("interpolate", f"ckpt={ckpt}", "classes=[3,8,1]", "walks=2", "steps=5", f"out_dir={tmp_path}/interp")
    )
    grid = torch.tensor(list(Image.open(path).convert("L").getdata())).view(2 + 2 * 10, 2 + 9 * 10)
    cells = [grid[2 + 10 * r : 10 * (r + 1), 2 + 10 * c : 10 * (c + 1)] for r in range(2) for c in range(9)]
    model = load_model(ckpt)[0]
    for row in range(2):  # the walk's class points are that row's fixed z drawn as the plain classes
        z = model.sample_z(1, generator=torch.Generator().manual_seed(1000 * row)).repeat(3, 1)
        ends = tools.to_unit_range(model.generate(z, torch.tensor([3, 8, 1]))).mul(255).add(0.5).clamp(0, 255).byte()
        for column, end in zip((0, 4, 8), ends):
            assert torch.equal(cells[9 * row + column], end[0].long())
    assert not torch.equal(cells[2], cells[0]) and not torch.equal(cells[2], cells[4])  # halfway: a blend

    with pytest.raises(ConfigError, match="one seed per class: got 3 seeds for 2 classes"):
        tools.interpolate(latent_cfg("interpolate", f"ckpt={ckpt}", "classes=[3,8]", "seeds=[1,2,3]"))
    with pytest.raises(ConfigError, match=r"labels range over \[3, 12\]"):
        tools.interpolate(latent_cfg("interpolate", f"ckpt={ckpt}", "classes=[3,12]"))


def test_class_interpolation_needs_a_conditional_model(trained):
    with pytest.raises(ConfigError, match="this checkpoint is unconditional"):
        tools.interpolate(latent_cfg("interpolate", f"ckpt={trained[0]}", "classes=[3,8]"))


def test_attributes_of_a_streaming_dataset_are_read_by_name_without_decoding_images():
    class CelebALike(torch.utils.data.Dataset):  # torchvision's CelebA: ``attr`` (N, 40) in {0, 1}, ``attr_names``
        attr = torch.tensor([[1, 0], [0, 1], [1, 1]])
        attr_names = ["Eyeglasses", "Smiling"]

        def __getitem__(self, i):
            raise AssertionError("labels must not decode images")

    values, names = tools._labels_of(CelebALike())
    with_attr, without = tools._split_by_attribute(values, "Smiling", names, "CelebA")
    assert with_attr.tolist() == [False, True, True] and without.tolist() == [True, False, False]
    assert tools._split_by_attribute(values, 0, names, "CelebA")[0].tolist() == [True, False, True]
    with pytest.raises(ConfigError, match="no attribute 'Bald' in CelebA; valid: Eyeglasses, Smiling"):
        tools._split_by_attribute(values, "Bald", names, "CelebA")
