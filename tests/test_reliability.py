"""The promises of docs/training.md "Resume and reliability": a checkpoint is data, never code; errors are one
clear line."""

from __future__ import annotations

import pathlib
import pickle

import pytest
import torch

from gan_lab.checkpoints import load_checkpoint, load_model, load_run, load_weights
from gan_lab.errors import CheckpointError
from gan_lab.latent.tools import load_encoder
from gan_lab.metrics import load_classifier
from gan_lab.text.sentence import load_sentence_encoder
from gan_lab.training import train
from tests.cli_helpers import run_cli


class Payload:
    """Unpickling this calls ``Path.touch(marker)``: what a crafted checkpoint would do with a shell command."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


@pytest.fixture(params=["pickle", "torch_zip"])
def malicious(request, tmp_path) -> tuple[pathlib.Path, pathlib.Path]:
    """(a crafted checkpoint file, the file it tries to create)."""
    marker = tmp_path / "pwned"
    path = tmp_path / f"{request.param}.ckpt"
    content = {"state_dict": {}, "gan_lab_config": {"model": {}}, "payload": Payload(marker)}
    if request.param == "pickle":
        path.write_bytes(pickle.dumps(content))
    else:
        torch.save(content, path)
    return path, marker


LOADERS = {
    "checkpoint": load_checkpoint,
    "model": load_model,
    "run": load_run,
    "weights": load_weights,
    "classifier": load_classifier,
    "encoder": load_encoder,
    "text encoder": load_sentence_encoder,
}


@pytest.mark.parametrize("loader", list(LOADERS))
def test_every_loader_refuses_a_checkpoint_that_would_run_code(malicious, loader):
    path, marker = malicious
    with pytest.raises(CheckpointError, match="not a weights-only checkpoint"):
        LOADERS[loader](path)
    assert not marker.exists()  # nothing ran


def test_training_resume_refuses_a_checkpoint_that_would_run_code(malicious, make_cfg):
    path, marker = malicious
    with pytest.raises(CheckpointError, match="refused to open"):
        train(make_cfg(f"ckpt_path={path}"))
    assert not marker.exists()


@pytest.mark.parametrize(
    "command", [["gan_lab"], ["gan_lab.evaluate"], ["gan_lab.generate"], ["gan_lab.latent", "interpolate"]]
)
def test_commands_refuse_it_with_one_line(tmp_path, command):
    marker = tmp_path / "pwned"
    path = tmp_path / "crafted.ckpt"
    torch.save({"state_dict": {}, "gan_lab_config": {"model": {}}, "payload": Payload(marker)}, path)
    key = "ckpt_path" if command == ["gan_lab"] else "ckpt"
    result = run_cli(tmp_path, f"{key}={path}", module=command)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"gan_lab: error: refused to open {path}: it is not a weights-only checkpoint" in result.stderr
    assert not marker.exists()


def test_a_safe_checkpoint_naming_a_foreign_target_is_refused_before_anything_is_built(tmp_path):
    src, dst = tmp_path / "secret", tmp_path / "copied"
    src.write_text("x")
    path = tmp_path / "foreign.ckpt"
    config = {
        "model": {
            "_target_": "gan_lab.models.GANModule",
            "g_optimizer": {"_target_": "shutil.copyfile", "src": str(src), "dst": str(dst)},
        }
    }
    torch.save({"state_dict": {}, "global_step": 0, "gan_lab_config": config}, path)
    assert torch.load(path, weights_only=True)  # loads safely: only the config is hostile
    with pytest.raises(
        CheckpointError,
        match=r"model.g_optimizer._target_ is 'shutil.copyfile', and a checkpoint's "
        r"config may only name classes of gan_lab's models",
    ):
        load_model(path)
    assert not dst.exists()


def test_a_directory_is_not_a_checkpoint_file(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory, not a checkpoint file"):
        load_checkpoint(tmp_path)


def test_gan_lab_checkpoints_are_weights_only_and_resume_through_the_safe_loader(make_cfg, tmp_path):
    cfg = make_cfg("model=cgan", "+stabilizer=[ema]", "trainer.max_steps=2")
    train(cfg)
    last = pathlib.Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["gan_lab_config"]["model"]["_target_"] == "gan_lab.models.ConditionalGAN"
    from gan_lab.callbacks import AtomicCheckpointIO
    from gan_lab.training import build

    assert isinstance(build(cfg)[2].strategy.checkpoint_io, AtomicCheckpointIO)  # every save of a run is atomic
    model, _, g_steps = load_model(last)
    assert g_steps == 2 and model.generator_ema is not None
    resumed = make_cfg(
        "model=cgan",
        "+stabilizer=[ema]",
        "trainer.max_steps=3",
        f"ckpt_path={last}",
        f"paths.output_dir={tmp_path / 'resumed'}",
    )
    assert train(resumed)["train/g_steps"] == 3


def test_sigterm_saves_then_exits_143_and_says_where_to_resume(tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import QUIET, ROOT

    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "gan_lab",
        "data=digits",
        "trainer.max_steps=100000",
        f"paths.output_dir={run}",
        f"paths.log_dir={tmp_path}",
        *QUIET,
        "trainer.log_every_n_steps=5",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list((run / "checkpoints").glob("epoch*.ckpt")) and time.monotonic() < deadline:
        time.sleep(0.2)  # a periodic checkpoint exists: the run is training
    os.kill(proc.pid, signal.SIGTERM)  # what SLURM sends a preempted job
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-2000:]
    last = run / "checkpoints" / "last.ckpt"
    step = torch.load(last, weights_only=True)["global_step"] // 2
    assert f"interrupted at generator step {step}; resume with ckpt_path={last}" in stderr
    assert json.loads((run / "metrics.json").read_text())["interrupted"] is True


def test_a_kill_at_any_moment_of_a_save_leaves_a_whole_checkpoint_on_another_filesystem(tmp_path):
    """The run folder on /dev/shm (tmpfs), $TMPDIR on the disk: a save killed at random moments never leaves a
    truncated last.ckpt and nothing in $TMPDIR."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    shm = pathlib.Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the temporary folder")
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    with tempfile.TemporaryDirectory(dir=shm) as run:
        target = pathlib.Path(run) / "last.ckpt"
        saver = (
            "import sys, torch; from gan_lab.callbacks import AtomicCheckpointIO\n"
            "io, i = AtomicCheckpointIO(), 0\n"
            "while True:\n"
            "    io.save_checkpoint({'w': torch.full((1_500_000,), float(i)), 'i': i}, sys.argv[1]); i += 1\n"
        )
        rng, seen = random.Random(0), []
        for _ in range(4):
            proc = subprocess.Popen(
                [sys.executable, "-c", saver, str(target)], env={**os.environ, "TMPDIR": str(tmpdir)}
            )
            while not target.exists():
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            ckpt = torch.load(target, weights_only=True)  # whole, whatever the moment of the kill
            assert torch.equal(ckpt["w"], torch.full((1_500_000,), float(ckpt["i"])))
            seen.append(ckpt["i"])
        assert not list(tmpdir.iterdir())  # nothing leaked into $TMPDIR
        assert max(seen) > 0  # the kills did land while saves were going on


def test_nan_message_says_no_checkpoint_was_written_when_none_was(make_cfg):
    from gan_lab.errors import NonFiniteLossError
    from gan_lab.training import build

    model, datamodule, trainer = build(make_cfg("trainer.max_steps=5"))
    model.d_loss = lambda real, fake: (real.mean() + fake.mean()) * float("nan")
    with pytest.raises(
        NonFiniteLossError, match="by generator step 1; training stopped and no checkpoint had been written yet"
    ):
        trainer.fit(model, datamodule=datamodule)


def test_finiteness_is_checked_for_every_step_even_between_logging_intervals(make_cfg):
    from gan_lab.errors import NonFiniteLossError
    from gan_lab.training import build

    model, datamodule, trainer = build(make_cfg("trainer.max_steps=8", "trainer.log_every_n_steps=4"))
    good = model.d_loss
    model.d_loss = lambda real, fake: good(real, fake) * (float("nan") if model.g_steps == 1 else 1.0)  # step 2 only
    with pytest.raises(NonFiniteLossError, match=r"d_loss=\S+, g_loss=\S+\) by generator step 4\b"):
        trainer.fit(model, datamodule=datamodule)  # step 2's NaN is caught at the logging step 4, not lost


def test_collapse_signature_warns_after_patience_logged_intervals(make_cfg):
    from gan_lab.training import build

    model = build(make_cfg("model.runtime.collapse_patience=3"))[0]
    check_collapse = model.health.check_collapse
    won = {"g_loss": torch.tensor(9.0), "D(x)": torch.tensor(0.999), "D(G(z))": torch.tensor(0.001)}
    fair = {"g_loss": torch.tensor(0.7), "D(x)": torch.tensor(0.6), "D(G(z))": torch.tensor(0.4)}
    for logs in (won, won, fair, won, won):  # a fair interval resets the count: no warning yet
        check_collapse(model, logs)
    with pytest.warns(UserWarning, match=r"training looks collapsed .* for 3 logged intervals D\(x\)=0.999"):
        check_collapse(model, won)
    exploded = {**fair, "g_loss": torch.tensor(1e15)}
    model.health.d_wins = 0
    for _ in range(2):
        check_collapse(model, exploded)
    with pytest.warns(UserWarning, match="g_loss=1e\\+15"):
        check_collapse(model, exploded)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["model.n_critic=0"], "model.n_critic must be ≥ 1 (discriminator steps per generator step), got 0"),
        (["model.accumulate=0"], "model.accumulate must be ≥ 1 (micro-batches per optimiser step), got 0"),
        (["model.d_optimizer.lr=-0.001"], "model.d_optimizer.lr must be a positive number, got -0.001"),
        (["trainer.max_steps=-5"], "trainer.max_steps must be a whole number of generator steps ≥ 1, or -1"),
        (
            ["trainer.max_steps=five"],
            "trainer.max_steps must be a whole number of generator steps ≥ 1, or -1 for no limit; got 'five'",
        ),
        (["data.batch_size=abc"], "data.batch_size must be a whole number ≥ 1, got 'abc'"),
        (["model=cgan", "data=ring"], "model ConditionalGAN is conditional and needs labelled data"),
        (
            ["model=stackgan"],
            "model StackGAN needs data.embedding_dim, which this data set does not provide (captioned "
            "data: data=shapes, cub or oxford102)",
        ),
    ],
)
def test_bad_values_are_one_line_config_errors(make_cfg, overrides, expected):
    from gan_lab.cli import user_error
    from gan_lab.errors import ConfigError

    with pytest.raises(Exception) as raised:
        train(make_cfg(*overrides))
    assert isinstance(user_error(raised.value), ConfigError), raised.value
    assert expected in str(user_error(raised.value))


def test_an_empty_image_folder_says_what_to_put_there_and_not_to_download(make_cfg, tmp_path):
    from hydra.utils import instantiate

    from gan_lab.errors import DatasetNotFoundError

    empty = tmp_path / "empty"
    empty.mkdir()
    datamodule = instantiate(make_cfg("data=folder", f"data.root={empty}").data)
    with pytest.raises(DatasetNotFoundError, match="one sub-folder per class with images") as raised:
        datamodule.setup("fit")
    assert "download" not in str(raised.value)


def _fit(cfg, *callbacks) -> None:
    """What ``train(cfg)`` does, with extra callbacks (a stored config may only name allowlisted targets)."""
    import lightning as L

    from gan_lab.training import build

    L.seed_everything(cfg.seed)
    model, datamodule, trainer = build(cfg)
    trainer.callbacks.extend(callbacks)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)


def test_a_run_resumed_mid_epoch_is_bit_identical_to_an_uninterrupted_one(make_cfg, tmp_path):
    """30 generator steps straight vs 9 + Ctrl-C + resume to 30 (digits: 22 steps an epoch, so the resume is mid
    epoch and the run crosses an epoch boundary after it): the same G, D, EMA, optimiser states and noise stream."""
    import lightning as L

    class CtrlC(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            if pl_module.g_steps == 9:
                raise KeyboardInterrupt

    common = ["+stabilizer=[ema]", "trainer.max_steps=30", "trainer.max_epochs=-1", "trainer.log_every_n_steps=5"]
    _fit(make_cfg(*common, f"paths.output_dir={tmp_path / 'straight'}"))
    with pytest.raises(SystemExit):  # Lightning saves, then exits
        _fit(make_cfg(*common, f"paths.output_dir={tmp_path / 'cut'}"), CtrlC())
    cut = tmp_path / "cut" / "checkpoints" / "last.ckpt"
    assert torch.load(cut, weights_only=True)["global_step"] == 18  # 9 generator steps (2 optimiser steps each)
    _fit(make_cfg(*common, f"paths.output_dir={tmp_path / 'resumed'}", f"ckpt_path={cut}"))
    straight, resumed = (
        torch.load(tmp_path / run / "checkpoints" / "last.ckpt", weights_only=True) for run in ("straight", "resumed")
    )
    assert straight["global_step"] == resumed["global_step"] == 60
    assert straight["state_dict"].keys() == resumed["state_dict"].keys()
    for name, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][name]), name
    assert torch.equal(straight["noise_state"], resumed["noise_state"])
    for a, b in zip(straight["optimizer_states"], resumed["optimizer_states"]):
        for key, state in a["state"].items():
            assert all(torch.equal(state[k], b["state"][key][k]) for k in state)


def test_a_resume_goes_on_in_the_run_folder_of_its_checkpoint(tmp_path):
    from gan_lab import resume_dir

    run = tmp_path / "2026-01-01" / "12-00-00"
    (run / ".hydra").mkdir(parents=True)
    assert resume_dir(str(run / "checkpoints" / "last.ckpt"), "new") == str(run)
    assert resume_dir(str(tmp_path / "elsewhere" / "x.ckpt"), "new") == "new"  # not a run folder: a new one
    assert resume_dir(None, "new") == "new"


def test_two_sweeps_writing_summaries_into_one_folder_leave_whole_files(tmp_path):
    import csv
    import threading

    from gan_lab.sweep import write_summary

    tables = [
        [{"trial": str(i), "overrides": f"seed={s}", "val/fid": float(s + i)} for i in range(200)] for s in range(2)
    ]
    writers = [
        threading.Thread(target=lambda rows=rows: [write_summary(tmp_path, rows) for _ in range(20)]) for rows in tables
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert [{k: v for k, v in r.items()} for r in rows] in [
        [{k: str(v) for k, v in r.items()} for r in t] for t in tables
    ]
    assert len((tmp_path / "summary.md").read_text().splitlines()) == 202
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv", "summary.md"]  # no temp file left


def test_the_stored_config_holds_no_absolute_paths_under_the_working_folder(tmp_path):
    from gan_lab.training import relative_paths

    cwd = tmp_path / "work"
    config = {
        "paths": {"output_dir": f"{cwd}/outputs/2026/run", "data_dir": "./data", "log_dir": "/scratch/x"},
        "list": [f"{cwd}/a.ckpt"],
        "n": 3,
        "name": f"{cwd}x",
    }
    assert relative_paths(config, cwd) == {
        "paths": {"output_dir": "outputs/2026/run", "data_dir": "./data", "log_dir": "/scratch/x"},
        "list": ["a.ckpt"],
        "n": 3,
        "name": f"{cwd}x",
    }


def test_a_corrupt_image_in_a_folder_is_named_or_skipped_with_a_count(make_cfg, tmp_path):
    from hydra.utils import instantiate
    from PIL import Image

    from gan_lab.errors import DatasetError

    folder = tmp_path / "images" / "cats"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (16, 16), (40 * i, 0, 0)).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    args = ["data=folder", f"data.root={tmp_path / 'images'}", "data.image_size=16", "data.batch_size=2"]
    with pytest.raises(DatasetError, match=r"cannot read the image .*broken.png .* data.source.skip_corrupt=true"):
        instantiate(make_cfg(*args).data).split(train=True)
    with pytest.warns(UserWarning, match=r"left out 1 unreadable image\(s\) of .*, e.g. .*broken.png"):
        kept = instantiate(make_cfg(*args, "+data.source.skip_corrupt=true").data).split(train=True)
    assert len(kept) == 3


def test_an_unwritable_log_dir_is_one_line(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a folder")
    result = run_cli(tmp_path, f"paths.log_dir={blocked}/runs", "trainer.max_steps=1")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"gan_lab: error: cannot write runs under paths.log_dir={blocked}/runs" in result.stderr


class CtrlCAt:
    """A callback (built from a config) that presses Ctrl-C after ``at`` generator steps."""

    def __new__(cls, at: int):
        import lightning as L

        class _CtrlC(L.Callback):
            def on_train_batch_end(self, trainer, pl_module, *args):
                if pl_module.g_steps == at:
                    raise KeyboardInterrupt

        return _CtrlC()


def test_ctrl_c_saves_then_exits_130_and_says_where_to_resume(make_cfg, capsys):
    import json

    cfg = make_cfg(
        "trainer.max_steps=50", "+callbacks.ctrl_c._target_=tests.test_reliability.CtrlCAt", "+callbacks.ctrl_c.at=3"
    )
    with pytest.raises(SystemExit) as stopped:
        train(cfg)
    assert stopped.value.code == 130
    last = pathlib.Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 6  # saved at generator step 3
    assert f"interrupted at generator step 3; resume with ckpt_path={last}" in capsys.readouterr().err
    assert json.loads((last.parent.parent / "metrics.json").read_text())["interrupted"] is True
