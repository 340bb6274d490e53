"""Sweeps are one command: a real 2-trial Optuna sweep ends with a summary of both trials and their metric;
the SLURM launcher config composes."""

from __future__ import annotations

import csv

from hydra import compose, initialize_config_dir

from tests.cli_helpers import run_cli
from tests.conftest import ROOT


def test_a_two_trial_optuna_sweep_writes_a_summary_with_both_trials(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        tmp_path,
        "experiment=mode_collapse",
        "hparams_search=optuna_modes",
        "model=gan",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.n_startup_trials=2",
        "trainer.max_steps=20",
        "callbacks.evaluation.every_n_steps=10",
        "callbacks.evaluation.n_samples=500",
        "data.n_samples=5000",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with (sweep / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["trial"] for r in rows] == ["0", "1"]
    for row in rows:
        assert "model.g_optimizer.lr=" in row["overrides"] and 0 <= float(row["val/modes_covered"]) <= 8
    assert rows[0]["overrides"] != rows[1]["overrides"]  # Optuna proposed two different trials
    assert "| trial |" in (sweep / "summary.md").read_text()
    assert (sweep / "optimization_results.yaml").is_file()  # Optuna's best trial


def test_slurm_launcher_config_composes():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "train", overrides=["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4"], return_hydra_config=True
        )
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher") and cfg.hydra.launcher.gpus_per_node == 1
    assert cfg.trainer.strategy == "ddp_find_unused_parameters_true" and cfg.trainer.devices == 4
