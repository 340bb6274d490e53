"""Image helpers every layer may use: range conversion, resizing, blur and annotation (the bottom of gan_lab).

Images travel in two ranges: uint8 [0, 255] on disk and in memory, float [-1, 1] (the generator's tanh range) in
the networks; [0, 1] for saving and for feature networks.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gan_lab.errors import ConfigError


def to_tanh_range(images: Tensor) -> Tensor:
    """uint8 images in [0, 255] -> float images in [-1, 1], the generator's tanh range."""
    return images.float().div_(127.5).sub_(1.0)


def to_unit_range(images: Tensor) -> Tensor:
    """Images in [-1, 1] -> [0, 1], for saving and for feature networks."""
    return images.add(1).div_(2).clamp_(0, 1)


def downsample(images: Tensor, size: int) -> Tensor:
    """Float images (N, C, S, S) -> (N, C, size, size) by area averaging (S a multiple of ``size``): the smaller
    copies of ``data=shapes`` and the lower stages' real images of StackGAN."""
    if images.shape[-1] % size:
        raise ConfigError(f"cannot downsample {images.shape[-1]}-px images to {size} px: use a divisor")
    return F.avg_pool2d(images.float(), images.shape[-1] // size)


def blur(images: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Each image kept, or downsampled ×2 or ×4 (area) and upsampled back (bilinear), with probability ½, ¼, ¼;
    and which images were blurred (N,) bool."""
    size = images.shape[-1]
    out = images.clone()
    kind = torch.randint(4, (len(images),), generator=generator).to(images.device)  # a CPU generator, any device
    for factor, rows in ((2, kind == 2), (4, kind == 3)):
        if rows.any() and size // factor >= 4:
            small = F.avg_pool2d(images[rows], factor)
            out[rows] = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    return out, kind >= 2


def annotate(image: Tensor, title: str, row_labels: list[str] | None = None, cell: int | None = None) -> Tensor:
    """``image`` (3, H, W) in [0, 1] with ``title`` in a strip above and, when given, one label per row of
    ``cell`` pixels in a margin on the left (the class or caption of each row of a conditional grid)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    rows = row_labels or []
    margin = 6 + max((int(font.getlength(t)) for t in rows), default=-6)
    top = 14
    grid = Image.fromarray((image.permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy())
    canvas = Image.new("RGB", (grid.width + margin, grid.height + top), (255, 255, 255))
    canvas.paste(grid, (margin, top))
    draw = ImageDraw.Draw(canvas)
    draw.text((margin + 2, 1), title, fill=(0, 0, 0), font=font)
    for i, text in enumerate(rows):
        draw.text((2, top + 2 + i * (cell or 0) + (cell or 0) // 2 - 6), text, fill=(0, 0, 0), font=font)
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1).float() / 255
