"""``python -m gan_lab --help``: gan_lab's own help, read from the config files without importing torch (< 2 s)."""

from __future__ import annotations

from pathlib import Path

from gan_lab.cli import CONFIG_DIR

CONF = Path(CONFIG_DIR)
NOT_GROUPS = ("hydra", "latent")  # Hydra's own settings; the latent commands' configs (python -m gan_lab.latent)
EXAMPLES = """\
examples:
  python -m gan_lab                                   # DCGAN on 5,000 embedded MNIST digits, on the CPU
  python -m gan_lab trainer.max_steps=50              # stop after 50 generator steps
  python -m gan_lab model=wgan_gp data=digits         # another model / data set
  python -m gan_lab model=dcgan +stabilizer=[ttur,ema]  # stabilisers compose with any model
  python -m gan_lab -m model=dcgan,wgan_gp            # a sweep: one run folder per trial
  python -m gan_lab --cfg job                         # print the composed config and stop
  python -m gan_lab.evaluate ckpt=<run>/checkpoints/last.ckpt   # FID + KID of a run
  python -m gan_lab.generate ckpt=<run>/checkpoints/last.ckpt n=64
"""


def describe(path: Path, width: int = 88) -> str:
    """The first comment line of a config file (its one-line description)."""
    for line in path.read_text().splitlines():
        if line.startswith("#") and "@package" not in line:
            text = line.lstrip("# ").strip()
            return text if len(text) <= width else text[: width - 1] + "…"
    return ""


def groups(conf: Path = CONF) -> list[str]:
    """Every config group of training (``group=option``): each folder of ``conf`` with options in it, but Hydra's
    own, the latent commands' and the shared ``base`` configs."""
    folders = (p for p in sorted(conf.rglob("*")) if p.is_dir() and any(p.glob("*.yaml")))
    names = (p.relative_to(conf).as_posix() for p in folders)
    return [n for n in names if n.split("/")[0] not in NOT_GROUPS and n.split("/")[-1] != "base"]


def help_text(conf: Path = CONF) -> str:
    lines = [
        "usage: python -m gan_lab [group=option ...] [key=value ...] [-m for sweeps]",
        "",
        "Train a GAN (PyTorch Lightning + Hydra). Runs go to outputs/<date>/<time>_<model>-<data>/ "
        "(samples, checkpoints, TensorBoard).",
        "",
        EXAMPLES,
        "config groups (group=option):",
    ]
    for group in groups(conf):
        folder = conf / group
        lines.append(f"  {group}:")
        for path in sorted(folder.glob("*.yaml")):
            lines.append(f"    {path.stem:<22} {describe(path)}")
    lines += [
        "",
        "other options: seed=0, verbose=true (framework tips and warnings), ckpt_path=<ckpt> (resume);",
        "python -m gan_lab --cfg job shows every key; --hydra-help shows Hydra's own help.",
        "documentation: docs/ in the source tree (make docs builds the site; make docs-serve serves it).",
    ]
    return "\n".join(lines)
