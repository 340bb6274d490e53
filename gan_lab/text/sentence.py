"""A frozen sentence encoder (vocabulary + text network, and the image branch it was trained with) and its file.

The file is a plain dict of tensors and a config (``{"state_dict": ..., "gan_lab_config": {"text_encoder": ...}}``)
read back through :func:`gan_lab.checkpoints.load_checkpoint`, the one (weights-only) checkpoint loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gan_lab.errors import CheckpointError
from gan_lab.text.encoders import GRUTextEncoder, HashedBagOfWords, ImageEncoder
from gan_lab.text.tokenizer import Vocabulary


class SentenceEncoder:
    """Captions -> unit-length embeddings (N, embedding_dim), float32 on the CPU; no gradients.

    Args:
        vocabulary: the words the encoder knows (others map to ``<unk>``, see :mod:`gan_lab.text.tokenizer`).
        text: a module ``(ids, lengths) -> (N, E)``.
        image: the image branch trained with ``text`` (None for the hashed fallback).
        description: what this encoder is, for messages and data set names.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        text: nn.Module,
        image: nn.Module | None = None,
        description: str = "hashed bag of words",
        config: dict[str, Any] | None = None,
    ):
        self.vocabulary, self.text, self.image = vocabulary, text.eval(), image.eval() if image is not None else None
        self.description, self.config = description, config or {}
        self.embedding_dim = text.embedding_dim

    @torch.no_grad()
    def __call__(self, captions: list[str], batch_size: int = 2048) -> Tensor:
        out = [
            self.text(*self.vocabulary.encode(captions[i : i + batch_size])).float().cpu()
            for i in range(0, len(captions), batch_size)
        ]
        return torch.cat(out) if out else torch.zeros(0, self.embedding_dim)

    @torch.no_grad()
    def image_features(self, images: Tensor, batch_size: int = 512) -> Tensor:
        """Images in [-1, 1] -> (N, E) unit vectors in the captions' space (the trained encoder's image branch)."""
        if self.image is None:
            raise CheckpointError(
                f"the {self.description} has no image branch: train one with "
                "`python -m gan_lab.text_encoder data=<captioned data>` and pass its checkpoint"
            )
        device = next(self.image.parameters()).device
        return torch.cat(
            [self.image(images[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
        )


def hashed_encoder(captions: list[str], embedding_dim: int) -> SentenceEncoder:
    """The zero-training fallback over the vocabulary of ``captions``."""
    vocabulary = Vocabulary.from_captions(captions)
    return SentenceEncoder(vocabulary, HashedBagOfWords(vocabulary.words, embedding_dim))


def build_networks(config: dict[str, Any]) -> tuple[GRUTextEncoder, ImageEncoder]:
    return (
        GRUTextEncoder(len(config["vocabulary"]), config["embedding_dim"], config["word_dim"], config["hidden"]),
        ImageEncoder(config["channels"], config["image_size"], config["embedding_dim"], config["width"]),
    )


def save_sentence_encoder(path: str | Path, text: nn.Module, image: nn.Module, config: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {f"text.{k}": v.cpu() for k, v in text.state_dict().items()}
    state |= {f"image.{k}": v.cpu() for k, v in image.state_dict().items()}
    torch.save({"state_dict": state, "gan_lab_config": {"text_encoder": config}}, path)
    return path


def load_sentence_encoder(path: str | Path) -> SentenceEncoder:
    """The frozen encoder saved by ``python -m gan_lab.text_encoder``."""
    from gan_lab.checkpoints import load_checkpoint  # (imports the models; keep gan_lab.text light)

    if not Path(path).is_file():
        raise CheckpointError(
            f"no text encoder at {path}: train one with `python -m gan_lab.text_encoder data=shapes` "
            "(it prints where it saved it), or set data.text_encoder=null for the hashed fallback"
        )
    ckpt = load_checkpoint(path)
    config = ckpt["gan_lab_config"].get("text_encoder")
    if not config:
        raise CheckpointError(
            f"{path} is not a text encoder checkpoint (it holds no text_encoder config): write one "
            "with `python -m gan_lab.text_encoder data=shapes`"
        )
    text, image = build_networks(config)
    state = ckpt["state_dict"]
    text.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("text.")})
    image.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("image.")})
    return SentenceEncoder(Vocabulary(config["vocabulary"]), text, image, f"text encoder {path}", config)
