"""One ``LightningDataModule`` for every image dataset.

Batches leave the loader as uint8 and become float images in [-1, 1] (the generator's tanh range) after
they reach the device, so the host sends a quarter of the bytes and the GPU does the conversion.

``in_memory=True`` decodes the split once into one uint8 tensor (on the GPU when training there); a
batch is then a single index operation, with no per-sample Python. ``in_memory=False`` streams through
the source's per-sample PIL pipeline with ``num_workers`` processes (for sets larger than memory).

Each training step receives ``batch_size * batches_per_step`` images: the model splits them so that every
one of its ``n_critic`` critic steps sees a fresh real batch, as in the WGAN paper. One epoch is therefore
one pass over the data, ``len(data) // (batch_size * n_critic)`` generator steps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from gan_lab.errors import ConfigError
from gan_lab.images import to_tanh_range
from gan_lab.kinds import Yields


class FitImage:
    """Resize the shorter side to ``size``, centre-crop to ``size``×``size``, convert to ``channels`` (1 or 3).

    Works on uint8 tensors shaped (C, H, W) or (N, C, H, W).
    """

    def __init__(self, size: int, channels: int):
        if channels not in (1, 3):
            raise ConfigError(f"data.channels must be 1 (grey) or 3 (RGB), got {channels}")
        self.size, self.channels = size, channels

    def __call__(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.size, self.size):
            x = TF.center_crop(TF.resize(x, self.size, antialias=True), self.size)
        if x.shape[-3] == self.channels:
            return x
        if x.shape[-3] == 1:
            return x.expand(*x.shape[:-3], 3, *x.shape[-2:]).contiguous()
        return TF.rgb_to_grayscale(x[..., :3, :, :])


class InMemoryImages(Dataset):
    """A whole split as one uint8 tensor; ``__getitems__`` serves a batch with one index operation."""

    def __init__(self, images: Tensor, labels: Tensor):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        idx = torch.as_tensor(indices, device=self.images.device)
        return self.images[idx], self.labels[idx]

    def to(self, device: torch.device) -> InMemoryImages:
        return InMemoryImages(self.images.to(device), self.labels.to(device))


def _as_batch(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:  # collate for InMemoryImages
    return batch


def _array_view(ds: Dataset) -> tuple[Tensor, Tensor] | None:
    """(images (N, C, H, W) uint8, labels) of an array-backed dataset, without touching each sample."""
    data = getattr(ds, "data", None)
    labels = getattr(ds, "targets", None)
    if labels is None:
        labels = getattr(ds, "labels", None)
    if data is None or labels is None or isinstance(data, (str, list)):
        return None
    images = torch.as_tensor(data)
    if images.ndim == 3:  # (N, H, W) grey
        images = images.unsqueeze(1)
    elif images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):  # (N, H, W, C)
        images = images.permute(0, 3, 1, 2)
    return images.contiguous(), torch.as_tensor(labels)


def load_in_memory(ds: Dataset, fit: FitImage, num_workers: int = 0, chunk: int = 2048) -> InMemoryImages:
    """Decode a whole split once into one uint8 tensor, resized and channel-converted by ``fit``."""
    arrays = _array_view(ds)
    if arrays is not None:
        images, labels = arrays
        images = torch.cat([fit(part) for part in images.split(chunk)])
        return InMemoryImages(images, labels)
    parts = list(DataLoader(ds, batch_size=256, num_workers=num_workers))  # per-sample decode, once
    return InMemoryImages(torch.cat([p[0] for p in parts]), torch.cat([torch.as_tensor(p[1]) for p in parts]))


class ResumableSampler(Sampler[int]):
    """A DistributedSampler's order for the epoch, started ``skip`` indices in: after a mid-epoch resume the
    epoch goes on with the batches it had not served yet, so a resumed run sees the data of an uninterrupted one."""

    def __init__(self, sampler: DistributedSampler):
        self.sampler, self.skip = sampler, 0

    @property
    def epoch(self) -> int:
        return self.sampler.epoch

    def set_epoch(self, epoch: int) -> None:  # Lightning calls it at the start of every epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        skip, self.skip = self.skip, 0  # only the first epoch after a resume is cut
        return itertools.islice(iter(self.sampler), skip, None)

    def __len__(self) -> int:
        return len(self.sampler)


class ResumableLoader(DataLoader):
    """A DataLoader whose place in the epoch travels in checkpoints (Lightning saves and restores the state of
    loaders that have ``state_dict``/``load_state_dict``): the batches the training loop has processed this epoch
    (read from the loop, which knows what was consumed; the loader itself runs a batch ahead)."""

    trainer: L.Trainer | None = None

    def state_dict(self) -> dict[str, int]:
        done = self.trainer.fit_loop.epoch_loop.batch_progress.current.processed if self.trainer is not None else 0
        return {"batches": done}  # the epoch itself is restored by Lightning (set_epoch)

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.skip = state["batches"] * self.batch_size


def sharded_loader(
    dataset: Dataset, batch_size: int, trainer: L.Trainer | None, seed: int, num_workers: int = 0
) -> DataLoader:
    """Shuffled full batches; a seeded DistributedSampler in every run gives per-rank shards under DDP and
    the same order for epoch e on resume (its seed is seed + e), continued where it stopped (ResumableLoader)."""
    rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
    sampler = ResumableSampler(DistributedSampler(dataset, num_replicas=world, rank=rank, seed=seed, drop_last=True))
    in_memory = isinstance(dataset, InMemoryImages)
    workers = 0 if in_memory else num_workers
    loader = ResumableLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=True,
        num_workers=workers,
        collate_fn=_as_batch if in_memory else None,
        persistent_workers=workers > 0,
    )
    loader.trainer = trainer
    return loader


def ordered_loader(dataset: Dataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    in_memory = isinstance(dataset, InMemoryImages)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=0 if in_memory else num_workers,
        collate_fn=_as_batch if in_memory else None,
    )


class SplitDataModule(L.LightningDataModule):
    """What every gan_lab data module shares: each split made once (``make_split``) and, in memory, kept on the
    training device; seeded, sharded training batches of ``batch_size × batches_per_step``; the test split in order.

    Args:
        batch_size: images per critic or generator step.
        seed: seed of the per-epoch shuffle (epoch e uses seed + e: resuming reproduces the order).
        batches_per_step: real batches per training step (set by training to the model's ``n_critic``).
        num_workers: decoding processes for streaming splits (in-memory splits need none).
    """

    yields: ClassVar[Yields] = Yields.IMAGES  # what the batches hold (gan_lab.kinds)

    def __init__(self, batch_size: int, seed: int = 0, batches_per_step: int = 1, num_workers: int = 0):
        super().__init__()
        self.batch_size, self.seed, self.batches_per_step = batch_size, seed, batches_per_step
        self.num_workers = num_workers
        self._splits: dict[bool, Dataset] = {}

    def make_split(self, train: bool) -> Dataset:
        raise NotImplementedError

    def split(self, train: bool) -> Dataset:
        """The train or test split (made once), as an in-memory tensor dataset or a streaming one."""
        if train not in self._splits:
            self._splits[train] = self.make_split(train)
        ds = self._splits[train]
        if isinstance(ds, InMemoryImages) and self.trainer is not None:
            ds = self._splits[train] = ds.to(self.trainer.strategy.root_device)
        return ds

    @property
    def train_set(self) -> Dataset:
        return self.split(train=True)

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", None) and len(self.train_set) < self.batch_size * self.batches_per_step:
            raise ConfigError(
                f"the training set has {len(self.train_set)} images, fewer than one training step needs "
                f"({self.batch_size} × {self.batches_per_step} critic steps): lower data.batch_size"
            )

    def train_dataloader(self) -> DataLoader:
        return sharded_loader(
            self.train_set, self.batch_size * self.batches_per_step, self.trainer, self.seed, self.num_workers
        )

    def test_dataloader(self) -> DataLoader:
        """The test split in its stored order (for classifiers and evaluation)."""
        return ordered_loader(self.split(train=False), self.batch_size, self.num_workers)


class ImageDataModule(SplitDataModule):
    """Images in [-1, 1] with their labels, from any source in :mod:`gan_lab.data.sources`.

    Args (besides :class:`SplitDataModule`'s):
        source: a callable ``(root, train, download, transform) -> Dataset`` (a config ``_partial_``).
        root: folder the source reads from (and downloads into).
        image_size: side of the square images the networks see; images are resized and centre-cropped.
        channels: 1 (grey) or 3 (RGB); sources are converted.
        in_memory: hold each split as one uint8 tensor (on the training device).
        download: let torchvision fetch missing files (needs network).
        num_classes: number of label classes (for conditional models and evaluation); None if unlabelled.
    """

    def __init__(
        self,
        source: Callable[..., Dataset],
        root: str = "data",
        image_size: int = 28,
        channels: int = 1,
        batch_size: int = 64,
        num_workers: int = 0,
        in_memory: bool = True,
        download: bool = True,
        num_classes: int | None = None,
        seed: int = 0,
        batches_per_step: int = 1,
    ):
        super().__init__(batch_size, seed, batches_per_step, num_workers)
        self.source, self.root, self.download = source, root, download
        self.fit = FitImage(image_size, channels)
        self.image_size, self.channels, self.num_classes = image_size, channels, num_classes
        self.in_memory = in_memory

    @property
    def name(self) -> str:
        """What identifies the images: source, folder (for on-disk sets), size and channels."""
        source = getattr(self.source, "func", self.source).__name__
        return f"{source}:{Path(self.root).resolve()}:{self.image_size}x{self.image_size}x{self.channels}"

    def make_split(self, train: bool) -> Dataset:
        transform = v2.Compose([v2.PILToTensor(), self.fit])
        ds = self.source(root=self.root, train=train, download=self.download, transform=transform)
        return load_in_memory(ds, self.fit, self.num_workers) if self.in_memory else ds

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> tuple[Tensor, Tensor]:
        images, labels = batch
        return to_tanh_range(images), labels  # on the device
