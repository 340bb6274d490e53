"""Image quality at a fixed CPU budget: each recipe trains for the same wall-clock time (``trainer.max_time``), then
its EMA/G samples are scored by FID/KID in the data's domain-classifier feature space, against the default DCGAN.

    python benchmarks/quality_cpu.py --data mnist --classifier outputs/classifiers/mnist.ckpt
    python benchmarks/quality_cpu.py --data folder --classifier outputs/classifiers/cifar10_jpg.ckpt \\
        --override data.root=<cifar10-test-jpg> +data.source.test_root=<cifar10-test-jpg> data.image_size=32
    python benchmarks/quality_cpu.py --recipes quality_cpu --max-time 00:00:05:00 ...   # one recipe (side by side)

A recipe is ``default`` (``python -m gan_lab`` with the data: DCGAN) or an ``experiment=`` name. Every run is
``trainer.max_steps=-1 trainer.max_epochs=-1 ++trainer.max_time=<budget>``, as the README's command. Prints a
Markdown table and writes it to benchmarks/results/quality_cpu_<data>.md (or --results DIR). Each run has one CPU
thread unless ``--threads`` says otherwise: more threads help the default's wider nets more than the recipe's
narrow ones (full MNIST at 2 threads per run: ratio 0.48, against 0.39–0.44 at one).
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


def run_recipe(recipe: str, args, work: Path, network: ClassifierFeatures) -> list:
    experiment = [] if recipe == "default" else [f"experiment={recipe}"]
    model, results, seconds = fit_and_score(
        [
            *experiment,
            f"data={args.data}",
            "trainer.max_steps=-1",
            "trainer.max_epochs=-1",
            f"++trainer.max_time={args.max_time}",
            f"seed={args.seed}",
            f"paths.output_dir={work / recipe}",
            f"paths.log_dir={work}",
            *args.override,
        ],
        network,
        ["fid", "kid"],
        args.n,
    )
    row = [recipe, results["fid"], results["kid"], model.g_steps, seconds]
    print(" | ".join(map(str, row)), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--recipes", nargs="+", default=["default", "quality_cpu"])
    parser.add_argument("--max-time", default="00:00:05:00", help="DD:HH:MM:SS of training per recipe")
    parser.add_argument("--classifier", required=True, help="the data's classifier (python -m gan_lab.classifier)")
    parser.add_argument("--n", type=int, default=10000, help="generated images scored per recipe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--override", nargs="*", default=[], help="extra config overrides for every recipe")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads per run (1: the budget is one core's time, as the README's figures)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    network = ClassifierFeatures(args.classifier)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run_recipe(recipe, args, Path(tmp), network) for recipe in args.recipes]
    base = next((r[1] for r in rows if r[0] == "default"), None)
    for row in rows:
        row.insert(2, "" if base is None else row[1] / base)
    table = markdown(
        f"Image quality at {args.max_time} of CPU training on {args.data}, seed {args.seed}",
        ["recipe", "classifier-FID", "FID / default's", "KID", "generator steps", "train s"],
        rows,
        notes=f"Features: {network.name} ({args.classifier}); {args.n} generated images against the test split "
        f"(EMA weights where the recipe keeps them). Overrides: {args.override or 'none'}. "
        f"{torch.get_num_threads()} CPU threads per run.",
    )
    print(table)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"quality_cpu_{args.data}.md").write_text(table)


if __name__ == "__main__":
    main()
