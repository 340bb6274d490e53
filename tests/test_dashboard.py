"""The GAN dashboard: custom-scalars layout, generator steps on the x axis, a short HPARAMS table, labelled
grids, real images once, run names; and a real TensorBoard serving a finished run over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import plugin_data_pb2

from gan_lab import run_name
from gan_lab.images import annotate
from gan_lab.loggers import LAYOUT, run_hparams
from gan_lab.training import train


def events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A conditional WGAN-GP-style run shorter than the logging interval (5 steps, logging every 10)."""
    from tests.conftest import compose_config

    cfg = compose_config(
        tmp_path_factory.mktemp("dash"),
        "model=cgan",
        "trainer.max_steps=5",
        "trainer.log_every_n_steps=10",
        "callbacks.samples.every_n_steps=100",
        "tags=[baseline]",
    )
    train(cfg)
    return Path(cfg.paths.output_dir)


def test_short_run_logs_its_last_step_on_the_generator_step_axis_without_epoch(finished_run):
    acc = events(finished_run)
    scalars = set(acc.Tags()["scalars"])
    assert {"train/d_loss", "train/g_loss", "train/D(x)", "train/D(G(z))"} <= scalars
    assert not scalars & {"epoch", "step", "train/g_steps"}  # no staircase, no diagonal line
    assert not any(tag.startswith("final/") for tag in scalars)  # final metrics live in HPARAMS
    assert [e.step for e in acc.Scalars("train/g_loss")] == [5]
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert metrics["train/g_steps"] == 5 and "train/d_loss" in metrics


def test_layout_hparams_and_images(finished_run):
    acc = events(finished_run)
    assert "custom_scalars__config__" in acc.Tags()["tensors"]
    data = next(
        v.metadata.plugin_data.content
        for f in (finished_run / "tensorboard").glob("events*")
        for e in EventFileLoader(str(f)).Load()
        for v in e.summary.value
        if v.tag == "_hparams_/experiment"
    )
    info = plugin_data_pb2.HParamsPluginData.FromString(data).experiment
    names = {h.name for h in info.hparam_infos}
    assert {"model", "data", "g_lr", "d_lr", "n_critic", "batch_size", "seed", "tags"} <= names
    assert not any(n.startswith(("callbacks", "paths", "trainer/")) for n in names)  # no callback internals
    assert {m.name.tag for m in info.metric_infos} >= {"train/d_loss", "train/g_loss"}  # the logged tags
    hparams = (finished_run / "tensorboard" / "hparams.yaml").read_text()
    assert "n_critic: 1" in hparams and "tags: baseline" in hparams
    images = acc.Tags()["images"]
    assert {"samples", "real"} <= set(images)
    png = acc.Images("samples")[-1]
    grid = 8 * (8 + 2) + 2, 10 * (8 + 2) + 2  # make_grid of 8 columns × 10 class rows of 8-px digits
    assert png.height == grid[1] + 14 and png.width > grid[0] + 20  # + the title strip and the row labels
    assert (finished_run / "samples" / "real.png").is_file()


def test_run_hparams_name_what_differs(make_cfg):
    cfg = make_cfg("model=wgan_gp", "+stabilizer=[ema,ttur]", "tags=[a,b]")
    values = run_hparams(cfg, {"model": "wgan_gp", "model/net": "dcgan", "data": "digits"})
    assert values["model"] == "wgan_gp" and values["n_critic"] == 5 and values["d_loss"] == "d_wasserstein"
    assert values["stabilizers"] == "gp(10.0),ema(0.999)" and (values["g_lr"], values["d_lr"]) == (1e-4, 4e-4)
    assert values["tags"] == "a,b"
    assert run_name("wgan_gp", "cifar10", ["lr sweep"]) == "wgan_gp-cifar10-lr_sweep"
    assert run_name("dcgan", "mnist_5k", None) == "dcgan-mnist_5k"


def test_annotate_adds_a_title_strip_and_row_label_margin():
    grid = torch.rand(3, 62, 122)
    shown = annotate(grid, "generator step 7", ["class 0", "class 1"], cell=30)
    assert shown.shape[1] == 62 + 14 and shown.shape[2] > 122
    assert torch.allclose(shown[:, 14:, -122:], grid, atol=1 / 255)  # the grid itself is untouched
    assert (shown[:, :14] < 0.5).any()  # some dark text in the title strip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_tensorboard_serves_the_dashboard_over_http(finished_run):
    """A real TensorBoard on the finished run: the plugins' HTTP API serves the layout, scalars, images, HPARAMS."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(finished_run),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--load_fast",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                runs = get(f"{base}/data/runs")
                if runs:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("TensorBoard did not serve the run within 60 s")
        plugins = get(f"{base}/data/plugins_listing")
        assert all(plugins[p]["enabled"] for p in ("scalars", "images", "custom_scalars", "hparams"))
        layout = get(f"{base}/data/plugin/custom_scalars/layout")
        titles = {chart["title"] for category in layout["category"] for chart in category["chart"]}
        assert set(LAYOUT["GAN"]) <= titles
        tags = get(f"{base}/data/plugin/scalars/tags")
        assert "train/D(G(z))" in tags["tensorboard"]
        assert "samples" in get(f"{base}/data/plugin/images/tags")["tensorboard"]
        experiment = get(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})
        assert "n_critic" in {h["name"] for h in experiment["hparamInfos"]}
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_mid_epoch_evaluation_is_one_point_at_its_step_and_leaves_the_training_rows_alone(tmp_path):
    """Evaluations at steps 4 and 8 of 10-step epochs: each val scalar is logged once, at its generator step, and
    every training row after it keeps its own step (in TensorBoard and in the CSV log)."""
    import csv

    from tests.conftest import compose_config

    cfg = compose_config(
        tmp_path,
        "model=gan",
        "model/net=mlp",
        "data=ring",
        "data.n_samples=640",
        "data.batch_size=64",
        "callbacks=modes",
        "callbacks.evaluation.every_n_steps=4",
        "callbacks.evaluation.n_samples=200",
        "trainer.max_steps=10",
        "trainer.log_every_n_steps=1",
        "logger=[tensorboard,csv]",
    )
    result = train(cfg)
    run = Path(cfg.paths.output_dir)
    acc = events(run)
    assert [e.step for e in acc.Scalars("val/modes_covered")] == [4, 8, 10]
    assert [e.step for e in acc.Scalars("train/g_loss")] == list(range(1, 11))
    (table,) = run.glob("csv/**/metrics.csv")
    rows = list(csv.DictReader(table.open()))
    train_rows = [r for r in rows if r["train/g_steps"]]
    assert [int(r["step"]) for r in train_rows] == [int(float(r["train/g_steps"])) for r in train_rows]
    assert [int(r["step"]) for r in rows if r["val/modes_covered"]] == [4, 8, 10]
    assert result["val/modes_covered"] == acc.Scalars("val/modes_covered")[-1].value  # what the run returns
