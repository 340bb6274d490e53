"""``python -m gan_lab.evaluate ckpt=<run>/checkpoints/last.ckpt``: FID / KID / IS (or toy mode coverage) of a
trained generator, printed and saved as JSON + Markdown with the full protocol. Text-to-image runs (StackGAN) also
take ``metrics=[attributes,r_precision,swap,diversity,fid]`` (:mod:`gan_lab.metrics.text_image`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gan_lab.checkpoints import load_run
from gan_lab.cli import hydra_command
from gan_lab.kinds import Yields
from gan_lab.metrics import FeatureCache, evaluate_generator
from gan_lab.metrics.registry import needs


def markdown_table(results: dict[str, float], protocol: dict[str, Any]) -> str:
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in results.items()]
    lines += ["", "| protocol | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in protocol.items()]
    return "\n".join(lines)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Score the checkpoint ``cfg.ckpt``; writes ``eval_<features>.json`` / ``.md`` and returns the results."""
    model, datamodule, g_steps = load_run(cfg.ckpt, cfg.device, cfg.data_root)
    torch.manual_seed(cfg.seed)  # noise drawn inside G (StackGAN's conditioning augmentation) is seeded too
    toy = datamodule.yields is Yields.POINTS
    features = "features" in needs(cfg.metrics, datamodule.yields)  # (text scores alone need no feature network)
    network = instantiate(cfg.features) if features else None
    results, protocol = evaluate_generator(
        model,
        datamodule,
        network,
        metrics=list(cfg.metrics),
        n_samples=cfg.n_samples,
        n_real=cfg.n_real,
        split=cfg.split,
        batch_size=cfg.batch_size,
        cache=FeatureCache(cfg.cache_dir),
        seed=cfg.seed,
        truncation=cfg.truncation,
        ema=cfg.ema,
        progress=True,
        sampling=OmegaConf.to_container(cfg.sampling),
    )
    protocol = {"checkpoint": str(cfg.ckpt), "generator_steps": g_steps, **protocol}
    out = Path(cfg.out_dir) if cfg.out_dir else Path(cfg.ckpt).resolve().parent.parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    refined = "" if cfg.sampling.method == "plain" else f"_{cfg.sampling.method}"
    stem = out / f"eval_{'toy' if toy else network.name if network is not None else 'text'}{refined}"
    stem.with_suffix(".json").write_text(json.dumps({"results": results, "protocol": protocol}, indent=2))
    table = markdown_table(results, protocol)
    stem.with_suffix(".md").write_text(table + "\n")
    print(table)
    print(f"\nsaved {stem}.json and {stem}.md")
    return results


main = hydra_command("evaluate", evaluate)


if __name__ == "__main__":
    main()
