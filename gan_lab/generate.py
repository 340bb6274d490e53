"""``python -m gan_lab.generate ckpt=...``: a grid (and optionally one PNG per image) from a trained generator."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig
from torchvision.utils import save_image

from gan_lab.checkpoints import load_model
from gan_lab.cli import hydra_command
from gan_lab.data import to_unit_range
from gan_lab.errors import ConfigError
from gan_lab.nets.conditional import check_labels


def requested_labels(model, classes, n: int) -> torch.Tensor | None:
    """``n`` labels per requested class (conditional models), or None for unconditional ones."""
    num_classes = getattr(model, "num_classes", None)
    if num_classes is None:
        if classes is not None:
            raise ConfigError("classes= is for conditional models; this checkpoint's model is unconditional")
        return None
    classes = torch.as_tensor(list(classes) if classes is not None else range(num_classes))
    check_labels(classes, num_classes)
    return classes.repeat_interleave(n)


def generate(cfg: DictConfig) -> Path:
    model, _, g_steps = load_model(cfg.ckpt, cfg.device)
    labels = requested_labels(model, cfg.classes, cfg.n)
    count = cfg.n if labels is None else len(labels)
    z = model.sample_z(count, truncation=cfg.truncation, generator=torch.Generator(cfg.device).manual_seed(cfg.seed))
    images = to_unit_range(model.generate(z, None if labels is None else labels.to(cfg.device), ema=cfg.ema)).cpu()
    out = Path(cfg.out_dir) if cfg.out_dir else Path(cfg.ckpt).resolve().parent.parent / "generated"
    out.mkdir(parents=True, exist_ok=True)
    trunc = f"_trunc{cfg.truncation}" if cfg.truncation else ""
    grid = out / f"grid_step{g_steps}_seed{cfg.seed}{trunc}.png"
    save_image(images, grid, nrow=cfg.n if labels is not None and cfg.n <= 16 else cfg.nrow, padding=2)
    if cfg.files:
        for i, image in enumerate(images):
            suffix = "" if labels is None else f"_class{int(labels[i])}"
            save_image(image, out / f"{i:05d}{suffix}.png")
    print(f"{count} images from generator step {g_steps} -> {grid}" + (f" (+ {count} PNG files)" if cfg.files else ""))
    return grid


main = hydra_command("generate", generate)


if __name__ == "__main__":
    main()
