"""``data=shapes``: a captioned image set built in, deterministically from a seed, in seconds.

One shape per image (5 shapes) with a fill colour (8), size (3), position on a 3×3 grid (with a little jitter),
background (3), and fine detail: a pattern (solid / striped / dotted / checkered) and an outline. Images are drawn
anti-aliased (``supersample``² samples per pixel) at ``image_size``; smaller sizes are
:func:`gan_lab.images.downsample` copies.

The pattern alternates two tones of the fill colour every ``detail_period // 2`` pixels, with the same mean as
the solid fill: averaged over ``detail_period`` pixels (any downsampling by a multiple of it, e.g. 64 -> 32 with
the default 2), a patterned shape is the solid one. Only the large image shows it.

Ten captions per image (:mod:`gan_lab.data.captions`); the class (for mismatched pairs and a discriminator's class
head) is the mixed-radix number of the ``class_of`` attributes, the last the least significant: shape · 8 + colour
by default.
``test_split=compositional``: the (colour, shape) pairs of ``held_out`` never appear in training and make up the
whole test split; ``iid``: train and test are independent draws from all combinations.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_lab.data.captioned import CaptionedDataModule, CaptionedImages
from gan_lab.data.captions import ATTRIBUTES, COLOURS, SHAPES, VALUES, grammar_texts, make_captions, parse_caption
from gan_lab.errors import ConfigError
from gan_lab.text import hashed_encoder, load_sentence_encoder

COLOUR_RGB = torch.tensor(
    [
        [1.0, 0.1, 0.1],
        [1.0, 0.55, 0.0],
        [1.0, 0.95, 0.1],
        [0.1, 0.8, 0.1],
        [0.0, 0.85, 0.9],
        [0.15, 0.3, 1.0],
        [0.6, 0.15, 0.9],
        [1.0, 0.45, 0.75],
    ]
)
BACKGROUND_RGB = torch.tensor([[0.05, 0.05, 0.05], [0.5, 0.5, 0.5], [0.95, 0.95, 0.95]])
SIZE_FRACTION = (0.08, 0.12, 0.16)  # half-extent of the shape / image side (times data.object_scale)
MAX_OBJECT_SCALE = 2.0  # the largest shape then spans ~70 % of the image
SOLID_TONE = 0.8  # solid fill = 0.8 · colour; patterns alternate around it with the same mean
HELD_OUT = ("blue circle", "red square", "green triangle", "pink diamond", "yellow cross")


_TESTS = (
    lambda u, v: u * u + v * v <= 1.0,  # circle
    lambda u, v: torch.maximum(u.abs(), v.abs()) <= 0.85,  # square
    lambda u, v: (v <= 0.75) & (u.abs() <= (v + 1.0) / 1.75),  # triangle, apex up
    lambda u, v: u.abs() + v.abs() <= 1.1,  # diamond
    lambda u, v: ((u.abs() <= 0.33) & (v.abs() <= 1.0)) | ((v.abs() <= 0.33) & (u.abs() <= 1.0)),  # cross
)


def _inside(shape: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """(N, s, s) bool: the points (u (N, 1, s), v (N, s, 1)), in units of each shape's half-extent (y down), that
    lie inside shape ``shape`` (N,)."""
    out = torch.zeros(len(shape), v.shape[1], u.shape[2], dtype=torch.bool)
    for k, test in enumerate(_TESTS):
        if (rows := (shape == k).nonzero().squeeze(1)).numel():
            out[rows] = test(u[rows], v[rows])
    return out


def _coverage(shape: Tensor, cx: Tensor, cy: Tensor, radius: Tensor, size: int, supersample: int) -> Tensor:
    """(N, S, S) share of each pixel inside the shapes (centres and half-extents in image units): supersampled in a
    window around each shape (all shapes fit in 1.1 half-extents), zero elsewhere."""
    n, window = len(shape), min(size, int(torch.ceil(2.2 * radius.max() * size)) + 2)
    x0 = (cx * size - window / 2).floor().clamp(0, size - window).long()
    y0 = (cy * size - window / 2).floor().clamp(0, size - window).long()
    local = (torch.arange(window * supersample, dtype=torch.float32) + 0.5) / supersample
    u = ((x0[:, None] + local) / size - cx[:, None]) / radius[:, None]  # (N, W·s)
    v = ((y0[:, None] + local) / size - cy[:, None]) / radius[:, None]
    part = F.avg_pool2d(_inside(shape, u[:, None, :], v[:, :, None]).float().unsqueeze(1), supersample).squeeze(1)
    out = torch.zeros(n, size, size)
    span = torch.arange(window)
    out[torch.arange(n)[:, None, None], (y0[:, None] + span)[:, :, None], (x0[:, None] + span)[:, None, :]] = part
    return out


def _pattern_tone(pattern: Tensor, size: int, period: int) -> Tensor:
    """(N, S, S) brightness of the fill: SOLID_TONE, or two tones with mean SOLID_TONE and maximum 1."""
    h = max(period // 2, 1)
    y, x = torch.meshgrid(torch.arange(size) // h % 2, torch.arange(size) // h % 2, indexing="ij")
    masks = torch.stack(
        [torch.ones(size, size), (y == 0).float(), ((x == 0) & (y == 0)).float(), ((x + y) % 2).float()]
    )
    fraction = masks.mean((1, 2), keepdim=True)
    amplitude = torch.where(fraction < 1, (1 - SOLID_TONE) / (1 - fraction).clamp(min=1e-6), torch.zeros(()))
    tones = SOLID_TONE + amplitude * (masks - fraction)
    return tones[pattern]


def render(
    attributes: Tensor,
    offsets: Tensor,
    image_size: int,
    detail_period: int = 2,
    supersample: int = 4,
    object_scale: float = 1.0,
) -> Tensor:
    """uint8 images (N, 3, S, S) of attribute rows (N, 7) (ordered as ``ATTRIBUTES``) with position/size jitter
    ``offsets`` (N, 3) in [-1, 1]; ``object_scale`` multiplies every size's half-extent (:data:`SIZE_FRACTION`)."""
    out = []
    for attrs, jitter in zip(attributes.split(256), offsets.split(256)):
        shape, colour, size, position, background, pattern, outline = attrs.T
        cy = ((position // 3).float() + 0.5) / 3 + 0.04 * jitter[:, 0]
        cx = ((position % 3).float() + 0.5) / 3 + 0.04 * jitter[:, 1]
        radius = object_scale * torch.tensor(SIZE_FRACTION)[size] * (1 + 0.1 * jitter[:, 2])
        inner_scale = (1 - detail_period / (radius * image_size)).clamp(min=0.1)
        cover = _coverage(shape, cx, cy, radius, image_size, supersample)
        inner = _coverage(shape, cx, cy, radius * inner_scale, image_size, supersample)
        fill = torch.where(outline.bool().view(-1, 1, 1), inner, cover)
        band = cover - fill
        tone = _pattern_tone(pattern, image_size, detail_period)
        bg = BACKGROUND_RGB[background].view(-1, 3, 1, 1)
        line = torch.where(background.view(-1, 1, 1, 1) == 0, 0.95, 0.05).expand(-1, 3, 1, 1)
        image = (
            bg * (1 - cover).unsqueeze(1)
            + COLOUR_RGB[colour].view(-1, 3, 1, 1) * (tone * fill).unsqueeze(1)
            + line * band.unsqueeze(1)
        )
        out.append(image.mul(255).round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


def held_out_pairs(held_out: list[str]) -> list[tuple[int, int]]:
    """(shape, colour) pairs named by phrases such as "blue circle"."""
    pairs = []
    for phrase in held_out:
        parsed = parse_caption(phrase)
        if parsed[0] < 0 or parsed[1] < 0:
            raise ConfigError(
                f"data.held_out entry {phrase!r} must name a colour and a shape, e.g. 'blue circle' "
                f"(colours: {', '.join(COLOURS)}; shapes: {', '.join(SHAPES)})"
            )
        pairs.append((parsed[0], parsed[1]))
    return pairs


def sample_attributes(
    n: int, generator: torch.Generator, pairs: list[tuple[int, int]] | None = None, exclude: list[tuple[int, int]] = ()
) -> Tensor:
    """(N, 7) attribute values, uniform and independent; (shape, colour) from ``pairs`` only when given, never
    from ``exclude``."""
    attrs = torch.stack([torch.randint(len(VALUES[a]), (n,), generator=generator) for a in ATTRIBUTES], 1)
    if pairs:
        chosen = torch.tensor(pairs)[torch.randint(len(pairs), (n,), generator=generator)]
        attrs[:, :2] = chosen
    for shape, colour in exclude:
        while (bad := (attrs[:, 0] == shape) & (attrs[:, 1] == colour)).any():
            attrs[bad, 1] = torch.randint(len(COLOURS), (int(bad.sum()),), generator=generator)
    return attrs


class ShapesDataModule(CaptionedDataModule):
    """``data=shapes`` (see the module docstring). ``text_encoder``: a checkpoint of ``python -m
    gan_lab.text_encoder`` (None: the hashed bag-of-words fallback over the caption grammar's words).
    ``class_sizes``, when given, must be the value counts of ``class_of``: the config states them so that a
    discriminator's class head can read them (``model.discriminator.aux_classes: ${data.class_sizes}``)."""

    attribute_names = ATTRIBUTES

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        batch_size: int = 64,
        n_train: int = 10000,
        n_test: int = 1000,
        test_split: str = "iid",
        held_out: list[str] = HELD_OUT,
        text_encoder: str | None = None,
        embedding_dim: int = 128,
        num_classes: int = 40,
        class_of: list[str] = ("shape", "colour"),
        class_sizes: list[int] | None = None,
        captions_per_image: int = 10,
        detail_period: int = 2,
        object_scale: float = 1.0,
        seed: int = 0,
        batches_per_step: int = 1,
        num_workers: int = 0,
    ):
        super().__init__(
            image_size, channels, embedding_dim, num_classes, batch_size, seed, batches_per_step, num_workers
        )
        if channels != 3:
            raise ConfigError(f"data=shapes is RGB: data.channels must be 3, got {channels}")
        unknown = [a for a in class_of if a not in ATTRIBUTES]
        if unknown or not class_of or len(set(class_of)) != len(class_of):
            raise ConfigError(f"data.class_of names distinct attributes among {list(ATTRIBUTES)}, got {list(class_of)}")
        self.class_of = tuple(class_of)
        self.class_sizes = tuple(len(VALUES[a]) for a in self.class_of)
        if class_sizes is not None and tuple(class_sizes) != self.class_sizes:
            raise ConfigError(
                f"data.class_sizes must be the value counts of data.class_of={list(self.class_of)}: "
                f"{list(self.class_sizes)}, got {list(class_sizes)}"
            )
        if num_classes != math.prod(self.class_sizes):
            raise ConfigError(
                f"data=shapes with data.class_of={list(self.class_of)} has {math.prod(self.class_sizes)} classes: "
                f"set data.num_classes={math.prod(self.class_sizes)}, got {num_classes}"
            )
        if test_split not in ("iid", "compositional"):
            raise ConfigError(f"data.test_split must be 'iid' or 'compositional', got {test_split!r}")
        if image_size % detail_period or image_size < 16:
            raise ConfigError(
                f"data.image_size must be ≥ 16 and a multiple of data.detail_period ({detail_period}), got {image_size}"
            )
        if not 0 < object_scale <= MAX_OBJECT_SCALE:
            raise ConfigError(
                f"data.object_scale multiplies the shapes' sizes and must be in (0, {MAX_OBJECT_SCALE}] "
                f"(1: the released sizes), got {object_scale}"
            )
        self.n_train, self.n_test, self.test_split = n_train, n_test, test_split
        self.object_scale = float(object_scale)
        self.held_out = held_out_pairs(list(held_out)) if test_split == "compositional" else []
        self.text_encoder, self.captions_per_image, self.detail_period = text_encoder, captions_per_image, detail_period

    @property
    def name(self) -> str:
        """What identifies the images: seed, sizes, split rule (with the held-out pairs), detail period, object
        scale (named only when not 1, so the released images keep their name)."""
        split = "iid" if not self.held_out else "compositional(" + ",".join(f"{s}.{c}" for s, c in self.held_out) + ")"
        scale = "" if self.object_scale == 1 else f":objects×{self.object_scale:g}"
        return (
            f"shapes:{self.seed}:{self.n_train}+{self.n_test}:{split}:{self.detail_period}:"
            f"{self.image_size}x{self.image_size}x3{scale}"
        )

    def generate(self, train: bool) -> tuple[Tensor, Tensor, list[list[str]]]:
        """(uint8 images, attributes (N, 7), captions) of a split, deterministic from the seed."""
        g = torch.Generator().manual_seed(self.seed * 2 + (0 if train else 1))
        n = self.n_train if train else self.n_test
        if train:
            attrs = sample_attributes(n, g, exclude=self.held_out)
        else:
            attrs = sample_attributes(n, g, pairs=self.held_out or None)
        offsets = torch.rand(n, 3, generator=g) * 2 - 1
        rng = random.Random(self.seed * 2 + (0 if train else 1))
        captions = [make_captions(row, rng, self.captions_per_image) for row in attrs.tolist()]
        images = render(attrs, offsets, self.image_size, self.detail_period, object_scale=self.object_scale)
        return images, attrs, captions

    def sentence_encoder(self):
        """The encoder of every caption embedding of this data (made once): the trained one of ``text_encoder``,
        or the hashed bag of words over the caption grammar's words (every word a training caption can hold)."""
        if self.encoder is None:
            if self.text_encoder:
                self.encoder = load_sentence_encoder(self.text_encoder)
                self.check_embedding_dim(self.encoder.embedding_dim, f"the text encoder {self.text_encoder}")
            else:
                self.encoder = hashed_encoder(grammar_texts(), self.embedding_dim)
        return self.encoder

    def make_split(self, train: bool) -> CaptionedImages:
        images, attrs, captions = self.generate(train)
        flat = self.sentence_encoder()([c for cs in captions for c in cs])
        embeddings = flat.view(len(captions), self.captions_per_image, -1)
        classes = torch.zeros(len(attrs), dtype=torch.long)
        for attribute, size in zip(self.class_of, self.class_sizes):
            classes = classes * size + attrs[:, ATTRIBUTES.index(attribute)]
        return CaptionedImages(images, classes, embeddings, captions, attrs, self.seed)

    def encode_text(self, captions: list[str]) -> Tensor:
        self.sentence_encoder()
        return super().encode_text(captions)
