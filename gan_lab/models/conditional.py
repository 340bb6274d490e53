"""Conditional GANs on the shared training rule: G and D see the class of every image.

Fake images are drawn for the labels of the real batch they are compared with (so classes appear as often as
in the data). G takes the label as a scaled one-hot joined to z (``g_conditioning=concat``) or through
conditional batch norm (``cbn``, optionally with the label at the input too); D as extra input channels
(``d_conditioning=concat``), a projection head (``projection``) or ACGAN's auxiliary class head (``acgan``,
Odena et al. 2017: D's head learns to classify images, and G is trained to make its images classifiable as the
asked class). D's that see the label are matching-aware: real images with a wrong label count as fake, with
weight ``mismatch_weight``.

``aux_fake`` chooses what ACGAN's class head learns from: ``real`` (default) real images only, so it is a
classifier of the data; ``fake`` real and fake images (the original ACGAN); ``tac`` the head on real images and a
twin head on fake ones (TAC-GAN, Gong et al. 2019), G minimising the head's loss and maximising the twin's. The
adversarial output and the class logits come from one pass of D over each image batch. Why the defaults are what
they are, with the measurements: benchmarks/results/conditioning.md.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.errors import ConfigError
from gan_lab.kinds import Condition
from gan_lab.models.base import GANModule
from gan_lab.models.parts import Critique, Draw, Reals
from gan_lab.nets.conditional import ConditionalDiscriminator, ConditionalGenerator, check_labels

AUX_FAKE = ("real", "fake", "tac")


class ConditionalGAN(GANModule):
    """Args (besides GANModule's; ``generator``/``discriminator`` are net factories, config partials):
    num_classes: number of classes (the data's ``num_classes``).
    g_conditioning: ``concat`` | ``cbn`` | ``shared`` (the net takes the labels: BigGAN's);
        d_conditioning: ``concat`` | ``projection`` | ``acgan``.
    aux_weight: weight of ACGAN's classification losses.
    cbn_scale: learning-rate multiplier of the per-class gains and biases of conditional batch norm (g_conditioning
        =cbn; see ConditionalBatchNorm).
    cbn_input: with g_conditioning=cbn, also join the one-hot label to z at G's input (see above).
    mismatch_weight: w of the matching-aware critic (Reed et al. 2016; StackGAN) for D's that see the label
        (concat, projection): real images with a wrong label count as fake, D loss = (1 − w)·loss(real, fake)
        + w·loss(real, real with a wrong label), i.e. real + ½(fake + wrong) at w = ½. 0: off; None (default):
        ½ for the D's that see the label, 0 for ACGAN's.
    aux_fake: what D's class head learns from (ACGAN): ``real`` images only (default), ``fake`` too (the
        original ACGAN, prone to an invisible class code), or ``tac`` (TAC-GAN's twin head on fakes).
    aux_head: ACGAN's class head reads the ``flat`` feature map (conf/model/cgan.yaml's default; see above) or
        its spatial sum (``pooled``: the layout of checkpoints written before the option).
    label_scale: the one-hot label joined to z at G's input is multiplied by this (concat, cbn with cbn_input;
        config default 3, see above; 1: checkpoints written before the option).
    """

    condition = Condition.CLASS

    def __init__(
        self,
        generator: Callable[..., nn.Module],
        discriminator: Callable[..., nn.Module],
        *args,
        num_classes: int | None,
        latent_dim: int,
        g_conditioning: str = "concat",
        d_conditioning: str = "concat",
        aux_weight: float = 1.0,
        aux_fake: str = "real",
        mismatch_weight: float | None = None,
        cbn_scale: float = 1.0,
        cbn_input: bool = False,
        aux_head: str = "pooled",
        label_scale: float = 1.0,
        **kwargs,
    ):
        if not num_classes:
            raise ConfigError(
                "a conditional model needs a labelled dataset, and this data has no classes "
                "(data.num_classes is null): use an unconditional model or labelled data"
            )
        if mismatch_weight is None:
            mismatch_weight = 0.0 if d_conditioning == "acgan" else 0.5
        if not 0 <= mismatch_weight <= 1:
            raise ConfigError(f"model.mismatch_weight must be in [0, 1], got {mismatch_weight}")
        if mismatch_weight and d_conditioning == "acgan":
            raise ConfigError(
                "model.mismatch_weight needs a discriminator that sees the label (d_conditioning=concat "
                "or projection); ACGAN's D does not: set model.mismatch_weight=0"
            )
        if aux_fake not in AUX_FAKE:
            raise ConfigError(f"unknown model.aux_fake {aux_fake!r}: use one of {AUX_FAKE}")
        d_kwargs = discriminator.keywords
        spectral_norm = d_kwargs.get("spectral_norm", False)
        super().__init__(
            ConditionalGenerator(generator, latent_dim, num_classes, g_conditioning, cbn_scale, cbn_input, label_scale),
            ConditionalDiscriminator(
                discriminator,
                d_kwargs["channels"],
                d_kwargs["image_size"],
                num_classes,
                d_conditioning,
                spectral_norm,
                twin=aux_fake == "tac",
                aux_head=aux_head,
            ),
            *args,
            latent_dim=latent_dim,
            **kwargs,
        )
        self.num_classes, self.aux_weight, self.aux_fake = num_classes, aux_weight, aux_fake
        self.acgan = d_conditioning == "acgan"
        self.mismatch_weight = mismatch_weight
        self._labels_checked = False

    def draw(self, generator: nn.Module, z: Tensor, condition: Tensor) -> Draw:
        return Draw(generator(z, condition), condition)

    def judge(self, x: Tensor, condition: Tensor) -> Critique:
        if self.acgan:  # one pass: adversarial output and class logits
            return Critique(*self.discriminator.classify(x))
        return Critique(self.discriminator(x, condition))

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        if not self._labels_checked:  # once: reading the labels makes the host wait for the device
            check_labels(batch[1], self.num_classes, ": set model.num_classes (data.num_classes) to the data's count")
            self._labels_checked = True
        super().training_step(batch, batch_idx)

    def critic_objective(
        self, real: Reals, fake: Draw, real_j: Critique, fake_j: Critique
    ) -> tuple[Tensor, dict[str, Tensor]]:
        loss, logs = super().critic_objective(real, fake, real_j, fake_j)
        labels = real.condition
        if self.mismatch_weight:
            shift = torch.randint(1, self.num_classes, labels.shape, device=labels.device, generator=self.noise)
            wrong = self.d_loss(real_j.out, self.judge(real.images, (labels + shift) % self.num_classes).out)
            loss = loss + self.mismatch_weight * (wrong - logs["d_loss"])
            logs["d_mismatch_loss"] = wrong.detach()
        if self.acgan:
            aux = F.cross_entropy(real_j.logits[:, : self.num_classes], labels)
            if self.aux_fake == "fake":
                aux = aux + F.cross_entropy(fake_j.logits, fake.condition)
            elif self.aux_fake == "tac":  # the twin head (logits K..2K) learns the classes of the fakes
                aux = aux + F.cross_entropy(fake_j.logits[:, self.num_classes :], fake.condition)
            loss = loss + self.aux_weight * aux
            logs["d_aux_loss"] = aux.detach()
        return loss, logs

    def generator_objective(self, fake: Draw, fake_j: Critique, real: Reals) -> tuple[Tensor, dict[str, Tensor]]:
        loss, logs = super().generator_objective(fake, fake_j, real)
        if self.acgan:
            aux = F.cross_entropy(fake_j.logits[:, : self.num_classes], fake.condition)
            if self.aux_fake == "tac":
                aux = aux - F.cross_entropy(fake_j.logits[:, self.num_classes :], fake.condition)
            loss = loss + self.aux_weight * aux
            logs["g_aux_loss"] = aux.detach()
        return loss, logs

    def class_grid_inputs(self, columns: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """One row per class, the same z in each column: (z, labels) for a class-conditional grid."""
        z = self.sample_z(columns, generator=generator).repeat(self.num_classes, 1)
        labels = torch.arange(self.num_classes, device=self.device).repeat_interleave(columns)
        return z, labels
