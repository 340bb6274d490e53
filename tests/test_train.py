"""Real fits through the composed config: every model, step accounting, checkpoints, resume, interrupts."""

from __future__ import annotations

import math
import os
import signal
from pathlib import Path

import lightning as L
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gan_lab.errors import NonFiniteLossError
from gan_lab.training import build, train
from tests.conftest import MODELS


def ckpt_path(cfg) -> str:
    return os.path.join(cfg.paths.output_dir, "checkpoints", "last.ckpt")


@pytest.mark.parametrize("model", MODELS)
def test_every_model_fits_and_writes_its_run_folder(make_cfg, model):
    cfg = make_cfg(f"model={model}", "trainer.max_steps=3")
    metrics = train(cfg)
    n_critic = cfg.model.n_critic
    assert math.isfinite(metrics["train/d_loss"]) and math.isfinite(metrics["train/g_loss"])
    assert metrics["train/g_steps"] == 3
    ckpt = torch.load(ckpt_path(cfg), weights_only=False)
    assert ckpt["global_step"] == 3 * (n_critic + 1)  # Lightning counts every optimiser step
    assert ckpt["gan_lab_config"]["model"]["_target_"] == cfg.model._target_
    samples = sorted(os.listdir(os.path.join(cfg.paths.output_dir, "samples")))
    assert samples[0] == "real.png" and samples[1] == "step_000000.png" and samples[-1] == "step_000003.png"
    events = EventAccumulator(os.path.join(cfg.paths.output_dir, "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {"train/d_loss", "train/g_loss", "train/D(x)", "train/D(G(z))", "train/wasserstein"} <= set(
        events.Tags()["scalars"]
    )
    assert "samples" in events.Tags()["images"]
    assert [e.step for e in events.Scalars("train/g_loss")] == [1, 2, 3]  # x axis: generator steps


def test_csv_logger_alone_and_beside_tensorboard(make_cfg):
    cfg = make_cfg("logger=csv", "trainer.max_steps=2")
    train(cfg)
    lines = Path(cfg.paths.output_dir, "csv", "metrics.csv").read_text().splitlines()
    assert "train/g_loss" in lines[0] and len(lines) == 3
    both = make_cfg("logger=[tensorboard,csv]", "trainer.max_steps=1", f"paths.output_dir={cfg.paths.output_dir}2")
    train(both)
    assert {"csv", "tensorboard"} <= set(os.listdir(both.paths.output_dir))


def test_max_steps_counts_generator_steps_for_wgans(make_cfg):
    cfg = make_cfg("model=wgan_gp", "trainer.max_steps=2")
    model, datamodule, trainer = build(cfg)
    assert trainer.max_steps == 2 * (5 + 1)
    trainer.fit(model, datamodule=datamodule)
    assert model.g_steps == 2 and trainer.global_step == 12


def test_resume_from_last_ckpt_reproduces_the_uninterrupted_run(make_cfg, tmp_path):
    common = ("trainer.max_steps=-1", "+trainer.limit_train_batches=4")
    straight = make_cfg(*common, "trainer.max_epochs=2", f"paths.output_dir={tmp_path}/straight")
    first = make_cfg(*common, "trainer.max_epochs=1", f"paths.output_dir={tmp_path}/first")
    train(straight)
    train(first)
    saved = torch.load(ckpt_path(first), weights_only=False)
    assert saved["global_step"] == 4 * 2

    resumed_cfg = make_cfg(
        *common, "trainer.max_epochs=2", f"paths.output_dir={tmp_path}/resumed", f"ckpt_path={ckpt_path(first)}"
    )
    model, datamodule, trainer = build(resumed_cfg)
    steps_at_start = []
    trainer.callbacks.append(
        L.pytorch.callbacks.LambdaCallback(
            on_train_start=lambda tr, pl: steps_at_start.append((tr.global_step, pl.g_steps))
        )
    )
    trainer.fit(model, datamodule=datamodule, ckpt_path=resumed_cfg.ckpt_path)
    assert steps_at_start == [(8, 4)]  # continues at the saved step

    expected = torch.load(ckpt_path(straight), weights_only=False)["state_dict"]
    got = model.state_dict()
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0, msg=name)


class Interrupt(L.Callback):
    """Raise ``exc`` (or deliver ``sig``) after ``at`` generator steps."""

    def __init__(self, at: int, exc: type[BaseException] | None = None, sig: int | None = None):
        self.at, self.exc, self.sig = at, exc, sig

    def on_train_batch_end(self, trainer, pl_module, *args):
        if pl_module.g_steps == self.at:
            if self.sig is not None:
                os.kill(os.getpid(), self.sig)
            else:
                raise self.exc()


@pytest.mark.parametrize(
    ("callback", "raised"),
    [
        (Interrupt(5, exc=KeyboardInterrupt), SystemExit),  # Lightning turns Ctrl-C into exit(1) after cleanup
        (Interrupt(5, sig=signal.SIGTERM), BaseException),  # SIGTERMException at the next batch boundary
    ],
)
def test_interrupt_leaves_a_resumable_last_ckpt(make_cfg, callback, raised):
    cfg = make_cfg("trainer.max_steps=50")
    model, datamodule, trainer = build(cfg)
    trainer.callbacks.append(callback)
    with pytest.raises(raised):
        trainer.fit(model, datamodule=datamodule)
    ckpt = torch.load(ckpt_path(cfg), weights_only=False)
    assert ckpt["global_step"] // 2 in (5, 6)  # SIGTERM is honoured at the next batch boundary

    resumed = make_cfg("trainer.max_steps=8", f"ckpt_path={ckpt_path(cfg)}")
    assert train(resumed)["train/g_steps"] == 8


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(make_cfg):
    cfg = make_cfg("trainer.max_steps=-1", "trainer.max_epochs=3", "+trainer.limit_train_batches=4")
    model, datamodule, trainer = build(cfg)
    good_loss = model.d_loss

    def diverging(real, fake):  # finite for the first epoch (4 steps), NaN from then on
        return good_loss(real, fake) * (float("nan") if model.g_steps >= 4 else 1.0)

    model.d_loss = diverging
    with pytest.raises(NonFiniteLossError, match=r"generator step 5\b"):
        trainer.fit(model, datamodule=datamodule)
    ckpt = torch.load(ckpt_path(cfg), weights_only=False)
    assert ckpt["global_step"] == 8  # the end-of-epoch-1 checkpoint, not overwritten
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())


def test_mlflow_and_wandb_loggers_record_the_run_offline(make_cfg, monkeypatch):
    """logger=mlflow writes to a local SQLite store; logger=wandb keeps an offline run in the run folder."""
    import sqlite3

    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = make_cfg("logger=[mlflow,wandb]", "trainer.max_steps=2")
    train(cfg)
    store = os.path.join(cfg.paths.log_dir, "mlflow.db")
    with sqlite3.connect(store) as db:
        ((name,),) = db.execute("select name from runs").fetchall()
        keys = {k for (k,) in db.execute("select key from metrics")}
    assert name == os.path.basename(cfg.paths.output_dir) and {"train/d_loss", "train/g_loss"} <= keys
    runs = [p for p in os.listdir(os.path.join(cfg.paths.output_dir, "wandb")) if p.startswith("offline-run-")]
    assert len(runs) == 1
