"""Text–image scores of text-to-image models (StackGAN) on captioned data, used by ``python -m gan_lab.evaluate``.

Generated image i is drawn for test item ``i mod N`` with its caption ``(i div N) mod K`` (N test images, K captions
each: the first caption of every test image first). Its scores:

- ``attributes``: per attribute, the share of generated images whose attribute (read by the data's attribute
  classifier, :func:`gan_lab.metrics.attributes.attribute_classifier`, trained once on the real training images and
  cached) is the one their caption asks for (:func:`caption_agreement`'s rule); the protocol gives chance and the
  same share on the real test images (the classifier's ceiling).
- ``r_precision``: AttnGAN's protocol with the data's frozen text encoder: each image's own caption among 99 random
  mismatched ones, ranked by cosine with the encoder's image branch (:func:`r_precision`; chance 0.01); also on the
  real test images (``r_precision_real``). Needs a trained encoder (``data.text_encoder=...``).
- ``swap``: the text–image consistency check: for test captions that name a colour, the same z drawn from the
  caption and from it with the colour word swapped for another colour (:func:`gan_lab.data.captions.swap_attribute`,
  embedded by the data's text encoder); ``swap/colour_follows``: share of swapped images whose colour (attribute
  classifier) is the new one (chance 1/8); ``swap/<attribute>_kept``: share of pairs whose other attributes are read
  the same on both images (:func:`colour_swap`).
- ``diversity``: per-caption diversity over z (conditional mode collapse): the mean RMS pixel distance (images in
  [-1, 1]) between images of one caption under different z, over 16 test captions × 16 z; ``caption_effect`` is the
  distance between images of different captions at one z divided by it (:func:`gan_lab.metrics.conditioning.spread`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from gan_lab.images import to_tanh_range
from gan_lab.metrics.attributes import attribute_agreement, attribute_classifier, chance_levels, r_precision
from gan_lab.metrics.conditioning import spread
from gan_lab.metrics.features import FeatureNetworkError

TEXT_METRICS = ("attributes", "r_precision", "swap", "diversity")
N_CANDIDATES = 100  # R-precision: the true caption + 99 mismatched ones (AttnGAN)
DIVERSITY_CAPTIONS, DIVERSITY_Z = 16, 16
SWAP_CAPTIONS = 256  # the first test captions that name a colour


def caption_inputs(datamodule, n: int) -> tuple[Tensor, list[str] | None, Tensor]:
    """(test item of each of the ``n`` images (n,), their captions (None when the data has no caption text), their
    caption embeddings (n, E) float32 on the CPU)."""
    split = datamodule.split(train=False)
    count, k = split.embeddings.shape[:2]
    i = torch.arange(n)
    items, which = i % count, (i // count) % k
    embeddings = split.embeddings.cpu()[items, which].float()
    captions = (
        None if split.captions is None else [split.captions[a][b] for a, b in zip(items.tolist(), which.tolist())]
    )
    return items, captions, embeddings


def caption_protocol(datamodule) -> dict[str, str]:
    """The protocol line saying which caption each generated image was drawn for (:func:`caption_inputs`)."""
    split = datamodule.split(train=False)
    count, k = split.embeddings.shape[:2]
    return {"captions": f"image i: test item i mod {count}, its caption (i div {count}) mod {k}"}


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in values.items())


class TextImageScores:
    """Reads what the text metrics need from each batch of generated images as it passes (:meth:`see`: attribute
    predictions, the encoder's image features), then scores them (:meth:`results`)."""

    def __init__(self, datamodule, metrics: list[str], n: int, cache_dir: str | Path | None = None, seed: int = 0):
        self.metrics, self.seed = [m for m in metrics if m in TEXT_METRICS], seed
        self.items, self.captions, self.embeddings = caption_inputs(datamodule, n)
        split = datamodule.split(train=False)
        self.real = to_tanh_range(split.images[: len(split)].cpu())
        self.classifier = self.encoder = None
        self.predicted: list[Tensor] = []
        self.features: list[Tensor] = []
        self.datamodule = datamodule
        read_attributes = [m for m in ("attributes", "swap") if m in self.metrics]  # need the attribute classifier
        if read_attributes:
            if not getattr(datamodule, "attribute_names", ()) or self.captions is None:
                raise FeatureNetworkError(
                    f"{read_attributes[0]!r} needs data whose captions name attributes "
                    f"(data=shapes); {datamodule.name} has none: use metrics=[r_precision,fid]"
                )
            with torch.enable_grad():  # trained here on first use (evaluation runs without gradients)
                self.classifier = attribute_classifier(datamodule, cache_dir)
        if "r_precision" in self.metrics:
            encoder = getattr(datamodule, "encoder", None)
            if encoder is None or encoder.image is None:
                raise FeatureNetworkError(
                    "'r_precision' needs the trained text encoder (with its image branch) the run's captions were "
                    "embedded with; this run used the hashed bag of words: train one with `python -m "
                    "gan_lab.text_encoder data=shapes` and train the model with data.text_encoder=<its checkpoint>"
                )
            if min(n, len(split)) < N_CANDIDATES:
                raise FeatureNetworkError(
                    f"'r_precision' ranks each caption among those of {N_CANDIDATES - 1} other "
                    f"test images: it needs n_samples ≥ {N_CANDIDATES} and as many test images "
                    f"(n_samples={n}, {len(split)} test images)"
                )
            self.encoder = encoder

    def see(self, images: Tensor) -> None:
        if "attributes" in self.metrics:  # (swap draws its own images)
            self.predicted.append(self.classifier.predict(images))
        if self.encoder is not None:
            self.features.append(self.encoder.image_features(images))

    def results(self, model, ema: bool = True) -> tuple[dict[str, float], dict[str, str]]:
        results: dict[str, float] = {}
        protocol = caption_protocol(self.datamodule)
        if "attributes" in self.metrics:
            from gan_lab.data.captions import parse_captions

            names = tuple(self.classifier.attributes)
            asked = parse_captions(self.captions)
            fake = attribute_agreement(torch.cat(self.predicted), asked, names)
            real = attribute_agreement(self.classifier.predict(self.real)[self.items], asked, names)
            results |= {f"attributes/{k}": v for k, v in fake.items()}
            protocol |= {
                "attributes": "share of images whose attribute (attribute classifier trained on the real "
                "training images) is the one the caption names (captions that name it)",
                "attributes chance": _fmt(chance_levels(names)),
                "attributes on real test images": _fmt(real),
            }
        if self.encoder is not None:
            g = torch.Generator().manual_seed(self.seed)
            results["r_precision"] = r_precision(torch.cat(self.features), self.embeddings, N_CANDIDATES, self.items, g)
            real = self.encoder.image_features(self.real)[self.items]
            results["r_precision_real"] = r_precision(
                real, self.embeddings, N_CANDIDATES, self.items, torch.Generator().manual_seed(self.seed)
            )
            protocol["r_precision"] = (
                f"own caption ranked first among it + {N_CANDIDATES - 1} random "
                f"captions of other test images by the frozen encoder's cosine (chance {1 / N_CANDIDATES:.2f})"
            )
        if "swap" in self.metrics:
            results |= colour_swap(model, self.datamodule, self.classifier, self.captions, self.seed, ema)
            protocol["swap"] = (
                f"up to {SWAP_CAPTIONS} test captions naming a colour, drawn at one z as written and "
                "with the colour swapped for another: colour_follows = swapped image has the new "
                "colour (chance 0.125); <attribute>_kept = read the same on both images"
            )
        if "diversity" in self.metrics:
            k = min(DIVERSITY_CAPTIONS, len(self.embeddings))
            across_captions, across_z = spread(model, self.embeddings[:k], DIVERSITY_Z, self.seed, ema)
            results["diversity"] = across_z
            results["caption_effect"] = across_captions / max(across_z, 1e-12)
            protocol["diversity"] = (
                f"mean RMS pixel distance (images in [-1, 1]) between images of one caption "
                f"under different z ({k} captions × {DIVERSITY_Z} z); caption_effect: across "
                "captions at one z / diversity"
            )
        return results, protocol


@torch.no_grad()
def colour_swap(
    model, datamodule, classifier, captions: list[str], seed: int = 0, ema: bool = True, n: int = SWAP_CAPTIONS
) -> dict[str, float]:
    """Swap one word (the colour) in each of the first ``n`` distinct ``captions`` that name one, draw both captions
    at the same z, read both images' attributes: ``swap/colour_follows`` (the swapped image has the new colour) and,
    per other attribute, ``swap/<name>_kept`` (read the same on both images)."""
    from gan_lab.data.captions import COLOURS, parse_caption, swap_attribute

    colour = list(classifier.attributes).index("colour")
    named = [c for c in dict.fromkeys(captions) if parse_caption(c)[1] >= 0][:n]
    if not named:
        raise FeatureNetworkError("'swap' needs test captions that name a colour; none of these does")
    g = torch.Generator().manual_seed(seed)
    old = torch.tensor([parse_caption(c)[1] for c in named])
    new = (old + torch.randint(1, len(COLOURS), old.shape, generator=g)) % len(COLOURS)
    swapped = [swap_attribute(c, "colour", COLOURS[v]) for c, v in zip(named, new.tolist())]
    z = model.sample_z(len(named), generator=g)
    before, after = (
        classifier.predict(model.generate(z, datamodule.encode_text(texts).float().to(model.device), ema=ema).float())
        for texts in (named, swapped)
    )
    out = {"swap/colour_follows": (after[:, colour] == new).float().mean().item()}
    for k, name in enumerate(classifier.attributes):
        if k != colour:
            out[f"swap/{name}_kept"] = (after[:, k] == before[:, k]).float().mean().item()
    return out
