"""WGAN (Arjovsky et al. 2017): the Wasserstein loss and RMSprop come from the config; what differs from the
shared rule is weight clipping of the critic to [-c, c] after every critic step."""

from __future__ import annotations

import torch

from gan_lab.models.base import GANModule


class WGAN(GANModule):
    def __init__(self, *args, clip_value: float = 0.01, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_value = clip_value

    @torch.no_grad()
    def after_discriminator_step(self) -> None:
        params = list(self.discriminator.parameters())
        torch._foreach_clamp_min_(params, -self.clip_value)
        torch._foreach_clamp_max_(params, self.clip_value)
