"""The text-to-image flow of ``data=shapes`` end to end, per discriminator condition, scored on the attribute table.

    python benchmarks/stackgan.py --steps 5000 --condition concat projection aux --jobs 3
    python benchmarks/stackgan.py --steps 5000 --condition aux --stage2 --v2 --split iid compositional --trainer gpu

1. The text encoder (``python -m gan_lab.text_encoder data=shapes``), once per split, unless ``--text-encoder``.
2. Per (split, condition): Stage-I ``python -m gan_lab model=stackgan data=shapes data.text_encoder=…
   model.discriminator.condition=<c> trainer.max_steps=<steps> trainer.max_epochs=-1`` (+ ``--override``s), with
   the attribute curve (``callbacks=attributes``) every ``--curve-every`` steps; with ``--stage2`` then Stage-II
   on its checkpoint.
   With ``--v2``, one StackGAN-v2 run per split (its discriminators: ``--override model.discriminator.condition=…``).
3. Each checkpoint scored as ``python -m gan_lab.evaluate metrics=[attributes,swap]`` does, on ``--n`` test
   captions (the fixed judge: box-filtered locator, noise-trained classifier): colour / position / size / shape /
   … and swap/colour_follows with the other attributes kept.

Runs go in parallel processes (``--jobs``), each with OMP_NUM_THREADS=1 (``--threads``); logs, runs and the
tables land under ``--out``. ``--trainer gpu`` trains on the GPU (bf16); the scoring runs where the run trained.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]  # this checkout's gan_lab (and benchmarks/common.py), also
# in the scoring subprocesses, whatever copy the interpreter has installed
COLUMNS = ("colour", "position", "size", "shape", "background", "pattern", "outline")
SWAP = ("swap/colour_follows", "swap/shape_kept", "swap/position_kept", "swap/size_kept")


def run(cmd: list[str], log: Path, threads: int) -> None:
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env, check=False)
        f.write(f"# exit {done.returncode} after {time.perf_counter() - start:.0f} s\n")
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])} … failed (exit {done.returncode}): see {log}")


def train_args(args, name: str, split: str, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gan_lab",
        "data=shapes",
        f"data.test_split={split}",
        f"trainer={args.trainer}",
        f"trainer.max_steps={args.steps}",
        "trainer.max_epochs=-1",
        f"paths.output_dir={args.out / name}",
        f"seed={args.seed}",
        "callbacks.progress_bar.plain=true",
        "callbacks.model_summary=null",
        *extra,
        *args.override,
    ]


def curve_args(args) -> list[str]:
    if not args.curve_every:
        return []
    return [
        "callbacks=attributes",
        f"callbacks.attributes.every_n_steps={args.curve_every}",
        f"callbacks.attributes.n_samples={args.curve_n}",
        f"callbacks.attributes.cache_dir={args.out / 'cache' / 'features'}",
    ]


def data_overrides(args) -> list[str]:
    return [o for o in args.override if o.startswith(("data.", "+data.", "++data."))]


def prepare_judge(args, split: str) -> None:
    """Train the split's attribute classifier once, before the runs that share it (cached under --out/cache)."""
    from common import config
    from hydra.utils import instantiate

    from gan_lab.metrics.attributes import attribute_classifier

    cfg = config("data=shapes", f"data.test_split={split}", f"seed={args.seed}", *data_overrides(args))
    attribute_classifier(instantiate(cfg.data), args.out / "cache" / "features")


def score(ckpt: Path, n: int, cache: Path, device: str) -> dict[str, float]:
    """Attribute agreement and the swap check of a checkpoint's images for the first n test captions."""
    import torch

    from gan_lab.checkpoints import load_run
    from gan_lab.metrics import FeatureCache, evaluate_generator

    model, dm, g_steps = load_run(str(ckpt), device)
    torch.manual_seed(0)
    results, _ = evaluate_generator(
        model,
        dm,
        None,
        ["attributes", "swap"],
        n_samples=n,
        batch_size=100,
        cache=FeatureCache(str(cache / "features")),
    )
    return results | {"g_steps": g_steps}


def curve(run_dir: Path) -> list[tuple[int, float, float]]:
    """(generator step, colour, shape) of every callbacks=attributes evaluation of a run (its attributes.jsonl)."""
    path = run_dir / "attributes.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    return [(r["step"], r["attributes/colour"], r["attributes/shape"]) for r in rows]


def pipeline(args, split: str, condition: str | None, encoder: Path) -> list[dict]:
    """Train (Stage-I [+ Stage-II] for a condition, or v2 when condition is None) and score; one row per model."""
    name = f"{split}-{condition or 'v2'}"
    log, rows = args.out / "logs" / f"{name}.log", []
    common = [f"data.text_encoder={encoder}", *curve_args(args)]
    if condition is None:
        run(train_args(args, name, split, ["model=stackgan_v2", *common]), log, args.threads)
        stages = [("StackGAN-v2", args.out / name)]
    else:
        run(
            train_args(args, name, split, ["model=stackgan", f"model.discriminator.condition={condition}", *common]),
            log,
            args.threads,
        )
        stages = [("Stage-I", args.out / name)]
        if args.stage2:
            ckpt = args.out / name / "checkpoints" / "last.ckpt"
            run(
                train_args(
                    args,
                    name + "-stage2",
                    split,
                    [
                        "model=stackgan_stage2",
                        f"model.stage1_ckpt={ckpt}",
                        f"model.discriminator.condition={condition}",
                        *common,
                    ],
                ),
                log,
                args.threads,
            )
            stages.append(("Stage-II", args.out / (name + "-stage2")))
    for model, run_dir in stages:
        out = run_dir / "scores.json"
        run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--score",
                str(run_dir / "checkpoints" / "last.ckpt"),
                "--n",
                str(args.n),
                "--out",
                str(args.out),
                "--trainer",
                args.trainer,
            ],
            log,
            args.threads,
        )
        rows.append(
            {
                "split": split,
                "condition": condition or "(v2)",
                "model": model,
                "run": str(run_dir),
                **json.loads(out.read_text()),
                "curve": curve(run_dir),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    head = ["split", "model", "D condition", "G steps", *COLUMNS, *(s.split("/")[1] for s in SWAP)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["split"], r["model"], r["condition"], str(r["g_steps"])]
        cells += [f"{r.get('attributes/' + c, float('nan')):.3f}" for c in COLUMNS]
        cells += [f"{r.get(s, float('nan')):.3f}" for s in SWAP]
        lines.append("| " + " | ".join(cells) + " |")
    curves = [
        f"- {r['split']} {r['model']} {r['condition']}: " + ", ".join(f"{s}: {c:.2f}/{h:.2f}" for s, c, h in r["curve"])
        for r in rows
        if r["curve"]
    ]
    if curves:
        lines += [
            "",
            "Curves (generator step: colour/shape, callbacks=attributes on the first test captions):",
            *curves,
        ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=1000, help="generator steps of every run")
    p.add_argument(
        "--condition",
        nargs="*",
        default=["concat", "projection", "aux"],
        help="discriminator conditions to compare (concat | projection | aux | projection_aux; none: --v2 only)",
    )
    p.add_argument("--split", nargs="+", default=["iid"], choices=["iid", "compositional"])
    p.add_argument("--stage2", action="store_true", help="also Stage-II on each Stage-I checkpoint")
    p.add_argument("--v2", action="store_true", help="also one StackGAN-v2 run per split")
    p.add_argument("--trainer", "--device", default="cpu", choices=["cpu", "gpu"], help="trainer=cpu|gpu")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel processes")
    p.add_argument("--threads", type=int, default=1, help="OMP/MKL threads per process")
    p.add_argument("--text-encoder", type=Path, default=None, help="an encoder file (iid split); else trained")
    p.add_argument("--encoder-epochs", type=int, default=6, help="text encoder epochs (the command's 6)")
    p.add_argument("--n", type=int, default=500, help="test captions scored")
    p.add_argument("--curve-every", type=int, default=250, help="callbacks=attributes interval (0: off)")
    p.add_argument("--curve-n", type=int, default=200, help="test captions per curve point")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides for every training run")
    p.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench_stackgan")
    p.add_argument("--score", type=Path, default=None, help=argparse.SUPPRESS)  # internal: score one checkpoint
    args = p.parse_args()
    args.out = args.out.resolve()
    if not args.condition and not args.v2 and not args.score:
        p.error("nothing to run: name a --condition or add --v2")
    if args.score:
        results = score(args.score, args.n, args.out / "cache", "cuda" if args.trainer == "gpu" else "cpu")
        (args.score.parents[1] / "scores.json").write_text(json.dumps(results, indent=1))
        return
    encoders = {}
    for split in args.split:  # the encoders first (both splits in parallel)
        encoders[split] = (
            args.text_encoder if args.text_encoder and split == "iid" else args.out / f"text_encoder_{split}.ckpt"
        )
    todo = [s for s, path in encoders.items() if not path.is_file()]
    import torch

    torch.set_num_threads(args.threads)
    with ThreadPoolExecutor(max(1, min(args.jobs, len(todo) or 1))) as pool:  # encoders beside the judges
        trained = pool.map(
            lambda s: run(
                [
                    sys.executable,
                    "-m",
                    "gan_lab.text_encoder",
                    "data=shapes",
                    f"data.test_split={s}",
                    f"output={encoders[s]}",
                    "progress_bar=false",
                    f"seed={args.seed}",
                    f"epochs={args.encoder_epochs}",
                    *data_overrides(args),
                ],
                args.out / "logs" / f"text_encoder_{s}.log",
                args.threads,
            ),
            todo,
        )
        for split in args.split:
            prepare_judge(args, split)
        list(trained)
    jobs = [(s, c) for s in args.split for c in args.condition] + [(s, None) for s in args.split if args.v2]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = [r for rs in pool.map(lambda job: pipeline(args, job[0], job[1], encoders[job[0]]), jobs) for r in rs]
    text = table(rows)
    command = " ".join(["python", "benchmarks/stackgan.py", *sys.argv[1:]])
    (args.out / "results.md").write_text(f"`{command}`\n\n{text}\n")
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    print(text)


if __name__ == "__main__":
    main()
