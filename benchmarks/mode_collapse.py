"""Mode-collapse study: recipes × data × seeds, final modes covered and high-quality share (2-D mixtures: 2,500
samples, 3σ rule) or KL to uniform (Stacked MNIST: 26,000 samples, the MNIST classifier per channel), both by
gan_lab.metrics via the evaluation callback, printed beside the published rows.

    python benchmarks/mode_collapse.py --recipes mode_collapse mode_collapse_best --data ring grid --seeds 0 1 2
    python benchmarks/mode_collapse.py --recipes mode_collapse_best --data ring grid --seeds 0 1 2 3 4 --workers 16
    python benchmarks/mode_collapse.py --recipes stacked_mnist_dcgan stacked_mnist_best --data stacked_mnist --seeds 0
    make bench-modes / make bench-stacked-mnist

Each run is ``python -m gan_lab experiment=<recipe> data=<data> seed=<seed>`` (plus ``--overrides``); the figure
is the evaluation at the last generator step. ``--workers N`` trains N runs at once, each in its own process with
one thread each (``GAN_LAB_RUNS_TOGETHER=N``: gan_lab's thread policy gives each run cores / N threads); use one
worker per core. The study drops what it would throw away (checkpoints, scatter plots) and logs every 100 steps;
the training itself is the recipe's. A seed "meets the target" with all modes and high quality ≥ 97 %
(ring) / 95 % (grid) or KL ≤ 0.05 (Stacked MNIST): the bar set by the best published rows (PacGAN).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, config, markdown  # noqa: E402
from gan_lab.threads import RUNS_TOGETHER, usable_cores  # noqa: E402

# Published figures: modes covered, high-quality share (%) (2-D, 2,500 samples, 3σ rule) or KL to uniform (Stacked
# MNIST, 26,000 samples), from the PacGAN and VEEGAN papers (DCGAN's Stacked-MNIST row: VEEGAN's Table 2).
PUBLISHED = {
    "ring": [
        ("VEEGAN (Srivastava et al., NeurIPS 2017)", "8", "52.9"),
        ("PacGAN (Lin et al., NeurIPS 2018), best rows", "7.9", "95.6–97.7"),
    ],
    "grid": [
        ("VEEGAN (Srivastava et al., NeurIPS 2017)", "24.6", "40.0"),
        ("PacGAN (Lin et al., NeurIPS 2018), best row", "24.8", "93.6"),
    ],
    "stacked_mnist": [
        ("DCGAN (as reported by VEEGAN, Srivastava et al., NeurIPS 2017)", "99", "KL 3.40"),
        ("VEEGAN (Srivastava et al., NeurIPS 2017)", "150", "KL 2.95"),
        ("PacGAN (Lin et al., NeurIPS 2018), PacDCGAN2", "1000", "KL 0.06"),
    ],
}
TARGET_HQ = {"ring": 0.97, "grid": 0.95}
TARGET_KL = 0.05  # Stacked MNIST
# what a study run would write and then delete with its temporary folder: no effect on the training
STUDY = [
    "logger=csv",
    "trainer.log_every_n_steps=100",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "+trainer.enable_progress_bar=false",
    "+trainer.enable_model_summary=false",
    "callbacks.samples=null",
    "callbacks.best_checkpoint=null",
]
SAMPLING = {"drs": "DRS sampling", "dot": "DOT sampling"}  # refined by the trained D (gan_lab.metrics.refined)


def uniform_kl_floor(num_modes: int = 1000, n: int = 26_000, draws: int = 200) -> tuple[float, float]:
    """Mean ± std of KL(p̂ ‖ uniform) for a perfect uniform sampler's n samples (≈ (K − 1) / 2n: 0.019 for
    Stacked MNIST's 1,000 modes and 26,000 samples): no recipe's measured KL can be expected below it."""
    import torch

    from gan_lab.metrics.toy import mode_histogram_stats

    g = torch.Generator().manual_seed(0)
    kls = torch.tensor(
        [
            mode_histogram_stats(torch.randint(num_modes, (n,), generator=g), num_modes)["kl_to_uniform"]
            for _ in range(draws)
        ]
    )
    return kls.mean().item(), kls.std().item()


def quality(r: dict) -> str:
    """The second figure of a row: high-quality share (%) for the 2-D mixtures, KL to uniform for Stacked MNIST."""
    return f"KL {r['kl']:.3f}" if "kl" in r else f"{100 * r['hq']:.1f}"


def target_met(r: dict, data: str) -> bool:
    if r["modes"] != r["num_modes"]:
        return False
    return r["kl"] <= TARGET_KL if "kl" in r else r["hq"] >= TARGET_HQ.get(data, 0.0)


def run(recipe: str, data: str, seed: int, overrides: list[str], out: Path, sampling: list[str]) -> dict:
    from gan_lab.training import train

    # last.ckpt only when refined sampling reads the trained D back from it
    checkpoint = "callbacks.model_checkpoint.save_top_k=0" if sampling else "callbacks.model_checkpoint=null"
    cfg = config(
        f"experiment={recipe}",
        f"data={data}",
        f"seed={seed}",
        f"paths.output_dir={out}",
        *STUDY,
        checkpoint,
        *overrides,
    )
    start = time.perf_counter()
    metrics = train(cfg)
    second = (
        {"kl": float(metrics["val/kl_to_uniform"])}
        if "val/kl_to_uniform" in metrics
        else {"hq": float(metrics["val/high_quality"])}
    )
    result = {
        "modes": float(metrics["val/modes_covered"]),
        "num_modes": float(metrics["val/num_modes"]),
        **second,
        "seconds": time.perf_counter() - start,
        "steps": int(metrics["train/g_steps"]),
        "curve": curve(out / "csv" / "metrics.csv", "val/kl_to_uniform" if "kl" in second else "val/high_quality"),
    }
    return result | {method: refined(out, method, result["steps"]) for method in sampling}


def curve(csv_file: Path, column: str) -> dict[int, float]:
    """{generator step: value} of an evaluated metric, read back from the run's CSV log."""
    with csv_file.open() as f:
        rows = [r for r in csv.DictReader(f) if r.get(column)]
    return {int(r["step"]): float(r[column]) for r in reversed(rows)}  # the first row of each step wins


def curves(data: str, recipe: str, runs: list[dict], points: int = 8) -> list:
    """One table row: the seeds' mean of the metric at ``points`` evaluated steps spread over the run."""
    steps = sorted(set.intersection(*(set(r["curve"]) for r in runs)))
    picked = sorted({steps[round(i * (len(steps) - 1) / (points - 1))] for i in range(points)}) if steps else []
    kl = "kl" in runs[0]
    means = [statistics.mean((1 if kl else 100) * r["curve"][s] for r in runs) for s in picked]
    return [data, recipe, " · ".join(f"{s}: {m:.3f}" if kl else f"{s}: {m:.1f}" for s, m in zip(picked, means))]


def refined(out: Path, method: str, steps: int) -> dict:
    """Modes and high-quality share of the run's last checkpoint with samples refined by its D (2-D mixtures: the
    2,500-sample 3σ rule of the plain row), and DRS's acceptance rate."""
    from gan_lab.checkpoints import load_run
    from gan_lab.metrics import evaluate_generator

    model, datamodule, g_steps = load_run(out / "checkpoints" / "last.ckpt")
    if g_steps != steps:
        raise RuntimeError(f"last.ckpt holds generator step {g_steps}, not the run's last ({steps})")
    scores, protocol = evaluate_generator(
        model, datamodule, metrics=["coverage"], n_samples=2500, sampling={"method": method}
    )
    return {
        "modes": scores["modes_covered"],
        "num_modes": scores["num_modes"],
        "hq": scores["high_quality"],
        "accepted": protocol.get("drs_acceptance"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=["mode_collapse", "mode_collapse_best"])
    parser.add_argument("--data", nargs="+", default=["ring", "grid"])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--overrides", nargs="*", default=[], help="extra config overrides for every run")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--sampling",
        nargs="*",
        default=[],
        choices=sorted(SAMPLING),
        help="also score each 2-D run with samples refined by its D (rows of their own beside plain sampling)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=usable_cores(),
        help="runs trained at once, one process each (default: one per usable core)",
    )
    args = parser.parse_args()
    if args.sampling and not set(args.data) <= {"ring", "grid"}:
        parser.error("--sampling scores the 2-D mixtures (--data ring grid)")

    jobs = [(recipe, data, seed) for data in args.data for recipe in args.recipes for seed in args.seeds]
    args.workers = max(1, min(args.workers, len(jobs)))
    os.environ[RUNS_TOGETHER] = str(args.workers)  # each run's thread policy: usable cores / workers threads
    per_seed, summary, curve_rows = [], [], []
    with (
        tempfile.TemporaryDirectory() as tmp,
        ProcessPoolExecutor(args.workers, multiprocessing.get_context("spawn")) as pool,
    ):
        futures = {
            job: pool.submit(run, *job, args.overrides, Path(tmp) / "-".join(map(str, job)), args.sampling)
            for job in jobs
        }
        for data in args.data:
            for recipe in args.recipes:
                runs, runs_refined = [], {}
                for seed in args.seeds:
                    r = futures[recipe, data, seed].result()
                    met = target_met(r, data)
                    runs.append(r | {"met": met})
                    per_seed.append(
                        [
                            data,
                            recipe,
                            seed,
                            r["steps"],
                            f"{r['modes']:.0f}/{r['num_modes']:.0f}",
                            quality(r),
                            "yes" if met else "no",
                            f"{r['seconds']:.0f}",
                        ]
                    )
                    print("| " + " | ".join(map(str, per_seed[-1])) + " |", flush=True)
                    for method in args.sampling:
                        m = r[method] | {"met": target_met(r[method], data)}
                        runs_refined.setdefault(method, []).append(m)
                        accepted = f" (accepted {100 * m['accepted']:.0f} %)" if m["accepted"] is not None else ""
                        per_seed.append(
                            [
                                data,
                                f"{recipe}, {SAMPLING[method]}",
                                seed,
                                r["steps"],
                                f"{m['modes']:.0f}/{r['num_modes']:.0f}",
                                quality(m) + accepted,
                                "yes" if m["met"] else "no",
                                "",
                            ]
                        )

                curve_rows.append(curves(data, recipe, runs))

                def ms(values: list[float]) -> str:
                    sd = statistics.stdev(values) if len(values) > 1 else 0.0
                    return f"{statistics.mean(values):.2f} ± {sd:.2f}"

                second = ("KL " + ms([r["kl"] for r in runs])) if "kl" in runs[0] else ms([100 * r["hq"] for r in runs])
                summary.append(
                    [
                        data,
                        f"gan_lab {recipe} ({len(runs)} seeds)",
                        ms([r["modes"] for r in runs]),
                        second,
                        f"{sum(r['met'] for r in runs)}/{len(runs)}",
                    ]
                )
                for method, rs in runs_refined.items():
                    summary.append(
                        [
                            data,
                            f"gan_lab {recipe}, {SAMPLING[method]} ({len(rs)} seeds)",
                            ms([r["modes"] for r in rs]),
                            ms([100 * r["hq"] for r in rs]),
                            f"{sum(r['met'] for r in rs)}/{len(rs)}",
                        ]
                    )
            summary += [[data, name, modes, hq, "published"] for name, modes, hq in PUBLISHED.get(data, [])]
            if data == "stacked_mnist":
                mean, sd = uniform_kl_floor()
                summary.append(
                    [
                        data,
                        "a perfect uniform sampler (the floor), 26,000 samples",
                        "1000",
                        f"KL {mean:.4f} ± {sd:.4f}",
                        "floor",
                    ]
                )
    text = (
        markdown(
            "Mode collapse: gan_lab recipes beside the published rows",
            ["data", "method", "modes covered", "high quality % / KL", "seeds meeting the target"],
            summary,
            f"Overrides: {' '.join(args.overrides) or 'none'}. Published rows: 10 seeds each, "
            "the same 2,500-sample 3σ rule or 26,000-sample KL (from the PacGAN and VEEGAN papers).",
        )
        + "\n"
        + markdown(
            "Per seed",
            ["data", "recipe", "seed", "G steps", "modes", "high quality % / KL", "target met", "seconds"],
            per_seed,
        )
        + "\n"
        + markdown(
            "Curves: mean over the seeds by generator step (plain sampling)",
            ["data", "recipe", "step: high quality % / KL"],
            curve_rows,
        )
    )
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    name = "mode_collapse" if set(args.data) <= {"ring", "grid"} else "mode_collapse_" + "_".join(args.data)
    (args.results / f"{name}.md").write_text(text)


if __name__ == "__main__":
    main()
