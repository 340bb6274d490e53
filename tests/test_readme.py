"""Every command the README and the documentation show composes as written, so neither can rot.

Convention: a command is a line inside a ``` code block, or an inline `code` span, that starts with
``python -m gan_lab``, ``.venv/bin/python -m gan_lab`` or ``make `` (a trailing ``# comment`` is ignored), in
README.md or any page under docs/. Each distinct command is composed here with its placeholders filled
(``ckpt=…``, ``<run>``, ``model=…`` = a conditional model), or listed in NOT_COMPOSED with the reason (make
targets, GPU/cluster-only launchers); ``tests/test_readme_runs.py`` then runs each one.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PREFIXES = ("python -m gan_lab", ".venv/bin/python -m gan_lab", "make ")
CONFIG_OF = {  # module -> config name (latent: latent/<subcommand>)
    "gan_lab": "train",
    "gan_lab.classifier": "classifier",
    "gan_lab.evaluate": "evaluate",
    "gan_lab.generate": "generate",
    "gan_lab.text_encoder": "text_encoder",
}
FILL = {
    "model=…": "model=cgan",
    "…": "outputs/run/checkpoints/last.ckpt",
    "<run>": "outputs/run",
    "/path/to/images": "images",
    "<stage-I run>": "outputs/stackgan",
}

# Commands that are not composed here, with the reason (every other README command is composed).
NOT_COMPOSED = {
    "make install": "creates the venv (network)",
    "make test": "runs the suite itself",
    "python -m gan_lab -m hydra/launcher=slurm trainer=gpu model=dcgan,wgan_gp": "SLURM cluster only",
}


DOCS = sorted((ROOT / "docs").rglob("*.md"))
SOURCES = [README, *DOCS]  # where commands are read from
INLINE = re.compile(r"`((?:\.venv/bin/)?python -m gan_lab[^`]*|make [^`]*)`")


def commands_in(text: str) -> list[tuple[str, str]]:
    """(command, the line it is on) for every command of a Markdown text: code-block lines and inline spans."""
    found, in_block = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            command = line.split("  #")[0].split(" # ")[0].strip()
            if command.startswith(PREFIXES):
                found.append((command, line))
        else:
            found += [(span.strip(), line) for span in INLINE.findall(line)]
    return found


def readme_commands() -> list[str]:
    """Every distinct command of the README and the docs, in order of first appearance."""
    commands: dict[str, None] = {}
    for path in SOURCES:
        commands.update((command, None) for command, _ in commands_in(path.read_text()))
    return list(commands)


def command_overrides(command: str, fill: dict[str, str]) -> tuple[str, list[str]]:
    """(config name, overrides) of a README command, its placeholders replaced by ``fill`` (the first value of
    each sweep; Hydra's own flags dropped)."""
    for old, new in fill.items():
        command = command.replace(old, new)
    argv = shlex.split(command.removeprefix(".venv/bin/"))[2:]  # drop "python -m"
    module, args = argv[0], [a for a in argv[1:] if a != "-m"]
    if "--cfg" in args:  # `--cfg job`: the flag and its value are Hydra's, not overrides
        i = args.index("--cfg")
        del args[i : i + 2]
    args = [a for a in args if not a.startswith("--")]  # --help (tested in test_console.py)
    config = f"latent/{args.pop(0)}" if module == "gan_lab.latent" else CONFIG_OF[module]
    overrides = []
    for arg in args:
        key, _, value = arg.partition("=")
        if "," in value and not value.startswith("["):  # a sweep: compose its first value
            value = value.split(",")[0]
        overrides.append(f"{key}={value}")
    return config, overrides


def compose_command(command: str):
    """The Hydra config `command` builds (the first value of each sweep); composing writes nothing."""
    config, overrides = command_overrides(command, FILL)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config, overrides=overrides, return_hydra_config=True)


COMMANDS = readme_commands()


def test_readme_has_commands():
    assert len(COMMANDS) >= 60, COMMANDS
    assert len(commands_in(README.read_text())) >= 20  # the README shows the main commands itself
    assert any(c.startswith("python -m gan_lab.evaluate") for c in COMMANDS)


def test_every_readme_command_is_covered():
    for name in NOT_COMPOSED:
        assert name in COMMANDS, f"NOT_COMPOSED lists {name!r}, which the README no longer shows"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in NOT_COMPOSED and not c.startswith("make ")])
def test_readme_command_composes(command):
    cfg = compose_command(command)
    assert cfg is not None


def test_readme_make_targets_exist():
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
    for command in COMMANDS:
        if command.startswith("make "):
            assert command.split()[1] in targets, command


def test_classifier_on_default_data_serves_features_classifier(tmp_path):
    """`python -m gan_lab.classifier` on the default data writes mnist_5k.ckpt; features=classifier expects
    mnist.ckpt: the same-domain file is used, and with neither the error says which command makes one."""
    from gan_lab.errors import CheckpointError
    from gan_lab.metrics.classifier import resolve_classifier_path

    with pytest.raises(CheckpointError, match="python -m gan_lab.classifier"):
        resolve_classifier_path(tmp_path / "mnist.ckpt")
    (tmp_path / "mnist_5k.ckpt").write_bytes(b"x")
    assert resolve_classifier_path(tmp_path / "mnist.ckpt") == tmp_path / "mnist_5k.ckpt"
    (tmp_path / "mnist.ckpt").write_bytes(b"x")
    assert resolve_classifier_path(tmp_path / "mnist.ckpt") == tmp_path / "mnist.ckpt"


def test_readme_points_at_no_test_data_folder():
    for path in [*SOURCES, *(ROOT / "conf").rglob("*.yaml"), *(ROOT / "gan_lab").rglob("*.py")]:
        assert "../shared" not in path.read_text(), path


def test_gpu_only_readme_commands_are_marked():
    for path in SOURCES:
        for command, line in commands_in(path.read_text()):
            if re.search(r"trainer=(gpu|ddp)|launcher=slurm", command):
                assert "GPU" in line or "cluster" in line, f"mark the GPU-only command in {path.name}: {line}"
