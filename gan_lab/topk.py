"""Top-k generator updates (Sinha et al., NeurIPS 2020, "Top-k Training of GANs: Improving GAN Performance by
Throwing Away Bad Samples").

In each generator step G learns only from the k fakes the critic rates most realistic (the k largest critic
outputs), with k = ⌊fraction · B⌋ annealed from the whole batch: fraction = max(decay^⌊step / every⌋, minimum)
(the paper: decay 0.99 per epoch, minimum 0.5; the authors' code counts epochs of ``every`` generator steps).
With packing the critic rates packs, so the k best packs are kept. The fakes left out get no gradient.
"""

from __future__ import annotations

from torch import Tensor

from gan_lab.errors import ConfigError


def topk_fraction(step: int, every: int, decay: float = 0.99, minimum: float = 0.5) -> float:
    """max(decay^⌊step / every⌋, minimum): the share of the batch G learns from at generator step ``step``."""
    return max(decay ** (step // every), minimum)


def top_k_fake_logits(out: Tensor, k: int) -> Tensor:
    """The ``k`` largest critic outputs of a fake batch (one per sample or pack), differentiably."""
    if not 1 <= k <= len(out):
        raise ConfigError(f"top-k needs 1 ≤ k ≤ batch ({len(out)}), got k = {k}")
    return out.topk(k, dim=0, sorted=False).values
