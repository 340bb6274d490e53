"""What every captioned data set shares (``data=shapes``, ``data=cub``): images with a class and several
sentence embeddings each, served as ``(images, classes, embeddings)`` training batches.

Embeddings of all captions are computed once (at setup), so no text is encoded in the training loop. Each time
an image is served, one of its captions is picked: a hash of (seed, epoch, index), so each epoch draws afresh,
the same run gives the same draws, and a resumed run continues the sequence (Lightning restores the epoch).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from gan_lab.data.datamodule import InMemoryImages, SplitDataModule
from gan_lab.errors import ConfigError
from gan_lab.images import to_tanh_range
from gan_lab.kinds import Yields


def caption_choice(indices: Tensor, epoch: int, seed: int, n_captions: int) -> Tensor:
    """Which caption of each image to serve: an integer hash of (seed, epoch, index), in [0, n_captions)."""
    h = indices.long() * 0x9E3779B1 + (epoch + 1) * 0x85EBCA77 + seed * 0xC2B2AE3D
    h = (h ^ (h >> 15)) * 0x2C1B3C6D
    h = (h ^ (h >> 12)) * 0x297A2D39
    return ((h ^ (h >> 15)) & 0x7FFFFFFF) % n_captions


def mismatched_indices(classes: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """For each item of a batch, the index of another item of a different class (the "wrong" image / text of
    matching-aware discriminators). Items whose class is the only one in the batch get another item at random.

    >>> mismatched_indices(torch.tensor([0, 0, 1]))[2].item() in (0, 1)
    True
    """
    different = (classes[:, None] != classes[None, :]).float()
    if len(classes) < 2:
        raise ConfigError("mismatched pairs need batches of at least 2 images: raise data.batch_size")
    lonely = different.sum(1) == 0
    different[lonely] = 1.0 - torch.eye(len(classes), device=classes.device)[lonely]
    return torch.multinomial(different, 1, generator=generator).squeeze(1)


class CaptionedImages(InMemoryImages):
    """A split in memory: uint8 images (N, C, S, S), classes (N,), caption embeddings (N, K, E), and optionally
    the captions (N lists of K strings) and attribute values (N, n_attributes)."""

    def __init__(
        self,
        images: Tensor,
        classes: Tensor,
        embeddings: Tensor,
        captions: list[list[str]] | None = None,
        attributes: Tensor | None = None,
        seed: int = 0,
    ):
        super().__init__(images, classes)
        self.classes, self.embeddings, self.captions, self.attributes = classes, embeddings, captions, attributes
        self.seed, self.sampler = seed, None  # the training sampler (for its epoch), set by the data module

    def choice(self, idx: Tensor) -> Tensor:
        epoch = getattr(self.sampler, "epoch", 0)
        return caption_choice(idx, epoch, self.seed, self.embeddings.shape[1]).to(self.embeddings.device)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor]:
        images, classes, embeddings = self.__getitems__([i])
        return images[0], classes[0], embeddings[0]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor, Tensor]:
        idx = torch.as_tensor(indices, device=self.images.device)
        return self.images[idx], self.classes[idx], self.embeddings[idx, self.choice(idx)]

    def to(self, device: torch.device) -> CaptionedImages:
        moved = CaptionedImages(
            self.images.to(device),
            self.classes.to(device),
            self.embeddings.to(device),
            self.captions,
            self.attributes,
            self.seed,
        )
        moved.sampler = self.sampler
        return moved


class CaptionedDataModule(SplitDataModule):
    """Images in [-1, 1], classes and one sentence embedding per image per batch (see the module docstring).

    Subclasses make the splits (:meth:`make_split` returning :class:`CaptionedImages`) and may set
    ``self.encoder`` (a :class:`gan_lab.text.SentenceEncoder`) so that free text can be encoded.
    """

    yields = Yields.CAPTIONED
    attribute_names: tuple[str, ...] = ()

    def __init__(
        self,
        image_size: int,
        channels: int,
        embedding_dim: int,
        num_classes: int,
        batch_size: int,
        seed: int = 0,
        batches_per_step: int = 1,
        num_workers: int = 0,
    ):
        super().__init__(batch_size, seed, batches_per_step, num_workers)
        self.image_size, self.channels = image_size, channels
        self.embedding_dim, self.num_classes = embedding_dim, num_classes
        self.encoder = None

    def encode_text(self, captions: list[str]) -> Tensor:
        """(N, embedding_dim) sentence embeddings of free text, with the encoder of this data's embeddings."""
        if self.encoder is None:
            raise ConfigError(f"{self.name} has no text encoder for free text (its embeddings were precomputed)")
        return self.encoder(list(captions))

    def test_examples(self, n: int | None = None) -> tuple[Tensor, Tensor | None, list[list[str]] | None]:
        """The first ``n`` (all) test images in [-1, 1] on the CPU, their attribute values (N, n_attributes) long
        (None without attributes) and their captions (N lists; None when the data has no caption text)."""
        split = self.split(train=False)
        n = len(split) if n is None else min(n, len(split))
        attributes = None if split.attributes is None else split.attributes[:n].cpu()
        return to_tanh_range(split.images[:n].cpu()), attributes, None if split.captions is None else split.captions[:n]

    def check_embedding_dim(self, found: int, source: str) -> None:
        if found != self.embedding_dim:
            raise ConfigError(
                f"data.embedding_dim={self.embedding_dim} but {source} gives {found}-d embeddings: "
                f"set data.embedding_dim={found}"
            )

    def train_dataloader(self) -> DataLoader:
        loader = super().train_dataloader()
        loader.dataset.sampler = loader.sampler  # its epoch picks the captions (see caption_choice)
        return loader

    def on_after_batch_transfer(self, batch: tuple[Tensor, ...], dataloader_idx: int) -> tuple[Tensor, ...]:
        images, *rest = batch
        return (to_tanh_range(images), *rest)  # on the device
