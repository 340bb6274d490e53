"""Running the command-line entry points as a user does, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import QUIET, ROOT


def run_cli(tmp_path, *overrides: str, module: list[str] | None = None) -> subprocess.CompletedProcess:
    """``python -m gan_lab`` (quiet, runs under tmp_path) + overrides, or ``python -m <module...>`` + overrides."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    if module is None or module == ["gan_lab"]:
        cmd = [sys.executable, "-m", "gan_lab", f"paths.log_dir={tmp_path}", *QUIET, *overrides]
    else:
        cmd = [sys.executable, "-m", *module, *overrides]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
