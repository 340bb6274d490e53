"""Conditional GANs on the shared training rule: G and D see the class of every image.

Fake images are drawn for the labels of the real batch they are compared with (so classes appear as often as
in the data). ``d_conditioning=acgan`` adds the auxiliary-classifier terms of ACGAN (Odena et al. 2017): D's
class head learns to classify images, and G is trained to make its images classifiable as the asked class.

What ``aux_fake`` decides, and why the default is ``real`` (measured on mnist_5k, README "Conditioning"):
- ``fake`` (the original ACGAN): D's class head is trained on real *and* fake images. G and D can then agree on a
  code that only they see: G stamps an invisible pattern per class on its images, the head learns to read it,
  ``g_aux_loss`` falls towards 0 while an independent classifier sees the asked class in ~10–16 % of the images
  (chance) — every row of a class grid looks the same.
- ``real`` (default): the head learns from real images only, so it is a classifier of the data; G can lower its
  aux loss only by drawing digits of the asked class.
- ``tac`` (TAC-GAN, Gong et al. 2019): the head on real images, a twin head on fake images; G minimises the
  head's loss and maximises the twin's, which removes ACGAN's bias towards easy-to-classify samples.
The adversarial output and the class logits come from one pass of D over each image batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.errors import ConfigError
from gan_lab.models.base import GANModule
from gan_lab.nets.conditional import ConditionalDiscriminator, ConditionalGenerator, check_labels

AUX_FAKE = ("real", "fake", "tac")


class ConditionalGAN(GANModule):
    """Args (besides GANModule's; ``generator``/``discriminator`` are net factories, config partials):
        num_classes: number of classes (the data's ``num_classes``).
        g_conditioning: ``concat`` | ``cbn``; d_conditioning: ``concat`` | ``projection`` | ``acgan``.
        aux_weight: weight of ACGAN's classification losses.
        aux_fake: what D's class head learns from (ACGAN): ``real`` images only (default), ``fake`` too (the
            original ACGAN, prone to an invisible class code), or ``tac`` (TAC-GAN's twin head on fakes).
    """

    def __init__(self, generator: Callable[..., nn.Module], discriminator: Callable[..., nn.Module], *args,
                 num_classes: int | None, latent_dim: int, g_conditioning: str = "concat",
                 d_conditioning: str = "concat", aux_weight: float = 1.0, aux_fake: str = "real",
                 **kwargs):
        if not num_classes:
            raise ConfigError("a conditional model needs a labelled dataset, and this data has no classes "
                              "(data.num_classes is null): use an unconditional model or labelled data")
        if aux_fake not in AUX_FAKE:
            raise ConfigError(f"unknown model.aux_fake {aux_fake!r}: use one of {AUX_FAKE}")
        d_kwargs = discriminator.keywords
        spectral_norm = d_kwargs.get("spectral_norm", False)
        super().__init__(
            ConditionalGenerator(generator, latent_dim, num_classes, g_conditioning),
            ConditionalDiscriminator(discriminator, d_kwargs["channels"], d_kwargs["image_size"], num_classes,
                                     d_conditioning, spectral_norm, twin=aux_fake == "tac"),
            *args, latent_dim=latent_dim, **kwargs,
        )
        self.num_classes, self.aux_weight, self.aux_fake = num_classes, aux_weight, aux_fake
        self.acgan = d_conditioning == "acgan"
        self._class_logits: list[Tensor] = []  # ACGAN: class logits of the critic calls of the current loss
        self._labels_checked = False

    def fake_images(self, generator: nn.Module, z: Tensor, labels: Tensor) -> Tensor:
        return generator(z, labels)

    def critic(self, x: Tensor, labels: Tensor) -> Tensor:
        if not self.acgan:
            return self.discriminator(x, labels)
        out, logits = self.discriminator.classify(x)  # one pass: adversarial output and class logits
        self._class_logits.append(logits)
        return out

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        if not self._labels_checked:  # once: reading the labels makes the host wait for the device
            check_labels(batch[1], self.num_classes, ": set model.num_classes (data.num_classes) to the data's count")
            self._labels_checked = True
        super().training_step(batch, batch_idx)

    def discriminator_loss(self, real: Tensor, fake: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        self._class_logits.clear()
        loss, logs = super().discriminator_loss(real, fake, labels)  # critic(real), then critic(fake), first
        if self.acgan:
            real_logits, fake_logits = self._class_logits[:2]
            aux = F.cross_entropy(real_logits[:, :self.num_classes], labels)
            if self.aux_fake == "fake":
                aux = aux + F.cross_entropy(fake_logits, labels)
            elif self.aux_fake == "tac":  # the twin head (logits K..2K) learns the classes of the fakes
                aux = aux + F.cross_entropy(fake_logits[:, self.num_classes:], labels)
            loss = loss + self.aux_weight * aux
            logs["d_aux_loss"] = aux.detach()
        return loss, logs

    def generator_loss(self, fake: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        self._class_logits.clear()
        loss, logs = super().generator_loss(fake, labels)
        if self.acgan:
            logits = self._class_logits[0]
            aux = F.cross_entropy(logits[:, :self.num_classes], labels)
            if self.aux_fake == "tac":
                aux = aux - F.cross_entropy(logits[:, self.num_classes:], labels)
            loss = loss + self.aux_weight * aux
            logs["g_aux_loss"] = aux.detach()
        return loss, logs

    def class_grid_inputs(self, columns: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """One row per class, the same z in each column: (z, labels) for a class-conditional grid."""
        z = self.sample_z(columns, generator=generator).repeat(self.num_classes, 1)
        labels = torch.arange(self.num_classes, device=self.device).repeat_interleave(columns)
        return z, labels
