"""``python -m gan_lab.generate ckpt=...``: a grid (and optionally one PNG per image) from a trained generator.

Text-to-image models (StackGAN Stage-I / Stage-II / v2) draw from captions: ``text="a large red circle at the top
left"`` or ``text=["...", "..."]``, ``n`` images per caption (one row each), embedded with the text encoder of the
run's data module (``datamodule.encode_text``: unknown words map to ``<unk>`` with a warning; an empty caption or one
with no known word is a one-line error).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, open_dict
from torchvision.utils import make_grid, save_image

from gan_lab.checkpoints import load_model
from gan_lab.cli import hydra_command
from gan_lab.errors import ConfigError
from gan_lab.images import annotate, to_unit_range
from gan_lab.kinds import Condition
from gan_lab.nets.conditional import check_labels


def requested_labels(model, classes, n: int) -> torch.Tensor | None:
    """``n`` labels per requested class (conditional models), or None for unconditional ones."""
    if model.condition is Condition.TEXT and classes is not None:
        raise ConfigError("classes= is for class-conditional models; this checkpoint's model draws from text: pass "
                          "text=\"a large red circle at the top left\"")
    if model.condition is not Condition.CLASS:
        if classes is not None:
            raise ConfigError("classes= is for conditional models; this checkpoint's model is unconditional")
        return None
    classes = torch.as_tensor(list(classes) if classes is not None else range(model.num_classes))
    check_labels(classes, model.num_classes)
    return classes.repeat_interleave(n)


def requested_captions(model, text) -> list[str] | None:
    """The captions of ``text=`` (one string or a list), checked against the model; None when not given."""
    if text is None:
        return None
    if model.condition is not Condition.TEXT:
        raise ConfigError(f"text= is for text-to-image models (model=stackgan, stackgan_stage2, stackgan_v2); this "
                          f"checkpoint's model ({type(model).__name__}) does not read text")
    captions = [str(t) for t in text] if isinstance(text, (list, tuple, ListConfig)) else [str(text)]
    if not captions:
        raise ConfigError("text=[] holds no caption: pass text=\"a large red circle at the top left\"")
    return captions


def caption_embeddings(run_cfg: DictConfig, captions: list[str], n: int, data_root: str | None) -> torch.Tensor:
    """(len(captions)·n, E): each caption's embedding by the run's data module's text encoder, ``n`` times."""
    if data_root:
        with open_dict(run_cfg):
            run_cfg.data.root = data_root
    datamodule = instantiate(run_cfg.data)
    return datamodule.encode_text(captions).float().repeat_interleave(n, 0)


def slug(captions: list[str]) -> str:
    """A short file-name part naming the captions: ``_text-a-large-red-circle`` (+k for k more)."""
    words = re.sub(r"[^a-z0-9]+", "-", captions[0].lower()).strip("-")[:40].rstrip("-")
    return f"_text-{words}" + (f"+{len(captions) - 1}" if len(captions) > 1 else "")


def generate(cfg: DictConfig) -> Path:
    model, run_cfg, g_steps = load_model(cfg.ckpt, cfg.device)
    captions = requested_captions(model, cfg.get("text"))
    if captions is not None:
        labels = caption_embeddings(run_cfg, captions, cfg.n, cfg.get("data_root"))
        requested_labels(model, cfg.classes, cfg.n)  # refuses classes= for text models
    else:
        labels = requested_labels(model, cfg.classes, cfg.n)
    count = cfg.n if labels is None else len(labels)
    torch.manual_seed(cfg.seed)  # noise drawn inside G (StackGAN's conditioning augmentation) is seeded too
    z = model.sample_z(count, truncation=cfg.truncation, generator=torch.Generator(cfg.device).manual_seed(cfg.seed))
    images = to_unit_range(model.generate(z, None if labels is None else labels.to(cfg.device), ema=cfg.ema)).cpu()
    out = Path(cfg.out_dir) if cfg.out_dir else Path(cfg.ckpt).resolve().parent.parent / "generated"
    out.mkdir(parents=True, exist_ok=True)
    trunc = f"_trunc{cfg.truncation}" if cfg.truncation else ""
    grid = out / f"grid_step{g_steps}_seed{cfg.seed}{trunc}{slug(captions) if captions else ''}.png"
    nrow = cfg.n if labels is not None and cfg.n <= 16 else cfg.nrow
    save_image(images, grid, nrow=nrow, padding=2)
    if captions is not None and nrow == cfg.n:  # one row per caption: the same grid with its captions beside it
        shown = annotate(make_grid(images, nrow=nrow, padding=2), f"generator step {g_steps}", captions,
                         cell=images.shape[-2] + 2)
        save_image(shown, grid.with_name(grid.stem + "_captions.png"))
    if cfg.files:
        for i, image in enumerate(images):
            suffix = "" if labels is None else (f"_caption{i // cfg.n}" if captions else f"_class{int(labels[i])}")
            save_image(image, out / f"{i:05d}{suffix}.png")
    what = f" ({cfg.n} for each of {len(captions)} caption{'s' if len(captions) > 1 else ''})" if captions else ""
    print(f"{count} images{what} from generator step {g_steps} -> {grid}"
          + (f" (+ {count} PNG files)" if cfg.files else ""))
    return grid


main = hydra_command("generate", generate)


if __name__ == "__main__":
    main()
