"""Conditional GANs on the shared training rule: G and D see the class of every image.

Fake images are drawn for the labels of the real batch they are compared with (so classes appear as often as
in the data). ``d_conditioning=acgan`` adds the auxiliary-classifier terms of ACGAN: the critic is also
trained to classify real and fake images, and G to make its images classifiable as the asked class.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.errors import ConfigError
from gan_lab.models.base import GANModule
from gan_lab.nets.conditional import ConditionalDiscriminator, ConditionalGenerator, check_labels


class ConditionalGAN(GANModule):
    """Args (besides GANModule's; ``generator``/``discriminator`` are net factories, config partials):
        num_classes: number of classes (the data's ``num_classes``).
        g_conditioning: ``concat`` | ``cbn``; d_conditioning: ``concat`` | ``projection`` | ``acgan``.
        aux_weight: weight of ACGAN's classification losses.
    """

    def __init__(self, generator: Callable[..., nn.Module], discriminator: Callable[..., nn.Module], *args,
                 num_classes: int | None, latent_dim: int, g_conditioning: str = "concat",
                 d_conditioning: str = "concat", aux_weight: float = 1.0, **kwargs):
        if not num_classes:
            raise ConfigError("a conditional model needs a labelled dataset, and this data has no classes "
                              "(data.num_classes is null): use an unconditional model or labelled data")
        d_kwargs = discriminator.keywords
        spectral_norm = d_kwargs.get("spectral_norm", False)
        super().__init__(
            ConditionalGenerator(generator, latent_dim, num_classes, g_conditioning),
            ConditionalDiscriminator(discriminator, d_kwargs["channels"], d_kwargs["image_size"], num_classes,
                                     d_conditioning, spectral_norm),
            *args, latent_dim=latent_dim, **kwargs,
        )
        self.num_classes, self.aux_weight = num_classes, aux_weight
        self.acgan = d_conditioning == "acgan"
        self._labels_checked = False

    def fake_images(self, generator: nn.Module, z: Tensor, labels: Tensor) -> Tensor:
        return generator(z, labels)

    def critic(self, x: Tensor, labels: Tensor) -> Tensor:
        return self.discriminator(x, labels)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        if not self._labels_checked:  # once: reading the labels makes the host wait for the device
            check_labels(batch[1], self.num_classes, ": set model.num_classes (data.num_classes) to the data's count")
            self._labels_checked = True
        super().training_step(batch, batch_idx)

    def discriminator_loss(self, real: Tensor, fake: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        loss, logs = super().discriminator_loss(real, fake, labels)
        if self.acgan:
            aux = (F.cross_entropy(self.discriminator.classify(real)[1], labels)
                   + F.cross_entropy(self.discriminator.classify(fake)[1], labels))
            loss = loss + self.aux_weight * aux
            logs["d_aux_loss"] = aux.detach()
        return loss, logs

    def generator_loss(self, fake: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        loss, logs = super().generator_loss(fake, labels)
        if self.acgan:
            aux = F.cross_entropy(self.discriminator.classify(fake)[1], labels)
            loss = loss + self.aux_weight * aux
            logs["g_aux_loss"] = aux.detach()
        return loss, logs

    def class_grid_inputs(self, columns: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """One row per class, the same z in each column: (z, labels) for a class-conditional grid."""
        z = self.sample_z(columns, generator=generator).repeat(self.num_classes, 1)
        labels = torch.arange(self.num_classes, device=self.device).repeat_interleave(columns)
        return z, labels
