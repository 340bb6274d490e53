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

What lifted every pair (mnist_5k, 2,000 steps, seed 0, right-class share / classifier-FID by gan_lab's MNIST
classifier, 5,000 images; README "Conditioning"):
- ACGAN's class head reads the whole feature map (``aux_head=flat``, as ACGAN's fully connected head). The DCGAN
  critic ends in C×7×7 features at 28 px; the head on their 7×7 sum knew which strokes an image has but not where,
  a weak classifier whose blind spots G's images filled: concat/acgan 91.1 % / 40.6 → 92.8 % / 28.7, cbn/acgan
  94.1 % / 21.9 → 96.0 % / 20.0.
- The one-hot label joined to z is multiplied by ``label_scale=3``. Beside z ~ N(0, I_100) (norm ≈ 10) a one-hot of
  norm 1 is ~1 % of the input layer's input energy, and under Adam the scale also multiplies how fast the label's
  weights move; at 3 it is ~8 %. Seed 0, scale 1 → 3 (the flat head in both): concat/concat 97.0 % / 22.6 →
  98.7 % / 13.0, concat/acgan 92.8 % / 28.7 → 96.3 % / 18.7, cbn/acgan 96.0 % / 20.0 → 97.4 % / 17.3. At 10 (the
  label half of the input) the critics that judge the label at every pixel gained (concat/concat 98.7 % / 14.4)
  but the projection pairs broke down (concat/projection 55.1 % / 253, cbn/projection 90.6 % / 132).

Tried for ACGAN before those two changes, all worse than the defaults of then (pooled head, scale 1; same
protocol): cbn/acgan with the defaults 94.1 % / 21.9; with
DiffAugment translation on D's inputs 94.0 % / 50.8; aux_weight 0.3 64.2 % / 51.1; aux_weight 3 89.9 % / 48.1;
``aux_fake=tac`` 69.9 % / 75.0; no batch norm in D 92.0 % / 32.9; an EMA of G at 0.995 91.9 % / 32.0.
concat/acgan: translation 89.6 % / 74.4, aux_weight 3 91.5 % / 56.3, an EMA of G at 0.999 (sampling from the
average) 20.5 % / 646 (defaults: 91.1 % / 40.6). ACGAN pulls G towards the images D's class head is surest of;
each of these moved the balance between that pull and the adversarial term, and each lost diversity (FID).

Why cBN generators get the label at the input too (``cbn_input=True``, the default; measured on mnist_5k, 1,000
steps, seed 0, right-class share by gan_lab's MNIST classifier, README "Conditioning"): with cBN alone a class can
only rescale and shift whole channels, so G must first grow class-specific channels before the label can steer
it. Against a concat critic (which sees the label beside every pixel) that happens in time (98 % at 2,000 steps);
against a projection or ACGAN critic, whose class signal arrives only through pooled features, it does not:
cbn/projection 34 % (hinge + spectral norm 38 %, cbn_scale 50 41 %, mismatch weight 0.8 38 %, n_critic 2 37 %,
no batch norm in D 32 %, TTUR 20 %, no mismatch term 22 %), cbn/acgan 22 % (TAC 16 %, cbn_scale 50 37 %). With
the one-hot label also joined to z: cbn/projection 81 %, cbn/acgan 51 %; diagnostics showed D's projection
already classifying 60–70 % of real images while G's images changed with the label but not into its class.
BigGAN's generator takes the same fix (``embed_input``, BigGAN-deep's input layer).
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

    def __init__(self, generator: Callable[..., nn.Module], discriminator: Callable[..., nn.Module], *args,
                 num_classes: int | None, latent_dim: int, g_conditioning: str = "concat",
                 d_conditioning: str = "concat", aux_weight: float = 1.0, aux_fake: str = "real",
                 mismatch_weight: float | None = None, cbn_scale: float = 1.0, cbn_input: bool = False,
                 aux_head: str = "pooled", label_scale: float = 1.0, **kwargs):
        if not num_classes:
            raise ConfigError("a conditional model needs a labelled dataset, and this data has no classes "
                              "(data.num_classes is null): use an unconditional model or labelled data")
        if mismatch_weight is None:
            mismatch_weight = 0.0 if d_conditioning == "acgan" else 0.5
        if not 0 <= mismatch_weight <= 1:
            raise ConfigError(f"model.mismatch_weight must be in [0, 1], got {mismatch_weight}")
        if mismatch_weight and d_conditioning == "acgan":
            raise ConfigError("model.mismatch_weight needs a discriminator that sees the label (d_conditioning=concat "
                              "or projection); ACGAN's D does not: set model.mismatch_weight=0")
        if aux_fake not in AUX_FAKE:
            raise ConfigError(f"unknown model.aux_fake {aux_fake!r}: use one of {AUX_FAKE}")
        d_kwargs = discriminator.keywords
        spectral_norm = d_kwargs.get("spectral_norm", False)
        super().__init__(
            ConditionalGenerator(generator, latent_dim, num_classes, g_conditioning, cbn_scale, cbn_input, label_scale),
            ConditionalDiscriminator(discriminator, d_kwargs["channels"], d_kwargs["image_size"], num_classes,
                                     d_conditioning, spectral_norm, twin=aux_fake == "tac", aux_head=aux_head),
            *args, latent_dim=latent_dim, **kwargs,
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

    def critic_objective(self, real: Reals, fake: Draw, real_j: Critique, fake_j: Critique
                         ) -> tuple[Tensor, dict[str, Tensor]]:
        loss, logs = super().critic_objective(real, fake, real_j, fake_j)
        labels = real.condition
        if self.mismatch_weight:
            shift = torch.randint(1, self.num_classes, labels.shape, device=labels.device, generator=self.noise)
            wrong = self.d_loss(real_j.out, self.judge(real.images, (labels + shift) % self.num_classes).out)
            loss = loss + self.mismatch_weight * (wrong - logs["d_loss"])
            logs["d_mismatch_loss"] = wrong.detach()
        if self.acgan:
            aux = F.cross_entropy(real_j.logits[:, :self.num_classes], labels)
            if self.aux_fake == "fake":
                aux = aux + F.cross_entropy(fake_j.logits, fake.condition)
            elif self.aux_fake == "tac":  # the twin head (logits K..2K) learns the classes of the fakes
                aux = aux + F.cross_entropy(fake_j.logits[:, self.num_classes:], fake.condition)
            loss = loss + self.aux_weight * aux
            logs["d_aux_loss"] = aux.detach()
        return loss, logs

    def generator_objective(self, fake: Draw, fake_j: Critique, real: Reals) -> tuple[Tensor, dict[str, Tensor]]:
        loss, logs = super().generator_objective(fake, fake_j, real)
        if self.acgan:
            aux = F.cross_entropy(fake_j.logits[:, :self.num_classes], fake.condition)
            if self.aux_fake == "tac":
                aux = aux - F.cross_entropy(fake_j.logits[:, self.num_classes:], fake.condition)
            loss = loss + self.aux_weight * aux
            logs["g_aux_loss"] = aux.detach()
        return loss, logs

    def class_grid_inputs(self, columns: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """One row per class, the same z in each column: (z, labels) for a class-conditional grid."""
        z = self.sample_z(columns, generator=generator).repeat(self.num_classes, 1)
        labels = torch.arange(self.num_classes, device=self.device).repeat_interleave(columns)
        return z, labels
