"""A Hydra callback that ends every multirun (grid, Optuna, SLURM) with one table of all its trials."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf


def collect_trials(sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per finished trial: its overrides and the final metrics it wrote to ``metrics.json``."""
    rows = []
    for metrics_file in sorted(
        sweep_dir.glob("*/metrics.json"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else p.parent.name
    ):
        run = metrics_file.parent
        overrides = OmegaConf.load(run / ".hydra" / "overrides.yaml") if (run / ".hydra").is_dir() else []
        rows.append({"trial": run.name, "overrides": " ".join(overrides), **json.loads(metrics_file.read_text())})
    return rows


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by a file holding ``text`` in one step: a reader (or a second sweep writing into the same
    folder) sees the old whole file or the new whole file, never a mix or a truncated one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_summary(sweep_dir: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    csv_path, md_path = sweep_dir / "summary.csv", sweep_dir / "summary.md"
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(csv_path, table.getvalue())

    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    write_atomically(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path


class SweepSummary(Callback):
    """At the end of a multirun, write ``summary.csv`` and ``summary.md`` in the sweep folder."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = collect_trials(sweep_dir)
        if rows:
            csv_path, md_path = write_summary(sweep_dir, rows)
            print(f"\n{len(rows)} trials: {md_path} and {csv_path}\n{md_path.read_text()}")
