"""Running the command-line entry points as a user does, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import QUIET, ROOT


def run_cli(tmp_path, *overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    cmd = [sys.executable, "-m", "gan_lab", f"paths.log_dir={tmp_path}", *QUIET, *overrides]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
