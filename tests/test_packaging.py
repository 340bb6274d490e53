"""Packaging: the configs ship inside the package, console commands exist, and a wheel (not the editable
checkout) trains from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

from tests.conftest import ROOT


def test_package_list_names_every_package_and_config_folder():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    code = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "gan_lab").rglob("__init__.py")}
    conf = {".".join(("gan_lab", *p.relative_to(ROOT).parts)) for p in (ROOT / "conf").rglob("*") if p.is_dir()}
    assert listed == code | conf | {"gan_lab.conf"}, "update [tool.setuptools] packages in pyproject.toml"


def test_console_commands_point_at_entry_points():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"gan-lab", "gan-lab-evaluate", "gan-lab-generate", "gan-lab-latent"} <= set(scripts)
    for target in scripts.values():
        module, name = target.split(":")
        assert callable(getattr(__import__(module, fromlist=[name]), name)), target


def test_wheel_installed_elsewhere_trains_from_any_folder(tmp_path):
    """Build the wheel, install it (no editable link to the checkout) into a folder of its own, and train with
    its `gan-lab` command from a folder that holds no conf/: the configs come from inside the package."""
    wheels, site, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(wheels.glob("gan_lab-*.whl"))
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert (site / "gan_lab" / "conf" / "train.yaml").is_file()
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import gan_lab.cli as c; print(c.__file__, c.CONFIG_DIR)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
    )
    assert where.stdout.split() == [str(site / "gan_lab" / "cli.py"), str(site / "gan_lab" / "conf")]
    run = subprocess.run(
        [str(site / "bin" / "gan-lab"), "data=digits", "trainer.max_steps=2", "callbacks.model_summary=null"],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert list(work.glob("outputs/*/*_dcgan-digits/checkpoints/last.ckpt"))
    assert (
        "usage"
        in subprocess.run(
            [str(site / "bin" / "gan-lab"), "--help"], capture_output=True, text=True, env=env, cwd=work
        ).stdout.lower()
    )
