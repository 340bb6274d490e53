"""Compose the real Hydra config for tests: CPU, tiny runs, outputs in tmp_path, real data only (offline)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
# image models on any data; the text-to-image ones (captioned data, a Stage-I checkpoint) fit in test_stackgan.py
MODELS = sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml") if not p.stem.startswith("stackgan"))

QUIET = [
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "+trainer.enable_progress_bar=false",
    "+trainer.enable_model_summary=false",
    "trainer.log_every_n_steps=1",
]


def run_benchmark(script: str, *args: str, timeout: int = 600) -> str:
    """Run benchmarks/<script> as a user does; its stdout (fails the test with its stderr)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def table_rows(text: str) -> list[list[str]]:
    """The cells of a benchmark table's rows (Markdown), without the separator and the "| model"/"| data" headers."""
    lines = [
        line
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| model") and not line.startswith("| data")
    ]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def compose_config(tmp_path: Path, *overrides: str) -> DictConfig:
    """The training config as `python -m gan_lab <overrides>` would build it, writing under tmp_path."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(
            "train",
            overrides=[
                "data=digits",
                "trainer.max_steps=3",
                f"paths.output_dir={tmp_path / 'run'}",
                f"paths.data_dir={tmp_path / 'data'}",
                f"paths.log_dir={tmp_path / 'outputs'}",  # e.g. the feature cache: never the checkout's outputs/
                *QUIET,
                *overrides,
            ],
        )


@pytest.fixture
def make_cfg(tmp_path):
    return lambda *overrides: compose_config(tmp_path, *overrides)


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """A writable copy of the real MNIST files from ../shared/data (torchvision extracts next to them)."""
    src = SHARED_DATA / "MNIST"
    if not src.is_dir():
        pytest.skip(f"real MNIST files not found at {src}")
    root = tmp_path_factory.mktemp("mnist")
    shutil.copytree(src, root / "MNIST")
    return root


@pytest.fixture(scope="session")
def cifar_folder(tmp_path_factory) -> Path:
    """40 real CIFAR-10 test JPEGs of each of 3 classes, as an ImageFolder tree."""
    src = SHARED_DATA / "cifar10-test-jpg"
    if not src.is_dir():
        pytest.skip(f"real CIFAR-10 JPEGs not found at {src}")
    root = tmp_path_factory.mktemp("cifar")
    for cls in sorted(p.name for p in src.iterdir())[:3]:
        (root / cls).mkdir()
        for f in sorted((src / cls).iterdir())[:40]:
            shutil.copy(f, root / cls / f.name)
    return root


@pytest.fixture(scope="session")
def digits_classifier(tmp_path_factory):
    from gan_lab.classifier import train_classifier

    out = tmp_path_factory.mktemp("classifier") / "digits.ckpt"
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "classifier",
            overrides=[
                "data=digits",
                "epochs=3",
                f"output={out}",
                "accelerator=cpu",
                "progress_bar=false",
                f"paths.data_dir={out.parent}",
            ],
        )
    result = train_classifier(cfg)
    return out, result
