"""The caption grammar of ``data=shapes``: ten captions per image from templates, synonyms and dropped attributes,
and the parser that reads a caption back into the attributes it asks for.

Every attribute value has a set of phrases; phrase sets are disjoint, so a caption (generated or typed by a user)
parses back unambiguously: :func:`parse_caption` returns, per attribute, the value it names or -1 (not mentioned).
The shape is always named; every other attribute is dropped from a caption with the probability in ``KEEP``.
"""

from __future__ import annotations

import random
import re

import torch
from torch import Tensor

ATTRIBUTES = ("shape", "colour", "size", "position", "background", "pattern", "outline")
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
COLOURS = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")
SIZES = ("small", "medium", "large")
ROWS, COLUMNS = ("top", "middle", "bottom"), ("left", "centre", "right")
POSITIONS = tuple(f"{r} {c}" for r in ROWS for c in COLUMNS)  # index = 3 * row + column
BACKGROUNDS = ("black", "grey", "white")
PATTERNS = ("solid", "striped", "dotted", "checkered")
OUTLINES = ("plain", "outlined")
VALUES = {
    "shape": SHAPES,
    "colour": COLOURS,
    "size": SIZES,
    "position": POSITIONS,
    "background": BACKGROUNDS,
    "pattern": PATTERNS,
    "outline": OUTLINES,
}

# Phrases per attribute value (disjoint across all values of all attributes).
_ROW = {"top": ["top", "upper"], "middle": ["middle", "centre", "center"], "bottom": ["bottom", "lower"]}
_COLUMN = {"left": ["left"], "centre": ["centre", "center", "middle"], "right": ["right"]}


def _position_phrases(row: str, col: str) -> list[str]:
    if row == "middle" and col == "centre":
        return ["in the centre", "in the center", "in the middle", "at the centre"]
    if col == "centre":  # "at the top", "top centre"
        return [f"at the {r}" for r in _ROW[row]] + [f"{r} {c}" for r in _ROW[row] for c in ("centre", "middle")]
    if row == "middle":  # "on the left", "middle left"
        return [f"on the {col}", f"at the {col}", f"middle {col}", f"centre {col}"]
    return [
        f"{prefix}{r}{sep}{col}{suffix}"
        for r in _ROW[row]
        for prefix, sep, suffix in (("in the ", " ", ""), ("", "-", ""), ("", " ", " corner"), ("", " ", ""))
    ]


PHRASES: dict[str, list[list[str]]] = {
    "shape": [
        ["circle", "disc", "disk", "round shape"],
        ["square", "box"],
        ["triangle", "triangular shape"],
        ["diamond", "rhombus", "lozenge"],
        ["cross", "plus sign"],
    ],
    "colour": [
        ["red", "crimson", "scarlet"],
        ["orange", "tangerine"],
        ["yellow", "golden"],
        ["green", "emerald", "lime"],
        ["cyan", "turquoise", "aqua"],
        ["blue", "cobalt", "sapphire"],
        ["purple", "violet"],
        ["pink", "rose", "fuchsia"],
    ],
    "size": [["small", "tiny", "little"], ["medium", "medium-sized", "mid-sized"], ["large", "big", "huge"]],
    "position": [_position_phrases(r, c) for r in ROWS for c in COLUMNS],
    "background": [
        ["on a black background", "on black", "against black"],
        ["on a grey background", "on a gray background", "on grey", "against grey"],
        ["on a white background", "on white", "against white"],
    ],
    "pattern": [
        ["solid", "plain"],
        ["striped", "stripy"],
        ["dotted", "spotted", "polka-dot"],
        ["checkered", "chequered", "checked"],
    ],
    "outline": [["borderless", "unoutlined"], ["outlined", "bordered"]],
}
# Phrases that follow the noun ({pattern_post}, {outline_post} in the templates).
POSTFIX: dict[str, list[list[str]]] = {
    "pattern": [
        ["in one flat colour", "filled uniformly"],
        ["with stripes", "with a striped pattern"],
        ["with dots", "with polka dots"],
        ["with a checkerboard pattern", "with checks"],
    ],
    "outline": [["without an outline", "with no border"], ["with an outline", "with a dark border"]],
}
# Probability that a caption mentions each attribute (the shape always).
KEEP = {"shape": 1.0, "colour": 0.9, "size": 0.7, "position": 0.7, "background": 0.4, "pattern": 0.6, "outline": 0.3}

# {x} is the phrase of attribute x or "" when dropped; spaces and commas are tidied afterwards.
TEMPLATES = (
    "a {size} {colour} {pattern} {shape} {position} {background} {outline_post}",
    "{colour} {shape}, {position}, {pattern}, {size}, {background}",
    "there is a {size} {outline} {colour} {shape} {pattern_post} {position} {background}",
    "a picture of a {colour} {shape} {position}, {size}, {pattern} {background}",
    "{position} there is a {size} {colour} {shape} {outline_post}",
    "this image shows a {pattern} {colour} {shape} {background} {position}",
    "a {shape} {position}, {colour}, {size}, {outline} {pattern_post}",
    "{size} {pattern} {colour} {shape} {background}",
)


def _lexicon() -> list[tuple[str, str, int]]:
    """(phrase, attribute, value), longest phrases first, for the parser."""
    entries = [
        (p, a, v)
        for table in (PHRASES, POSTFIX)
        for a, per_value in table.items()
        for v, ps in enumerate(per_value)
        for p in ps
    ]
    return sorted(entries, key=lambda e: -len(e[0]))


_LEXICON = _lexicon()
_PATTERN = re.compile("|".join(rf"(?<![\w-]){re.escape(p)}(?![\w-])" for p, _, _ in _LEXICON))
_LOOKUP = {p: (a, v) for p, a, v in _LEXICON}
_POSTFIX_PHRASES = {p for per_value in POSTFIX.values() for ps in per_value for p in ps}


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+,", ",", text)
    text = re.sub(r",(\s*,)+", ",", text)
    text = re.sub(r"^[\s,]+|[\s,]+$", "", text)
    return re.sub(r"\ba ([aeiou])", r"an \1", text)


def make_captions(attributes: list[int], rng: random.Random, n: int = 10) -> list[str]:
    """``n`` captions of one image with the given attribute values (ordered as ``ATTRIBUTES``)."""
    captions = []
    for _ in range(n):
        keep = {a: rng.random() < KEEP[a] for a in ATTRIBUTES}
        words = {a: rng.choice(PHRASES[a][v]) if keep[a] else "" for a, v in zip(ATTRIBUTES, attributes)}
        words.update(
            {f"{a}_post": rng.choice(POSTFIX[a][attributes[ATTRIBUTES.index(a)]]) if keep[a] else "" for a in POSTFIX}
        )
        captions.append(_tidy(rng.choice(TEMPLATES).format(**words)))
    return captions


def grammar_texts() -> list[str]:
    """Every phrase and template of the grammar: their words are all the words a generated caption can hold."""
    return [p for table in (PHRASES, POSTFIX) for per_value in table.values() for ps in per_value for p in ps] + [
        t.replace("{", " ").replace("}", " ") for t in TEMPLATES
    ]


def parse_caption(caption: str) -> list[int]:
    """The attribute values a caption names, ordered as ``ATTRIBUTES``; -1 where it names none.

    >>> parse_caption("a big crimson disc in the upper left")
    [0, 0, 2, 0, -1, -1, -1]
    """
    found = [-1] * len(ATTRIBUTES)
    for match in _PATTERN.finditer(caption.lower()):
        attribute, value = _LOOKUP[match.group(0)]
        found[ATTRIBUTES.index(attribute)] = value
    return found


def swap_attribute(caption: str, attribute: str, value: str) -> str:
    """The caption with its phrase for ``attribute`` replaced by one for ``value`` (both by name), e.g. the colour
    swap of the text-image consistency check. The caption must name the attribute.

    >>> swap_attribute("a big crimson disc in the upper left", "colour", "blue")
    'a big blue disc in the upper left'
    """
    from gan_lab.errors import ConfigError

    if attribute not in VALUES or value not in VALUES[attribute]:
        raise ConfigError(
            f"cannot swap {attribute}={value!r}: attributes and values are "
            + "; ".join(f"{a}: {', '.join(v)}" for a, v in VALUES.items())
        )
    target = VALUES[attribute].index(value)
    text = caption.lower()
    for match in _PATTERN.finditer(text):
        if _LOOKUP[match.group(0)][0] == attribute:
            table = POSTFIX if match.group(0) in _POSTFIX_PHRASES else PHRASES
            new = table[attribute][target][0]
            return _tidy(text[: match.start()] + new + text[match.end() :])
    raise ConfigError(f"caption {caption!r} names no {attribute}: nothing to swap")


def parse_captions(captions: list[str]) -> Tensor:
    """(N, n_attributes) long: :func:`parse_caption` of each caption."""
    return torch.tensor([parse_caption(c) for c in captions], dtype=torch.long).view(-1, len(ATTRIBUTES))
