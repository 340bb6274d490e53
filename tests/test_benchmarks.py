"""The benchmark scripts run end to end on tiny settings and write their tables (speed is not asserted here: the
figures live in benchmarks/results/, from `make bench`)."""

from __future__ import annotations

import math

import pytest

from tests.conftest import run_benchmark as run
from tests.conftest import table_rows


def test_throughput_table_has_both_loops_and_their_paired_ratio(tmp_path):
    run(
        "throughput.py",
        "--models",
        "DCGAN 28×28×1 width 2",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--rounds",
        "2",
        "--results",
        str(tmp_path),
    )
    (row,) = table_rows((tmp_path / "throughput_cpu_32-true.md").read_text())
    name, batch, steps, lab, plain, ratio, spread, extra_ms, *memory = row
    assert (name, batch, steps) == ("DCGAN 28×28×1 width 2", "64", "3")
    assert float(lab) > 0 and float(plain) > 0 and float(ratio) > 0 and math.isfinite(float(extra_ms))
    low, high = map(float, spread.split("–"))
    assert low <= float(ratio) <= high  # the median of the paired ratios lies within their range
    assert all(float(m.replace(",", "")) > 0 for m in memory)


def test_throughput_times_stackgan_against_its_own_hand_written_loop(tmp_path):
    run(
        "throughput.py",
        "--models",
        "StackGAN Stage-I 32×32×3",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--rounds",
        "1",
        "--results",
        str(tmp_path),
    )
    (row,) = table_rows((tmp_path / "throughput_cpu_32-true.md").read_text())
    assert row[0] == "StackGAN Stage-I 32×32×3" and float(row[3]) > 0 and float(row[4]) > 0


def test_data_path_table_covers_both_pipelines_on_both_data_sets(tmp_path, mnist_root, cifar_folder):
    run(
        "data_path.py",
        "--mnist-root",
        str(mnist_root),
        "--cifar-folder",
        str(cifar_folder),
        "--images",
        "64",
        "--workers",
        "0",
        "--results",
        str(tmp_path),
    )
    rows = table_rows((tmp_path / "data_path.md").read_text())
    assert [(r[0].split()[0], r[1].split(",")[0]) for r in rows] == [
        ("MNIST", "torchvision per-sample PIL"),
        ("MNIST", "gan_lab in-memory uint8 tensor"),
        ("CIFAR-10", "torchvision per-sample PIL"),
        ("CIFAR-10", "gan_lab in-memory uint8 tensor"),
    ]
    assert all(float(r[3].replace(",", "")) > 0 for r in rows)


def test_quality_cpu_table_scores_each_recipe_after_the_same_wall_clock_budget(tmp_path, digits_classifier):
    path, _ = digits_classifier
    run(
        "quality_cpu.py",
        "--data",
        "digits",
        "--classifier",
        str(path),
        "--max-time",
        "00:00:00:03",
        "--n",
        "200",
        "--override",
        "model.generator.width=8",
        "model.discriminator.width=8",
        f"paths.data_dir={tmp_path}",
        "--results",
        str(tmp_path),
    )
    rows = table_rows((tmp_path / "quality_cpu_digits.md").read_text())[1:]  # after the header
    assert [r[0] for r in rows] == ["default", "quality_cpu"] and rows[0][2] == "1.00"
    for recipe, fid, ratio, kid, steps, seconds in rows:
        assert float(fid) > 0 and float(ratio) == pytest.approx(float(fid) / float(rows[0][1]), rel=0.01)
        assert int(steps.replace(",", "")) > 0 and 2.5 < float(seconds) < 60  # stopped by max_time


def test_mode_collapse_study_scores_stacked_mnist_by_kl_beside_the_published_rows(tmp_path, digits_classifier):
    """The Stacked-MNIST rows of the study (tiny: 4 steps, 500 samples, the digits classifier per channel)."""
    path, _ = digits_classifier
    run(
        "mode_collapse.py",
        "--recipes",
        "stacked_mnist_dcgan",
        "stacked_mnist_best",
        "--data",
        "stacked_mnist",
        "--seeds",
        "0",
        "--results",
        str(tmp_path),
        "--overrides",
        "trainer.max_steps=4",
        "data.source.size=512",
        "callbacks.evaluation.n_samples=500",
        "callbacks.evaluation.every_n_steps=2",
        f"features.checkpoint={path}",
        "model.generator.width=8",
        "model.discriminator.width=8",
        f"paths.data_dir={tmp_path}",
    )
    text = (tmp_path / "mode_collapse_stacked_mnist.md").read_text()
    rows = {(r[0], r[1]): r for r in table_rows(text) if len(r) != 3}
    curves = {r[1]: r[2] for r in table_rows(text) if len(r) == 3}  # mean KL at the evaluated steps
    assert curves["stacked_mnist_best"].split(" · ")[-1].startswith("4: ")  # ends at the last evaluated step
    for recipe in ("stacked_mnist_dcgan", "stacked_mnist_best"):
        data, name, seed, steps, modes, kl, met, seconds = rows[("stacked_mnist", recipe)]
        covered, total = map(float, modes.split("/"))
        assert steps == "4" and total == 1000 and 1 <= covered <= 500  # 500 samples hit at most 500 modes
        assert 0 <= float(kl.removeprefix("KL ")) <= math.log(1000) + 1e-3  # printed to 3 decimals
        assert met == ("yes" if covered == 1000 and float(kl.removeprefix("KL ")) <= 0.05 else "no")
    assert "PacDCGAN2" in text and "| stacked_mnist | gan_lab stacked_mnist_best (1 seeds)" in text
    floor = rows[("stacked_mnist", "a perfect uniform sampler (the floor), 26,000 samples")]
    assert 0.018 < float(floor[3].removeprefix("KL ").split(" ±")[0]) < 0.021  # ≈ (1000 − 1) / (2 · 26,000)


@pytest.mark.slow  # two spawned processes, each importing Lightning and composing a config
def test_mode_collapse_study_trains_seeds_in_parallel_workers(tmp_path):
    """--workers 2: both seeds of the ring trained in two processes, each row in the table, in job order."""
    run(
        "mode_collapse.py",
        "--recipes",
        "mode_collapse_best",
        "--data",
        "ring",
        "--seeds",
        "0",
        "1",
        "--workers",
        "2",
        "--results",
        str(tmp_path),
        "--overrides",
        "trainer.max_steps=4",
        "callbacks.evaluation.every_n_steps=2",
        "callbacks.evaluation.n_samples=200",
    )
    rows = [r for r in table_rows((tmp_path / "mode_collapse.md").read_text()) if r[1] == "mode_collapse_best"]
    assert [(r[0], r[2], r[3], r[4].split("/")[1]) for r in rows] == [("ring", "0", "4", "8"), ("ring", "1", "4", "8")]
