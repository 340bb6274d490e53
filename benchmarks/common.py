"""Helpers shared by the benchmark scripts: composing gan_lab configs, memory readings, Markdown tables."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


# a training run without its console output, sample grids or loggers: for runs a benchmark trains and then scores
QUIET = [
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "callbacks.samples=null",
    "+trainer.enable_progress_bar=false",
    "+trainer.enable_model_summary=false",
    "logger=[]",
]


def config(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def fit_and_score(overrides: list[str], network, metrics: list[str], n: int):
    """Train the run ``overrides`` compose (quietly), then score n of its images with ``evaluate_generator``
    (seed 1): (model, results, training seconds)."""
    from gan_lab.metrics import evaluate_generator
    from gan_lab.training import build

    model, datamodule, trainer = build(config(*QUIET, *overrides))  # the caller's overrides last: they win
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    seconds = time.perf_counter() - start
    results, _ = evaluate_generator(model, datamodule, network, metrics, n_samples=n, seed=1)
    return model, results, seconds


def rss_mib() -> float:
    """Resident memory of this process now (Linux /proc), MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} · torch {torch.__version__}"
    return f"{platform.processor() or platform.machine()} · {os.cpu_count()} CPU threads · torch {torch.__version__}"


def markdown(title: str, header: list[str], rows: list[list], notes: str = "") -> str:
    def cell(v) -> str:
        if not isinstance(v, float):
            return str(v)
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:#.3g}"  # 472,090 · 10.3 · 0.997

    lines = [
        f"## {title}",
        "",
        f"Machine: {machine()}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines + (["", notes] if notes else [])) + "\n"
