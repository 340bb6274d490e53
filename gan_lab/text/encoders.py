"""Sentence and image encoders for captioned data: plain modules on token ids and images.

Every sentence encoder maps (ids (N, L), lengths (N,)) to unit-length embeddings (N, embedding_dim), so the
hashed fallback, the trained encoder and the image branch live in one cosine space.
"""

from __future__ import annotations

import zlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _mean_over_tokens(x: Tensor, lengths: Tensor) -> Tensor:  # (N, L, D), (N,) -> (N, D)
    mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
    return (x * mask[..., None]).sum(1) / lengths.to(x.device).clamp(min=1)[:, None]


class HashedBagOfWords(nn.Module):
    """The zero-training fallback: each word gets a fixed random vector seeded by a hash (CRC-32) of its text; a
    sentence is the normalised mean of its words' vectors (word order ignored; ``<unk>`` has a vector too)."""

    def __init__(self, words: list[str], embedding_dim: int):
        super().__init__()
        table = torch.stack(
            [torch.randn(embedding_dim, generator=torch.Generator().manual_seed(zlib.crc32(w.encode()))) for w in words]
        )
        table[0] = 0  # <pad>
        self.register_buffer("table", table)
        self.embedding_dim = embedding_dim

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:  # (N, L) long, (N,) -> (N, E)
        return F.normalize(_mean_over_tokens(self.table[ids], lengths), dim=1)


class GRUTextEncoder(nn.Module):
    """Word embeddings -> bidirectional GRU -> mean over the caption's tokens -> linear -> unit vector."""

    def __init__(self, vocab_size: int, embedding_dim: int, word_dim: int = 64, hidden: int = 128):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.words = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        self.gru = nn.GRU(word_dim, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, embedding_dim)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:  # (N, L) long, (N,) -> (N, E)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.words(ids), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        return F.normalize(self.proj(_mean_over_tokens(out, lengths)), dim=1)


class ImageEncoder(nn.Module):
    """A small CNN: (N, channels, S, S) in [-1, 1] -> unit vectors (N, embedding_dim); inputs of another size are
    resized to ``image_size`` (area/bilinear) first."""

    def __init__(self, channels: int, image_size: int, embedding_dim: int, width: int = 32):
        super().__init__()
        self.image_size = image_size

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, True)]

        layers, c, size = block(channels, width), width, image_size // 2
        while size > 4:
            layers += block(c, min(2 * c, 8 * width))
            c, size = min(2 * c, 8 * width), size // 2
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * size * size, embedding_dim))

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[-1] != self.image_size:
            images = F.interpolate(
                images.float(), size=(self.image_size, self.image_size), mode="bilinear", antialias=True
            )
        return F.normalize(self.body(images), dim=1)
