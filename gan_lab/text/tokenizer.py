"""Word-level tokens and the vocabulary of a caption corpus.

Captions are lower-cased and split into words (letters and digits of any script, hyphenated compounds);
punctuation is dropped. A word with letters outside the vocabulary's (``crème``, ``赤い``) is a word like any other:
unknown, so it maps to ``<unk>`` with the warning, never silently dropped or cut in two.
A word outside the vocabulary maps to ``<unk>`` (id 1) and a warning names it; a caption with no word at all,
or with only unknown words, is a one-line :class:`~gan_lab.errors.ConfigError` naming the words.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import torch
from torch import Tensor

from gan_lab.errors import ConfigError

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")  # letters and digits of any script
log = logging.getLogger("gan_lab")


def tokenize(text: str) -> list[str]:
    """Lower-cased words, punctuation dropped.

    >>> tokenize("A big, crimson Disc -- top-left!")
    ['a', 'big', 'crimson', 'disc', 'top-left']
    >>> tokenize("un disque rouge écarlate")
    ['un', 'disque', 'rouge', 'écarlate']
    """
    return _WORD.findall(text.lower())


class Vocabulary:
    """Words ↔ ids; id 0 is padding, id 1 the unknown word."""

    def __init__(self, words: Iterable[str]):
        self.words = [PAD, UNK] + sorted(set(words) - {PAD, UNK})
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_captions(cls, captions: Iterable[str]) -> Vocabulary:
        return cls(w for c in captions for w in tokenize(c))

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, caption: str) -> list[int]:
        """Token ids of one caption; unknown words become ``<unk>`` (with a warning naming them)."""
        tokens = tokenize(caption)
        if not tokens:
            raise ConfigError(f"empty caption {caption!r}: describe the image in words, e.g. 'a large red circle'")
        unknown = [t for t in tokens if t not in self.index]
        if len(unknown) == len(tokens):
            raise ConfigError(
                f"caption {caption!r} has no known word (unknown: {', '.join(unknown)}); the vocabulary "
                f"has {len(self) - 2} words, e.g. {', '.join(self.words[2:8])}"
            )
        if unknown:
            log.warning("caption %r: unknown words mapped to <unk>: %s", caption, ", ".join(unknown))
        return [self.index.get(t, 1) for t in tokens]

    def encode(self, captions: list[str], max_length: int | None = None) -> tuple[Tensor, Tensor]:
        """(ids (N, L) long, right-padded with 0; lengths (N,) long)."""
        rows = [self.ids(c)[:max_length] for c in captions]
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
        ids = torch.zeros(len(rows), int(lengths.max()) if rows else 0, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
        return ids, lengths
