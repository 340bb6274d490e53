"""The thread policy (gan_lab.threads): trainer.threads, else OMP_NUM_THREADS, else usable cores / runs together."""

from __future__ import annotations

import pytest
import torch

from gan_lab.errors import ConfigError
from gan_lab.threads import RUNS_TOGETHER, apply_thread_policy, choose_threads, runs_together


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_default_divides_the_usable_cores_by_the_runs_launched_together():
    assert choose_threads(None, cores=16, together=1, environ={}) == (16, "16 usable cores / 1 run launched together")
    assert choose_threads(None, cores=16, together=5, environ={})[0] == 3
    assert choose_threads(None, cores=2, together=4, environ={})[0] == 1  # never 0
    threads, why = choose_threads(None, cores=2, together=2, environ={})
    assert (threads, why) == (1, "2 usable cores / 2 runs launched together")


def test_the_config_wins_over_the_environment_which_wins_over_the_division():
    assert choose_threads(3, cores=16, together=8, environ={"OMP_NUM_THREADS": "1"}) == (3, "trainer.threads")
    assert choose_threads(None, cores=16, together=8, environ={"OMP_NUM_THREADS": "4"}) == (4, "OMP_NUM_THREADS")


def test_runs_together_from_the_environment_or_a_parallel_launcher():
    assert runs_together(environ={}) == 1
    assert runs_together(environ={RUNS_TOGETHER: "5"}, launcher_jobs=2) == 5
    assert runs_together(environ={}, launcher_jobs=4) == 4
    assert runs_together(environ={}, launcher_jobs=-1, cores=16) == 16  # joblib's n_jobs=-1: one per core
    assert runs_together(environ={}, launcher_jobs=1) == 1


@pytest.mark.parametrize("bad", [0, -2, "two", True])
def test_bad_thread_counts_name_the_key(bad):
    with pytest.raises(ConfigError, match="trainer.threads must be a whole number ≥ 1"):
        choose_threads(bad, cores=2, together=1, environ={})
    with pytest.raises(ConfigError, match=RUNS_TOGETHER):
        runs_together(environ={RUNS_TOGETHER: str(bad)})


def test_apply_sets_torch_threads_and_says_why(restore_threads, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert apply_thread_policy(2) == "threads: 2 (trainer.threads)"
    assert torch.get_num_threads() == 2
    assert apply_thread_policy(None) == "threads: 1 (OMP_NUM_THREADS)"
    assert torch.get_num_threads() == 1


def test_a_run_logs_its_choice_and_lightning_never_sees_the_key(make_cfg, capsys, restore_threads):
    from gan_lab.training import train

    train(make_cfg("model=gan", "trainer.threads=1", "trainer.max_steps=2", "logger=[]"))
    assert "threads: 1 (trainer.threads)" in capsys.readouterr().out
    assert torch.get_num_threads() == 1
