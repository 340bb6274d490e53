"""Resuming a finished run exactly, and inputs that are one line: generate's counts, wrong-kind files, unwritable
folders, flat image folders, non-ASCII captions, a Stage-II on a foreign Stage-I."""

from __future__ import annotations

import pathlib

import pytest
import torch

from gan_lab.errors import CheckpointError
from gan_lab.latent.tools import load_encoder
from gan_lab.training import train
from tests.cli_helpers import run_cli
from tests.test_reliability import _fit


def test_extending_a_finished_run_is_identical_to_a_straight_run(make_cfg, tmp_path):
    """12 generator steps, then resumed to 24 (the run's end; digits: 22 steps an epoch, so the extension crosses an
    epoch boundary) == 24 straight: Lightning counts a run stopped by max_steps as at its epoch's end, so without
    ResumeWhereStopped the extension started the next epoch's shuffle."""
    common = ["+stabilizer=[ema]", "trainer.max_epochs=-1", "trainer.log_every_n_steps=5"]
    _fit(make_cfg(*common, "trainer.max_steps=24", f"paths.output_dir={tmp_path / 'straight'}"))
    _fit(make_cfg(*common, "trainer.max_steps=12", f"paths.output_dir={tmp_path / 'first'}"))
    first = tmp_path / "first" / "checkpoints" / "last.ckpt"
    _fit(make_cfg(*common, "trainer.max_steps=24", f"paths.output_dir={tmp_path / 'more'}", f"ckpt_path={first}"))
    straight, more = (
        torch.load(tmp_path / run / "checkpoints" / "last.ckpt", weights_only=True) for run in ("straight", "more")
    )
    assert straight["global_step"] == more["global_step"] == 48
    for name, value in straight["state_dict"].items():
        assert torch.equal(value, more["state_dict"][name]), name
    assert torch.equal(straight["noise_state"], more["noise_state"])


def test_a_run_stopped_mid_epoch_by_max_steps_resumes_mid_epoch_and_one_at_the_epoch_end_does_not():
    from gan_lab.callbacks import ResumeWhereStopped

    def saved(is_last_batch: bool) -> dict:
        progress = {"ready": 1, "started": 1, "processed": 1, "completed": 0}
        batches = {"ready": 3, "started": 3, "processed": 3, "completed": 3}
        return {
            "loops": {
                "fit_loop": {
                    "epoch_progress": {"total": dict(progress), "current": dict(progress)},
                    "epoch_loop.batch_progress": {"total": batches, "current": batches, "is_last_batch": is_last_batch},
                }
            }
        }

    mid, end = saved(False), saved(True)
    for checkpoint in (mid, end):
        ResumeWhereStopped().on_load_checkpoint(None, None, checkpoint)
    assert mid["loops"]["fit_loop"]["epoch_progress"]["total"] == {
        "ready": 1,
        "started": 1,
        "processed": 0,
        "completed": 0,
    }  # Lightning: mid epoch
    assert end["loops"]["fit_loop"]["epoch_progress"]["total"]["processed"] == 1  # a new epoch, as before


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> pathlib.Path:
    from tests.conftest import compose_config

    tmp = tmp_path_factory.mktemp("tiny")
    cfg = compose_config(tmp, "model=cgan", "trainer.max_steps=1")
    train(cfg)
    return pathlib.Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"


def _generate_cfg(*overrides: str):
    from hydra import compose, initialize_config_dir

    from tests.conftest import ROOT

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("generate", overrides=list(overrides))


@pytest.mark.parametrize(
    "n, message",
    [
        ("0", "n .* must be a whole number ≥ 1, got 0"),
        ("-1", "got -1"),
        ("x", "got 'x'"),
        ("2.5", "got 2.5"),
        ("10000000", "10000000 images do not fit one grid .* files=true"),
    ],
)
def test_generate_checks_n_in_one_line(tiny_checkpoint, tmp_path, n, message):
    from gan_lab.errors import ConfigError
    from gan_lab.generate import generate

    classes = "classes=[3]" if n == "10000000" else "classes=null"
    with pytest.raises(ConfigError, match=message):
        generate(_generate_cfg(f"ckpt={tiny_checkpoint}", f"n={n}", classes, f"out_dir={tmp_path}"))


def test_generate_draws_and_writes_in_batches(tiny_checkpoint, tmp_path, monkeypatch):
    from gan_lab import generate as gen

    sizes = []
    real = gen.draw_batches

    def counted(*args, **kwargs):
        for batch in real(*args, **kwargs):
            sizes.append(len(batch))
            yield batch

    monkeypatch.setattr(gen, "BATCH_SIZE", 64)
    monkeypatch.setattr(gen, "draw_batches", counted)
    gen.generate(_generate_cfg(f"ckpt={tiny_checkpoint}", "n=70", "classes=[2,5]", "files=true", f"out_dir={tmp_path}"))
    assert sizes == [64, 64, 12]  # 140 images, never more than a batch in memory
    files = sorted(p.name for p in tmp_path.glob("0*.png"))
    assert len(files) == 140 and files[69].endswith("_class2.png") and files[70].endswith("_class5.png")


def test_a_latent_encoder_of_the_wrong_kind_is_one_line(tiny_checkpoint):
    with pytest.raises(CheckpointError, match="is not a latent encoder"):
        load_encoder(tiny_checkpoint)


def test_an_unwritable_hydra_run_dir_is_one_line(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a folder")
    result = run_cli(tmp_path, f"hydra.run.dir={blocked}/run", "trainer.max_steps=1")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"gan_lab: error: cannot write runs under hydra.run.dir={blocked}/run" in result.stderr


def test_a_flat_image_folder_says_to_make_a_class_folder(make_cfg, tmp_path):
    from hydra.utils import instantiate
    from PIL import Image

    from gan_lab.errors import DatasetError

    for i in range(3):
        Image.new("RGB", (16, 16)).save(tmp_path / f"{i}.png")
    with pytest.raises(DatasetError, match="holds its images directly: put them in one sub-folder per class"):
        instantiate(make_cfg("data=folder", f"data.root={tmp_path}", "data.image_size=16").data).split(train=True)


def test_non_ascii_caption_words_are_unknown_words_with_the_warning(caplog):
    from gan_lab.text import Vocabulary

    vocabulary = Vocabulary(["a", "red", "circle"])
    assert vocabulary.ids("a crème circle") == [vocabulary.index["a"], 1, vocabulary.index["circle"]]
    assert "unknown words mapped to <unk>: crème" in caplog.text
    with pytest.raises(Exception, match="has no known word .*赤い"):
        vocabulary.ids("赤い")


def _stage1_file(make_cfg, tmp_path, *overrides: str) -> pathlib.Path:
    """A Stage-I checkpoint (untrained weights, its run's config) as training writes it."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = make_cfg(
        "model=stackgan",
        "data=shapes",
        "model.generator.width=8",
        "model.discriminator.width=8",
        "model.latent_dim=8",
        *overrides,
    )
    path = tmp_path / "stage1.ckpt"
    torch.save(
        {
            "state_dict": instantiate(cfg.model).state_dict(),
            "global_step": 0,
            "gan_lab_config": OmegaConf.to_container(cfg, resolve=True),
        },
        path,
    )
    return path


def test_stage2_refuses_a_stage1_of_other_data_or_another_text_encoder_and_warns_about_a_small_one(make_cfg, tmp_path):
    from gan_lab.errors import ConfigError
    from gan_lab.training import build, check_config

    stage1 = _stage1_file(make_cfg, tmp_path, "model.image_size=16")
    encoder = tmp_path / "encoder.ckpt"
    encoder.write_bytes(b"a text encoder")
    stage2 = [
        "model=stackgan_stage2",
        "data=shapes",
        f"model.stage1_ckpt={stage1}",
        "model.latent_dim=8",
        "model.generator.width=4",
        "model.generator.n_residual=1",
        "model.discriminator.width=4",
    ]
    with pytest.raises(
        ConfigError,
        match=r"data.text_encoder=null \(the hashed bag of words\) but this run uses "
        f"{encoder}",
    ):
        check_config(make_cfg(*stage2, f"data.text_encoder={encoder}"))
    with pytest.raises(
        ConfigError,
        match="was trained on gan_lab.data.shapes.ShapesDataModule data, this run's "
        "data is gan_lab.data.cub.StackGANLayoutDataModule",
    ):
        check_config(make_cfg(*[o.replace("data=shapes", "data=cub") for o in stage2]))
    with pytest.warns(UserWarning, match="Stage-I draws 16-px images and Stage-II upsamples them 4x to 64 px"):
        build(make_cfg(*stage2, "data.image_size=64"))
