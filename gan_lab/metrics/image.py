"""FID, KID and Inception Score through torchmetrics, on features from a configurable feature network.

Features are extracted by gan_lab (so the real ones can be cached per dataset + split + feature network) and
handed to torchmetrics' metrics, whose ``feature`` argument accepts any module: here one that passes
precomputed features through. The statistics — Fréchet distance, polynomial-kernel MMD over subsets,
exp(E KL(p(y|x) ‖ p(y))) over splits — are torchmetrics' own.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from gan_lab.data.datamodule import InMemoryImages
from gan_lab.images import to_tanh_range
from gan_lab.metrics.features import FeatureNetworkError

IMAGE_METRICS = ("fid", "kid", "is")  # scored together here, from one seeded random stream


class Precomputed(nn.Module):
    """The identity, declaring the width of the features it passes to a torchmetrics metric."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


def image_metrics(
    real: Tensor | None,
    fake: Tensor,
    fake_logits: Tensor | None = None,
    metrics: Iterable[str] = ("fid", "kid"),
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    is_splits: int = 10,
    seed: int = 0,
) -> dict[str, float]:
    """FID / KID (mean and std over subsets) / IS (mean and std over splits) from (N, D) features; other names in
    ``metrics`` are left to their own scorers (:mod:`gan_lab.metrics.registry`)."""
    metrics = [m for m in metrics if m in IMAGE_METRICS]
    out: dict[str, float] = {}
    with torch.random.fork_rng(devices=[]):  # KID subsets and IS splits are random: seed them, touch nothing else
        torch.manual_seed(seed)
        if "fid" in metrics:
            fid = FrechetInceptionDistance(feature=Precomputed(fake.shape[1]))
            fid.update(real.double(), real=True)
            fid.update(fake.double(), real=False)
            out["fid"] = fid.compute().item()
        if "kid" in metrics:
            size = min(kid_subset_size, len(real), len(fake))
            whole = size == min(len(real), len(fake))  # every subset would be the same images: one subset, no ±
            kid = KernelInceptionDistance(
                feature=Precomputed(fake.shape[1]), subsets=1 if whole else kid_subsets, subset_size=size
            )
            kid.update(real.double(), real=True)
            kid.update(fake.double(), real=False)
            mean, std = kid.compute()
            out["kid"] = mean.item()
            if not whole:
                out["kid_std"] = std.item()
        if "is" in metrics:
            if fake_logits is None:
                raise FeatureNetworkError("the Inception Score needs class logits from the feature network")
            score = InceptionScore(feature=Precomputed(fake_logits.shape[1]), splits=is_splits)
            score.update(fake_logits.double())
            mean, std = score.compute()
            out["is"], out["is_std"] = mean.item(), std.item()
    return out


class Progress:
    """Lines such as ``real features (test split): 500/10000 images · 41 images/s · 0:03:52 left``: after the
    first batch (how long the rest will take, e.g. Inception on a CPU), every ``every_s`` seconds and at the end."""

    def __init__(self, label: str, total: int, every_s: float = 10.0, out: Callable[[str], None] = print):
        self.label, self.total, self.every_s, self.out = label, total, every_s, out
        self.done, self.start, self.shown = 0, time.monotonic(), None

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.shown is None or now - self.shown >= self.every_s or self.done >= self.total:
            rate = self.done / max(now - self.start, 1e-9)
            left = timedelta(seconds=round(max(self.total - self.done, 0) / rate)) if rate else "?"
            self.out(f"{self.label}: {self.done}/{self.total} images · {rate:.0f} images/s · {left} left")
            self.shown = now


@torch.no_grad()
def extract(
    network: nn.Module,
    batches: Iterable[Tensor],
    logits: bool = False,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> tuple[Tensor, Tensor | None]:
    """(features, logits or None) of every image in ``batches`` (images in [-1, 1]), on the CPU in float64-ready
    float32; reported to ``progress`` batch by batch when given."""
    feats, outs = [], []
    for images in batches:
        images = images.to(device)
        feats.append(network(images).float().cpu())
        if logits:
            outs.append(network.logits(images).float().cpu())
        if progress is not None:
            progress.update(len(images))
    return torch.cat(feats), (torch.cat(outs) if logits else None)


def real_batches(dataset, n: int, batch_size: int) -> Iterator[Tensor]:
    """The first ``n`` images of a split, in [-1, 1], in batches (a fixed, reproducible reference set)."""
    if n > len(dataset):
        raise FeatureNetworkError(f"asked for {n} real images but the split holds only {len(dataset)}")
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if isinstance(dataset, InMemoryImages):
            images = dataset.images[start:stop]
        else:
            images = torch.stack([dataset[i][0] for i in range(start, stop)])
        yield to_tanh_range(images) if images.dtype == torch.uint8 else images


def fake_batches(
    generate: Callable[[Tensor, Tensor | None], Tensor],
    sample_z: Callable[..., Tensor],
    n: int,
    batch_size: int,
    seed: int,
    truncation: float | None = None,
    labels: Tensor | None = None,
) -> Iterator[Tensor]:
    """``n`` generated images from seeded z (and the given labels, for conditional models), in batches."""
    g = torch.Generator().manual_seed(seed)
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        z = sample_z(size, truncation=truncation, generator=g)
        yield generate(z, None if labels is None else labels[start : start + size])


class FeatureCache:
    """Real-image features on disk, keyed by everything that changes them (dataset, split, size, n, network)."""

    def __init__(self, directory: str | Path | None):
        self.directory = Path(directory) if directory else None
        self.hits = 0

    def path(self, key: dict) -> Path:
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return self.directory / f"{key['dataset']}-{key['split']}-{key['network']}-{key['n']}-{digest}.pt"

    def get_or_compute(self, key: dict, compute: Callable[[], tuple[Tensor, Tensor | None]]):
        if self.directory is None:
            return compute()
        path = self.path(key)
        if path.is_file():
            self.hits += 1
            saved = torch.load(path, weights_only=True)
            return saved["features"], saved.get("logits")
        features, logits = compute()
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"features": features, "logits": logits, "key": json.dumps(key)}, path)
        return features, logits
