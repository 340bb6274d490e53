"""Speed of the mode-collapse study: generator steps/s of one toy run, gan_lab beside a hand-written loop.

    python benchmarks/mode_collapse_speed.py --steps 550 --together 2

Rows (each a fresh process, ``experiment=mode_collapse_best data=ring``, MLPs 3×256 (G) and 3×128 (D), batch 256,
R1, EMA, cosine decay; timed from step 50 to ``--steps``, so one evaluation at step 500 is inside):

- ``plain``: the same recipe as a hand-written PyTorch loop (no Lightning, no callbacks, no evaluation);
- ``before``: the study's run as it was configured before ``--workers`` (CSV every 10 steps, scatter plots,
  periodic and best checkpoints), one run at a time;
- ``study``: the study's run now (benchmarks/mode_collapse.py ``STUDY``), alone;
- ``study × k``: k such runs side by side, as ``--workers k`` trains them; the study's throughput is their sum.

Every process is given one thread (``trainer.threads=1`` / ``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, markdown  # noqa: E402

WARMUP = 50
BEFORE = [
    "logger=csv",
    "callbacks.progress_bar=null",
    "+trainer.enable_progress_bar=false",
    "+trainer.enable_model_summary=false",
    "callbacks.model_summary=null",
]


def plain(steps: int) -> float:
    """steps/s of the recipe written out by hand (mode_collapse_best on the ring, without evaluation)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(0)

    def mlp(n_in: int, n_out: int, width: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Linear(n_in, width),
            nn.LeakyReLU(0.2),
            nn.Linear(width, width),
            nn.LeakyReLU(0.2),
            nn.Linear(width, width),
            nn.LeakyReLU(0.2),
            nn.Linear(width, n_out),
        )

    g, d = mlp(2, 2, 256), mlp(2, 1, 128)
    ema = [p.detach().clone() for p in g.parameters()]
    opt_g = torch.optim.Adam(g.parameters(), 1e-3, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), 1e-3, betas=(0.0, 0.99))
    sched = [torch.optim.lr_scheduler.CosineAnnealingLR(o, 20_000) for o in (opt_g, opt_d)]
    angles = torch.arange(8) * (2 * math.pi / 8)
    centers = 2 * torch.stack([angles.cos(), angles.sin()], 1)
    data = centers[torch.randint(8, (100_000,))] + 0.02 * torch.randn(100_000, 2)
    for step in range(steps):
        if step == WARMUP:
            start = time.perf_counter()
        real = data[torch.randint(len(data), (256,))].requires_grad_(True)
        fake = 3 * g(torch.randn(256, 2))
        real_out, fake_out = d(real).squeeze(1), d(fake.detach()).squeeze(1)
        (grad,) = torch.autograd.grad(real_out.sum(), real, create_graph=True)
        d_loss = F.softplus(-real_out).mean() + F.softplus(fake_out).mean() + 0.5 * grad.pow(2).sum(1).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        d.requires_grad_(False)
        g_loss = F.softplus(-d(fake).squeeze(1)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        d.requires_grad_(True)
        with torch.no_grad():
            torch._foreach_lerp_(ema, list(g.parameters()), 1e-3)
        for s in sched:
            s.step()
    return (steps - WARMUP) / (time.perf_counter() - start)


def gan_lab_run(steps: int, overrides: list[str]) -> float:
    """steps/s of one gan_lab run of mode_collapse_best on the ring, timed by a callback."""
    import tempfile

    import lightning as L

    from benchmarks.common import config
    from gan_lab import training
    from gan_lab.training import train

    class Clock(L.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            if module.g_steps == WARMUP:
                self.start = time.perf_counter()
            self.end, self.steps = time.perf_counter(), module.g_steps

    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(
            "experiment=mode_collapse_best",
            "data=ring",
            f"paths.output_dir={tmp}",
            "trainer.threads=1",
            "trainer.max_steps=20000",
            *overrides,
        )
        build = training.build

        def build_with_clock(c):
            model, dm, trainer = build(c)
            trainer.callbacks.append(clock)
            trainer.fit_loop.epoch_loop.max_steps = 2 * steps  # G + D optimiser steps; T_max: 20,000
            return model, dm, trainer

        training.build = build_with_clock
        train(cfg)
    return (clock.steps - WARMUP) / (clock.end - clock.start)


def one(kind: str, steps: int) -> float:
    if kind == "plain":
        return plain(steps)
    from benchmarks.mode_collapse import STUDY

    return gan_lab_run(steps, BEFORE if kind == "before" else STUDY)


def launch(kind: str, steps: int, k: int) -> list[float]:
    """k processes of ``kind`` at once; each one's steps/s."""
    cmd = [sys.executable, __file__, "--one", kind, "--steps", str(steps)]
    procs = [
        subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for _ in range(k)
    ]
    return [json.loads(p.communicate()[0].strip().splitlines()[-1])["steps_per_s"] for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=550)
    parser.add_argument("--together", type=int, default=2, help="runs side by side in the last row")
    parser.add_argument("--one", choices=["plain", "before", "study"], help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps({"steps_per_s": one(args.one, args.steps)}))
        return
    rows = []
    for kind, k in [("plain", 1), ("before", 1), ("study", 1), ("study", args.together)]:
        rates = launch(kind, args.steps, k)
        name = kind if k == 1 else f"{kind} × {k} side by side"
        rows.append([name, " + ".join(f"{r:.1f}" for r in rates), f"{sum(rates):.1f}"])
        print(rows[-1], flush=True)
    text = markdown(
        "Mode-collapse study: generator steps/s (mode_collapse_best, ring, one thread per run)",
        ["run", "steps/s per run", "study throughput, steps/s"],
        rows,
        f"Timed from step {WARMUP} to {args.steps}: `python benchmarks/mode_collapse_speed.py "
        f"--steps {args.steps} --together {args.together}`.",
    )
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "mode_collapse_speed.md").write_text(text)


if __name__ == "__main__":
    main()
