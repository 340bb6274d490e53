"""The run's console: the config tree printed and saved, framework noise off unless verbose=true."""

from __future__ import annotations

import warnings
from pathlib import Path

from gan_lab import console
from gan_lab.training import train


def test_run_prints_and_saves_config_tree(make_cfg, capsys):
    cfg = make_cfg("trainer.max_steps=2", "logger=csv")
    train(cfg)
    saved = (Path(cfg.paths.output_dir) / "config_tree.log").read_text()
    printed = capsys.readouterr().out
    assert saved.startswith("CONFIG")
    for group in ("model", "data", "trainer"):
        assert f"── {group}" in saved
    assert "_target_: gan_lab.models" in saved  # the model's own values, not just the group name
    assert saved in printed


def test_quiet_hides_noise_and_verbose_shows_it():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        console.quiet(verbose=True)
        warnings.warn("The dataloader does not have many workers", UserWarning)
        assert len(seen) == 1
        console.quiet(verbose=False)
        warnings.warn("The dataloader does not have many workers", UserWarning)
        warnings.warn("old API", DeprecationWarning)
        warnings.warn("a real problem", UserWarning)
        assert [str(w.message) for w in seen] == ["The dataloader does not have many workers", "a real problem"]


def test_gpu_trainer_without_gpu_is_one_line_error(make_cfg):
    import pytest
    import torch

    from gan_lab.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for trainer in ("gpu", "ddp"):
        with pytest.raises(ConfigError, match="drop trainer=gpu/ddp") as err:
            console.check_device(make_cfg(f"trainer={trainer}"))
        assert "\n" not in str(err.value)
    console.check_device(make_cfg())  # the default trainer: no error


def test_cli_error_printed_once_and_kept_in_train_log(tmp_path):
    import subprocess
    import sys

    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    run = subprocess.run(
        [sys.executable, "-m", "gan_lab", "trainer=gpu", f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert run.returncode == 1
    lines = [line for line in (run.stdout + run.stderr).splitlines() if "drop trainer=gpu/ddp" in line]
    assert len(lines) == 1 and lines[0].startswith("gan_lab: error: trainer.accelerator=gpu"), run.stderr
    assert "drop trainer=gpu/ddp" in (tmp_path / "train.log").read_text()


def test_help_is_gan_labs_own_and_fast():
    import subprocess
    import sys
    import time

    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gan_lab", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    elapsed = time.perf_counter() - start
    assert run.returncode == 0, run.stderr
    assert "usage: python -m gan_lab" in run.stdout and "examples:" in run.stdout
    assert "    wgan_gp                WGAN-GP (Gulrajani et al. 2017)" in run.stdout  # option + its description
    assert "torch" not in {line.split("|")[-1].strip().split(".")[0] for line in run.stderr.splitlines()}
    assert elapsed < 2.0, f"--help took {elapsed:.1f} s"


def test_quiet_drops_lightning_tips_and_the_optimiser_step_count():
    import logging

    console.quiet(verbose=False)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    kept = []
    for text in (
        "💡 Tip: try installing litlogger",
        "`Trainer.fit` stopped: `max_steps=10` reached.",
        "GPU available: False, used: False",
    ):
        record = rank_zero.makeRecord(rank_zero.name, logging.INFO, __file__, 0, text, None, None)
        kept += [text] if rank_zero.filter(record) else []
    assert kept == ["GPU available: False, used: False"]


def test_plain_progress_in_generator_steps_and_train_log_keeps_what_the_run_printed(tmp_path):
    """Output that is not a terminal gets plain lines counting the generator steps the user asked for (not
    Lightning's optimiser steps), and train.log keeps the config tree, Lightning's lines, progress and summary."""
    import subprocess
    import sys

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gan_lab",
            "model=wgan_gp",
            "data=digits",
            "trainer.max_steps=6",
            "callbacks.progress_bar.every_n_steps=4",
            "callbacks.model_summary=null",
            f"hydra.run.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert run.returncode == 0, run.stderr
    progress = [line for line in run.stdout.splitlines() if line.startswith("step ")]
    assert [p.split(" · ")[0] for p in progress] == ["step 4/6 (67%)", "step 6/6 (100%)"], run.stdout
    assert "steps/s" in progress[0] and "left" in progress[0] and "train/d_loss=" in progress[-1]
    assert "max_steps=36" not in run.stdout + run.stderr  # Lightning's optimiser-step count stays hidden
    log = (tmp_path / "train.log").read_text()
    for part in (
        "CONFIG",
        "GPU available",
        "training from generator step 0 to 6",
        "step 6/6 (100%)",
        "Trained GANModule for 6 generator steps",
    ):
        assert part in log, part


def test_debug_presets_run(make_cfg):
    """debug=fdr (one batch, no logger files), overfit (one batch again and again), profiler (a timing table
    saved in the run folder), anomaly (autograd anomaly detection) each fit on a tiny run."""
    fdr = make_cfg("debug=fdr")
    assert train(fdr)["train/g_steps"] == 1
    assert not (Path(fdr.paths.output_dir) / "tensorboard").exists()
    overfit = make_cfg("debug=overfit", "trainer.max_steps=3")
    assert overfit.trainer.overfit_batches == 1 and train(overfit)["train/g_steps"] == 3
    profiler = make_cfg("debug=profiler", "trainer.max_steps=2", "model=wgan_gp")
    train(profiler)
    assert "training_step" in next(Path(profiler.paths.output_dir).glob("*profile*.txt")).read_text()
    anomaly = make_cfg("debug=anomaly", "trainer.max_steps=2")
    assert anomaly.trainer.detect_anomaly and anomaly.verbose and list(anomaly.tags) == ["debug"]
    assert train(anomaly)["train/g_steps"] == 2
