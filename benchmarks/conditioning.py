"""Does each conditional model draw the class it is asked for? Every G/D conditioning pair of ``model=cgan``
trained the same way, then judged by gan_lab's own domain classifier (right-class share, classifier-FID).

    python benchmarks/conditioning.py --classifier outputs/classifiers/mnist.ckpt            # every pair, 2,000 steps
    python benchmarks/conditioning.py --pairs cbn/projection concat/acgan --steps 500 --classifier …
    python benchmarks/conditioning.py --model biggan --pairs shared/projection --classifier …   # BigGAN's own nets

Without ``--classifier`` one is trained first on the run's data (``mnist_5k``, 3 epochs). Prints a Markdown table
and writes it to benchmarks/results/conditioning.md (or --results DIR).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, fit_and_score, markdown  # noqa: E402

from gan_lab.metrics import ClassifierFeatures  # noqa: E402

PAIRS = ["concat/concat", "concat/projection", "concat/acgan", "cbn/concat", "cbn/projection", "cbn/acgan"]


def judge(path: str | None, data: str, work: Path) -> ClassifierFeatures:
    if path is None:
        from common import ROOT
        from hydra import compose, initialize_config_dir

        from gan_lab.classifier import train_classifier

        path = str(work / "classifier.ckpt")
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(
                "classifier",
                overrides=[
                    f"data={data}",
                    "epochs=3",
                    f"output={path}",
                    "accelerator=cpu",
                    "progress_bar=false",
                    f"paths.log_dir={work}",
                ],
            )
        train_classifier(cfg)
    return ClassifierFeatures(path)


def run_pair(pair: str, args, work: Path, network: ClassifierFeatures) -> list:
    g, d = pair.split("/")
    model, results, seconds = fit_and_score(
        [
            f"model={args.model}",
            f"model.g_conditioning={g}",
            f"model.d_conditioning={d}",
            f"data={args.data}",
            f"trainer.max_steps={args.steps}",
            "trainer.max_epochs=-1",
            f"seed={args.seed}",
            f"paths.output_dir={work / pair.replace('/', '_')}",
            f"paths.log_dir={work}",
            *args.override,
        ],
        network,
        ["fid", "accuracy"],
        args.n,
    )
    name = pair if args.model == "cgan" else f"{args.model} {pair}"
    row = [name, results["accuracy"], results["fid"], model.g_steps, seconds]
    print(" | ".join(map(str, row)), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="cgan", help="a conditional model config: cgan (DCGAN nets) or biggan")
    parser.add_argument("--pairs", nargs="+", default=PAIRS, help="g_conditioning/d_conditioning pairs")
    parser.add_argument("--steps", type=int, default=2000, help="generator steps per pair")
    parser.add_argument("--data", default="mnist_5k")
    parser.add_argument(
        "--classifier", default=None, help="domain classifier checkpoint (python -m gan_lab.classifier)"
    )
    parser.add_argument("--n", type=int, default=5000, help="generated images judged per pair (classes in turn)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--override", nargs="*", default=[], help="extra config overrides for every pair")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        network = judge(args.classifier, args.data, work)
        rows = [run_pair(pair, args, work, network) for pair in args.pairs]
    table = markdown(
        f"Conditional pairs on {args.data}: {args.steps} generator steps, seed {args.seed}",
        ["G / D conditioning", "right-class share", "classifier-FID", "generator steps", "train s"],
        rows,
        notes=f"Judge: {network.name} ({args.classifier or 'trained here'}); {args.n} images, classes in turn; "
        f"FID against the test split in the judge's feature space. Overrides: {args.override or 'none'}.",
    )
    print(table)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"conditioning{'' if args.model == 'cgan' else '_' + args.model}.md").write_text(table)


if __name__ == "__main__":
    main()
