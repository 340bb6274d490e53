"""Generator steps per second: gan_lab's ``Trainer.fit`` against a hand-written PyTorch loop with the same
networks, losses, optimisers and in-memory data, in one process, interleaved, after warm-up.

    python benchmarks/throughput.py                          # CPU, fp32, batch 64
    python benchmarks/throughput.py --device cuda --precision bf16-mixed --batch 64 128 256 \
        [--channels-last] [--compile]

Prints a Markdown table (and writes it to benchmarks/results/throughput_<device>_<precision>.md, or --results DIR).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, config, markdown, rss_mib  # noqa: E402

from gan_lab import losses  # noqa: E402
from gan_lab.data.captioned import mismatched_indices  # noqa: E402
from gan_lab.images import to_tanh_range  # noqa: E402
from gan_lab.kinds import Condition  # noqa: E402
from gan_lab.models.stabilizers import GradientPenalty, Orthogonal  # noqa: E402
from gan_lab.models.stackgan import matching_aware_d_loss  # noqa: E402
from gan_lab.steps import optimizer_steps  # noqa: E402

MODELS = {  # name: (config overrides)
    "DCGAN 28×28×1": ["model=dcgan", "data=mnist_5k"],
    "DCGAN 32×32×3": ["model=dcgan", "data=mnist_5k", "data.image_size=32", "data.channels=3"],
    "WGAN-GP 32×32×3": ["model=wgan_gp", "data=mnist_5k", "data.image_size=32", "data.channels=3"],
    "SNGAN-ResNet 32×32×3": [
        "model=sngan",
        "model/net=resnet",
        "data=mnist_5k",
        "data.image_size=32",
        "data.channels=3",
    ],
    # class-conditional: shared embedding, hierarchical z, projection D, SN in G and D, ortho reg, EMA (ch 8)
    "BigGAN 32×32×3": ["model=biggan", "data=mnist_5k", "data.image_size=32", "data.channels=3"],
    # text → image, Stage-I (CPU preset: 32 px, width 32): CA + KL, matching-aware D on mismatched captions
    "StackGAN Stage-I 32×32×3": ["model=stackgan", "data=shapes", "data.n_train=2000", "data.n_test=100"],
    # next to no compute: its gan_lab − plain time per step is the fixed cost of the Lightning loop
    "DCGAN 28×28×1 width 2": ["model=dcgan", "data=mnist_5k", "model.generator.width=2", "model.discriminator.width=2"],
}


class Clock(L.Callback):
    """Wall time of generator steps [warmup, warmup + steps)."""

    def __init__(self, warmup: int, sync):
        self.warmup, self.sync, self.start, self.end = warmup, sync, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if pl_module.g_steps == self.warmup:
            self.sync()
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, *args):
        self.sync()
        self.end = time.perf_counter()


def build(overrides: list[str], batch: int, args):
    cfg = config(*overrides, f"data.batch_size={batch}", "seed=0")
    torch.manual_seed(0)
    model = instantiate(cfg.model)
    datamodule = instantiate(cfg.data, batches_per_step=model.n_critic * model.accumulate)
    return cfg, model, datamodule


def time_gan_lab(overrides, batch, steps, warmup, args, sync) -> float:
    cfg, model, datamodule = build(overrides, batch, args)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if args.compile:
        model.generator, model.discriminator = torch.compile(model.generator), torch.compile(model.discriminator)
    clock = Clock(warmup, sync)
    trainer = L.Trainer(
        accelerator=args.device,
        devices=1,
        precision=args.precision,
        max_steps=optimizer_steps(warmup + steps, model.n_critic),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
        log_every_n_steps=50,
    )
    trainer.fit(model, datamodule=datamodule)
    return steps / (clock.end - clock.start)


def time_plain(overrides, batch, steps, warmup, args, sync) -> float:
    """The same training rule written by hand: no Lightning, no logging."""
    cfg, model, datamodule = build(overrides, batch, args)
    device = torch.device(args.device)
    G, D = model.generator.to(device), model.discriminator.to(device)
    if args.channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    if args.compile:
        G, D = torch.compile(G), torch.compile(D)
    opt_g, opt_d = model.g_optimizer(G.parameters()), model.d_optimizer(D.parameters())
    split = datamodule.split(train=True)
    images, labels = split.images.to(device), split.labels.to(device)
    n_critic, latent = model.n_critic, model.latent_dim
    conditional = model.condition is Condition.CLASS  # G(z, y) and D(x, y)
    ema = model.generator_ema
    gp = next((p for p in model.parts if isinstance(p, GradientPenalty)), None)
    ortho = next((p for p in model.parts if isinstance(p, Orthogonal)), None)
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if args.precision == "bf16-mixed"
        else contextlib.nullcontext()
    )
    g_gen = torch.Generator(device).manual_seed(0)
    order = torch.randperm(len(images), device=device)
    per_step, position = batch * n_critic, 0
    start = None
    for step in range(warmup + steps):
        if step == warmup:
            sync()
            start = time.perf_counter()
        if position + per_step > len(order):
            order, position = torch.randperm(len(images), device=device), 0
        index = order[position : position + per_step]
        reals, ys = to_tanh_range(images[index]).chunk(n_critic), labels[index].chunk(n_critic)
        position += per_step
        for i, (real, y) in enumerate(zip(reals, ys)):
            z = torch.randn(batch, latent, device=device, generator=g_gen)
            with torch.set_grad_enabled(i == n_critic - 1), autocast:
                fake = G(z, y) if conditional else G(z)
            for p in G.parameters():
                p.requires_grad_(False)
            with autocast:
                d_loss = (
                    model.d_loss(D(real, y), D(fake.detach(), y))
                    if conditional
                    else model.d_loss(D(real), D(fake.detach()))
                )
                if gp is not None:
                    x_hat = losses.random_interpolates(real, fake, g_gen)
                    critic = D(x_hat, y) if conditional else D(x_hat)
                    d_loss = d_loss + gp.weight * gp.penalty(critic, x_hat)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            for p in G.parameters():
                p.requires_grad_(True)
        for p in D.parameters():
            p.requires_grad_(False)
        with autocast:
            g_loss = model.g_loss(D(fake, y) if conditional else D(fake))
            if ortho is not None:
                g_loss = g_loss + ortho.beta * losses.orthogonal_regularization(G)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if ema is not None:
            ema.update_parameters(G)
        for p in D.parameters():
            p.requires_grad_(True)
    sync()
    return steps / (time.perf_counter() - start)


def time_plain_text(overrides, batch, steps, warmup, args, sync) -> float:
    """StackGAN Stage-I's rule by hand: G(z, t) with conditioning augmentation, D on (real, right), (real, wrong
    caption of another class), (fake, right); G's loss + kl_weight·KL. One caption per image per step, at random."""
    cfg, model, datamodule = build(overrides, batch, args)
    device = torch.device(args.device)
    G, D = model.generator.to(device), model.discriminator.to(device)
    opt_g, opt_d = model.g_optimizer(G.parameters()), model.d_optimizer(D.parameters())
    split = datamodule.split(train=True)
    images, classes, embeddings = split.images.to(device), split.classes.to(device), split.embeddings.to(device)
    g_gen = torch.Generator(device).manual_seed(0)
    start = None
    for step in range(warmup + steps):
        if step == warmup:
            sync()
            start = time.perf_counter()
        index = torch.randint(len(images), (batch,), device=device, generator=g_gen)
        which = torch.randint(embeddings.shape[1], (batch,), device=device, generator=g_gen)
        real, y, t = model.real_images(to_tanh_range(images[index])), classes[index], embeddings[index, which].float()
        z = torch.randn(batch, model.latent_dim, device=device, generator=g_gen)
        fake, mu, logvar = G(z, t, g_gen)
        d_loss = matching_aware_d_loss(D(real, t), D(real, t[mismatched_indices(y, g_gen)]), D(fake.detach(), t))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        g_loss = model.g_loss(D(fake, t)) + model.kl_weight * G.ca.kl(mu, logvar)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)
    sync()
    return steps / (time.perf_counter() - start)


def plain_loop(name: str):
    return time_plain_text if name.startswith("StackGAN") else time_plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    parser.add_argument("--batch", type=int, nargs="+", default=[64])
    parser.add_argument("--steps", type=int, default=30, help="timed generator steps per round")
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="instead of --steps: about this many timed seconds per round and loop (steps from a "
        "short calibration run of the plain loop; at least 2), the same precision for fast and "
        "slow models",
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (gan_lab, plain, gan_lab, ...)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS), metavar="MODEL")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the Markdown table")
    args = parser.parse_args()
    cuda = args.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    mem = "peak GPU MiB" if cuda else "RSS MiB"
    title = (
        f"Generator steps/s — {args.device}, {args.precision}"
        + (", channels-last" if args.channels_last else "")
        + (", torch.compile" if args.compile else "")
    )
    length = f"≈ {args.seconds:g} s of" if args.seconds else f"{args.steps}"
    notes = (
        f"{args.rounds} interleaved rounds (gan_lab, plain, gan_lab, ...) of {length} generator steps after "
        f"{args.warmup} warm-up step(s); rates: median over rounds; ratio: median of each round's gan_lab / plain "
        "rate (range: lowest and highest round); Δ ms/step: median of each round's gan_lab time per generator "
        "step minus the plain loop's (for the width-2 net, which computes next to nothing: Lightning's fixed "
        "cost per step); "
        "gan_lab = Trainer.fit with its per-step logging (no progress bar, checkpoints or sample grids); plain = "
        "the same nets, losses, optimisers and in-memory batches in a hand-written loop."
    )
    suffix = "_channels_last" * args.channels_last + "_compile" * args.compile
    out = args.results / f"throughput_{args.device}_{args.precision}{suffix}.md"
    args.results.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.models:
        for batch in args.batch:
            steps = args.steps
            if args.seconds:
                steps = max(2, round(args.seconds * plain_loop(name)(MODELS[name], batch, 2, 1, args, sync)))
            rates = {"gan_lab": [], "plain": []}
            memory = {"gan_lab": 0.0, "plain": 0.0}
            for _ in range(args.rounds):
                for label, fn in (("gan_lab", time_gan_lab), ("plain", plain_loop(name))):
                    if cuda:
                        torch.cuda.reset_peak_memory_stats()
                    rates[label].append(fn(MODELS[name], batch, steps, args.warmup, args, sync))
                    used = torch.cuda.max_memory_allocated() / 2**20 if cuda else rss_mib()
                    memory[label] = max(memory[label], used)
            lab, plain = statistics.median(rates["gan_lab"]), statistics.median(rates["plain"])
            # each round's gan_lab run against the plain run right after it: drifts of a shared machine cancel
            ratios = [a / b for a, b in zip(rates["gan_lab"], rates["plain"])]
            ratio = statistics.median(ratios)
            extra_ms = statistics.median(1e3 / a - 1e3 / b for a, b in zip(rates["gan_lab"], rates["plain"]))
            rows.append(
                [
                    name,
                    batch,
                    steps,
                    lab,
                    plain,
                    ratio,
                    f"{min(ratios):.3f}–{max(ratios):.3f}",
                    f"{extra_ms:+.2f}",
                    memory["gan_lab"],
                    memory["plain"],
                ]
            )
            print(
                f"{name} batch {batch}: gan_lab {lab:.2f} G-steps/s, plain {plain:.2f}, ratio {ratio:.3f} "
                f"(rounds of {steps} steps: gan_lab {[round(r, 2) for r in rates['gan_lab']]}, "
                f"plain {[round(r, 2) for r in rates['plain']]})",
                flush=True,
            )
            table = markdown(
                title,
                [
                    "model",
                    "batch",
                    "timed steps",
                    "gan_lab",
                    "plain loop",
                    "ratio",
                    "ratio range",
                    "Δ ms/step",
                    f"gan_lab {mem}",
                    f"plain {mem}",
                ],
                rows,
                notes,
            )
            out.write_text(table)  # after every row: an interrupted run keeps what it measured
    print("\n" + table)


if __name__ == "__main__":
    main()
