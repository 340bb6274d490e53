"""What a user sees from `python -m gan_lab` on bad input: one clear line, exit status 1, no traceback."""

from __future__ import annotations

import pytest

from tests.cli_helpers import run_cli


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["model=stylegan"],
            ["Could not find 'model/stylegan'", "Available options in 'model'", "biggan", "dcgan", "wgan_gp"],
        ),
        (["data=imagenet"], ["Could not find 'data/imagenet'", "Available options in 'data'", "mnist_5k", "ring"]),
        (["data.image_size=30"], ["gan_lab: error: this network cannot make 30×30 images", "28, 32"]),
        (
            ["data=mnist", "data.root=/nonexistent", "data.download=false"],
            ["gan_lab: error: MNIST not found: expected /nonexistent/MNIST/raw/", "train-images-idx3-ubyte.gz"],
        ),
    ],
)
def test_bad_input_gets_one_clear_error(tmp_path, overrides, expected):
    result = run_cli(tmp_path, "trainer.max_steps=1", *overrides)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr


def test_missing_or_corrupt_checkpoint_is_reported_clearly(tmp_path):
    corrupt = tmp_path / "last.ckpt"
    corrupt.write_bytes(b"not a checkpoint")
    result = run_cli(tmp_path, f"ckpt_path={corrupt}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"gan_lab: error: checkpoint {corrupt} is corrupt" in result.stderr


def test_default_command_trains_offline_and_reports_where_the_run_is(tmp_path):
    result = run_cli(tmp_path, "trainer.max_steps=5")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Trained GANModule for 5 generator steps" in result.stdout
    run = next(p for p in tmp_path.glob("*/*") if (p / "checkpoints").is_dir())
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "samples" / "step_000005.png").is_file()
    assert any((run / "tensorboard").glob("events.out.tfevents.*"))


def test_a_run_that_fails_before_its_first_step_leaves_no_run_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    runs = tmp_path / "runs"
    result = run_cli(runs, "data=folder", f"data.root={tmp_path / 'empty'}")
    assert result.returncode == 1 and "gan_lab: error: image folder" in result.stderr
    assert not runs.exists() or not any(runs.iterdir()), sorted(runs.rglob("*"))
