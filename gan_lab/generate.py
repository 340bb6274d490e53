"""``python -m gan_lab.generate ckpt=...``: a grid (and optionally one PNG per image) from a trained generator.

Text-to-image models (StackGAN Stage-I / Stage-II / v2) draw from captions: ``text="a large red circle at the top
left"`` or ``text=["...", "..."]``, ``n`` images per caption (one row each), embedded with the text encoder of the
run's data module (``datamodule.encode_text``: unknown words map to ``<unk>`` with a warning; an empty caption or one
with no known word is a one-line error).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
        raise ConfigError(
            "classes= is for class-conditional models; this checkpoint's model draws from text: pass "
            'text="a large red circle at the top left"'
        )
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
        raise ConfigError(
            f"text= is for text-to-image models (model=stackgan, stackgan_stage2, stackgan_v2); this "
            f"checkpoint's model ({type(model).__name__}) does not read text"
        )
    captions = [str(t) for t in text] if isinstance(text, (list, tuple, ListConfig)) else [str(text)]
    if not captions:
        raise ConfigError('text=[] holds no caption: pass text="a large red circle at the top left"')
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


BATCH_SIZE = 256  # images drawn at once: memory stays bounded whatever n is
GRID_MAX = 1024  # the most images one grid shows


def check_count(name: str, value, at_least: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < at_least:
        raise ConfigError(f"{name} must be a whole number ≥ {at_least}, got {value!r}")
    return value


def draw_batches(
    model, count: int, n: int, conditions: torch.Tensor | None, seed: int, truncation, ema: bool, device
) -> Iterator[torch.Tensor]:
    """``count`` images in [0, 1] on the CPU, ``BATCH_SIZE`` at a time; image i gets ``conditions[i // n]`` (a
    class id or a caption embedding; None: unconditional). The same seed gives the same images."""
    g = torch.Generator(device).manual_seed(seed)
    for start in range(0, count, BATCH_SIZE):
        size = min(BATCH_SIZE, count - start)
        z = model.sample_z(size, truncation=truncation, generator=g)
        labels = None if conditions is None else conditions[torch.arange(start, start + size) // n].to(device)
        yield to_unit_range(model.generate(z, labels, ema=ema)).cpu()


def generate(cfg: DictConfig) -> Path:
    n, nrow = check_count("n (images, per class or caption when given)", cfg.n), check_count("nrow", cfg.nrow)
    model, run_cfg, g_steps = load_model(cfg.ckpt, cfg.device)
    captions = requested_captions(model, cfg.get("text"))
    if captions is not None:  # one condition per caption or class; image i gets condition i // n
        conditions = caption_embeddings(run_cfg, captions, 1, cfg.get("data_root"))
        requested_labels(model, cfg.classes, 1)  # refuses classes= for text models
    else:
        conditions = requested_labels(model, cfg.classes, 1)
    count = n if conditions is None else n * len(conditions)
    if count > GRID_MAX and not cfg.files:
        raise ConfigError(
            f"{count} images do not fit one grid (at most {GRID_MAX}): lower n, or pass files=true to "
            f"write them all as PNG files (the grid then shows the first {GRID_MAX})"
        )
    out = Path(cfg.out_dir) if cfg.out_dir else Path(cfg.ckpt).resolve().parent.parent / "generated"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)  # noise drawn inside G (StackGAN's conditioning augmentation) is seeded too
    shown = []
    batches = draw_batches(model, count, n, conditions, cfg.seed, cfg.truncation, cfg.ema, cfg.device)
    for start, batch in zip(range(0, count, BATCH_SIZE), batches):
        if start < GRID_MAX:
            shown.append(batch[: GRID_MAX - start])
        for i, image in enumerate(batch if cfg.files else (), start):  # streamed to disk, batch by batch
            suffix = (
                "" if conditions is None else (f"_caption{i // n}" if captions else f"_class{int(conditions[i // n])}")
            )
            save_image(image, out / f"{i:05d}{suffix}.png")
    images = torch.cat(shown)
    trunc = f"_trunc{cfg.truncation}" if cfg.truncation else ""
    grid = out / f"grid_step{g_steps}_seed{cfg.seed}{trunc}{slug(captions) if captions else ''}.png"
    nrow = n if conditions is not None and n <= 16 else nrow
    save_image(images, grid, nrow=nrow, padding=2)
    if captions is not None and nrow == n and len(images) == count:  # one row per caption, captions beside it
        shown = annotate(
            make_grid(images, nrow=nrow, padding=2), f"generator step {g_steps}", captions, cell=images.shape[-2] + 2
        )
        save_image(shown, grid.with_name(grid.stem + "_captions.png"))
    what = f" ({n} for each of {len(captions)} caption{'s' if len(captions) > 1 else ''})" if captions else ""
    print(
        f"{count} images{what} from generator step {g_steps} -> {grid}"
        + (f" (+ {count} PNG files)" if cfg.files else "")
    )
    return grid


main = hydra_command("generate", generate)


if __name__ == "__main__":
    main()
