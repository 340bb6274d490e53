"""What a model conditions on and what a data module yields: declared, so tools branch on the declaration.

Every :class:`~gan_lab.models.GANModule` states ``condition`` (and, for class-conditional models, ``num_classes``;
``stages``: how many images one draw makes, smallest first); every data module states ``yields``. Tools (generate,
evaluate, the sample grids, latent tools, the API, benchmarks) read these and never probe an object's attributes,
its class or a tensor's shape to find out.
"""

from __future__ import annotations

from enum import StrEnum


class Condition(StrEnum):
    """What a generator is conditioned on besides z."""

    NONE = "none"  # G(z)
    CLASS = "class"  # G(z, class id)
    TEXT = "text"  # G(z, caption embedding)


class Yields(StrEnum):
    """What a data module's batches hold."""

    IMAGES = "images"  # (images (B, C, H, W) in [-1, 1], class ids)
    POINTS = "points"  # (2-D points stored as (B, 2, 1, 1), mixture component ids): the toy mixtures
    CAPTIONED = "captioned"  # (images, class ids, caption embeddings)
