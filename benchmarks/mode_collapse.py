"""Mode-collapse study: recipes × 2-D mixtures × seeds, final modes covered and high-quality share (2,500 samples,
3σ rule: gan_lab.metrics via the evaluation callback), printed beside the published rows.

    python benchmarks/mode_collapse.py --recipes mode_collapse mode_collapse_best --data ring grid --seeds 0 1 2
    make bench-modes

Each run is ``python -m gan_lab experiment=<recipe> data=<data> seed=<seed>`` (plus ``--overrides``); the figure
is the evaluation at the last generator step. A seed "meets the target" with all modes and high quality ≥ 97 %
(ring) / 95 % (grid), the issue's bar (published best: PacGAN).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, config, markdown  # noqa: E402
from gan_lab.training import train  # noqa: E402

# Published figures (2,500 samples, 3σ rule): modes covered, high-quality share (%), as reported.
# Published figures (2,500 samples, 3σ rule), as quoted in gan_lab issue 14: modes covered, high-quality share (%).
PUBLISHED = {
    "ring": [("VEEGAN (Srivastava et al., NeurIPS 2017)", "8", "52.9"),
             ("PacGAN (Lin et al., NeurIPS 2018), best rows", "7.9", "95.6–97.7")],
    "grid": [("VEEGAN (Srivastava et al., NeurIPS 2017)", "24.6", "40.0"),
             ("PacGAN (Lin et al., NeurIPS 2018), best row", "24.8", "93.6")],
}
TARGET_HQ = {"ring": 0.97, "grid": 0.95}


def run(recipe: str, data: str, seed: int, overrides: list[str], out: Path) -> dict:
    cfg = config(f"experiment={recipe}", f"data={data}", f"seed={seed}", f"paths.output_dir={out}",
                 "logger=csv", "callbacks.progress_bar=null", "+trainer.enable_progress_bar=false",
                 "+trainer.enable_model_summary=false", "callbacks.model_summary=null", *overrides)
    start = time.perf_counter()
    metrics = train(cfg)
    return {"modes": float(metrics["val/modes_covered"]), "num_modes": float(metrics["val/num_modes"]),
            "hq": float(metrics["val/high_quality"]), "seconds": time.perf_counter() - start,
            "steps": int(metrics["train/g_steps"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=["mode_collapse", "mode_collapse_best"])
    parser.add_argument("--data", nargs="+", default=["ring", "grid"])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--overrides", nargs="*", default=[], help="extra config overrides for every run")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()

    per_seed, summary = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for data in args.data:
            for recipe in args.recipes:
                runs = []
                for seed in args.seeds:
                    r = run(recipe, data, seed, args.overrides, Path(tmp) / f"{recipe}-{data}-{seed}")
                    met = r["modes"] == r["num_modes"] and r["hq"] >= TARGET_HQ.get(data, 0.0)
                    runs.append(r | {"met": met})
                    per_seed.append([data, recipe, seed, r["steps"], f"{r['modes']:.0f}/{r['num_modes']:.0f}",
                                     f"{100 * r['hq']:.1f}", "yes" if met else "no", f"{r['seconds']:.0f}"])
                    print("| " + " | ".join(map(str, per_seed[-1])) + " |", flush=True)

                def ms(values: list[float]) -> str:
                    sd = statistics.stdev(values) if len(values) > 1 else 0.0
                    return f"{statistics.mean(values):.2f} ± {sd:.2f}"
                summary.append([data, f"gan_lab {recipe} ({len(runs)} seeds)", ms([r["modes"] for r in runs]),
                                ms([100 * r["hq"] for r in runs]), f"{sum(r['met'] for r in runs)}/{len(runs)}"])
            summary += [[data, name, modes, hq, "published"] for name, modes, hq in PUBLISHED.get(data, [])]
    text = (markdown("Mode collapse: gan_lab recipes beside the published rows",
                     ["data", "method", "modes covered", "high quality %", "seeds meeting the target"], summary,
                     f"Overrides: {' '.join(args.overrides) or 'none'}. Published rows: 10 seeds each, the same "
                     "2,500-sample 3σ rule (PacGAN, VEEGAN papers; as quoted in issue 14).")
            + "\n" + markdown("Per seed", ["data", "recipe", "seed", "G steps", "modes", "high quality %",
                                           "target met", "seconds"], per_seed))
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "mode_collapse.md").write_text(text)


if __name__ == "__main__":
    main()
