"""The symmetric contrastive (InfoNCE / CLIP) loss that aligns captions with their images (the DS-SJE / DAMSM idea)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def contrastive_loss(image_emb: Tensor, text_emb: Tensor, temperature: float = 0.1) -> Tensor:
    """½ (CE(image→text) + CE(text→image)) over the batch's cosine similarities / ``temperature``; pair i is
    image i with caption i, every other caption (image) of the batch is a negative.

    image_emb, text_emb: (B, E) (normalised here).
    """
    logits = F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).T / temperature
    target = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
