"""``python -m gan_lab --help``: gan_lab's own help, read from the config files without importing torch (< 2 s)."""

from __future__ import annotations

from pathlib import Path

CONF = next(p for p in (Path(__file__).resolve().parent / "conf", Path(__file__).resolve().parents[1] / "conf")
            if p.is_dir())  # the checkout's conf/, or the one inside an installed wheel
GROUPS = ("model", "model/net", "data", "trainer", "logger", "callbacks", "stabilizer", "remedy", "features",
          "experiment", "hparams_search", "debug")
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


def help_text(conf: Path = CONF) -> str:
    lines = ["usage: python -m gan_lab [group=option ...] [key=value ...] [-m for sweeps]", "",
             "Train a GAN (PyTorch Lightning + Hydra). Runs go to outputs/<date>/<time>_<model>-<data>/ "
             "(samples, checkpoints, TensorBoard).", "", EXAMPLES, "config groups (group=option):"]
    for group in GROUPS:
        folder = conf / group
        if not folder.is_dir():
            continue
        lines.append(f"  {group}:")
        for path in sorted(folder.glob("*.yaml")):
            lines.append(f"    {path.stem:<22} {describe(path)}")
    lines += ["", "other options: seed=0, verbose=true (framework tips and warnings), ckpt_path=<ckpt> (resume);",
              "python -m gan_lab --cfg job shows every key; --hydra-help shows Hydra's own help.",
              "documentation: docs/ in the source tree (make docs builds the site; make docs-serve serves it)."]
    return "\n".join(lines)
