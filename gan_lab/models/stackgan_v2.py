"""StackGAN-v2 (StackGAN++, Zhang et al. 2018) on the shared training rule: one generator tree drawing every
resolution at once, one matching-aware discriminator per branch, trained jointly.

Per branch i (images at size s_i; the real ones are area-downsampled copies of the data's images):

    D_i loss = [c(x, t) → 1] + [c(x̂, t) → 0] + [c(G_i, t) → 0]
               + uncond_weight · ([u(x) → 1] + [u(x̂) → 1] + [u(G_i) → 0])          (BCE on logits)

with c / u the conditional / unconditional heads, x̂ a real image of a *different* class with the caption t of x
(a mismatched pair: wrong for c, but a real image for u). D loss = Σ_i D_i loss; with uncond_weight = 0 each D_i is
StackGAN-v1's real + ½(wrong + fake). As the released code (``trainer.py``, ``condGANTrainer``).

    G loss = Σ_i [−log σ(c(G_i, t)) − uncond_weight · log σ(u(G_i))] + kl_weight · KL
             + colour_weight · Σ_i (mean((μ_i − μ_{i−1})²) + 5 · mean((Σ_i − Σ_{i−1})²))

μ_i, Σ_i: each image's mean colour (3,) and 3×3 colour covariance over its pixels; the coarser branch's statistics
are detached, and the means are over batch and elements, as the released code's ``MSELoss`` (its α is 50 in the
``*_color`` configs, 0 in the text-to-image birds config). EMA of G (0.999, as released) samples and evaluates.
With class heads (``model.discriminator.condition=aux|projection_aux``), D adds aux_weight · Σ_i CE_i(real images,
their classes) and G aux_weight · Σ_i CE_i(its images, the classes of the captions' images): Stage-I's
:func:`~gan_lab.models.stackgan.class_aux_loss` per branch. R1 (``+stabilizer=r1``) penalises the conditional heads
on the real images of every branch (Σ_i R1_i).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.data.captioned import mismatched_indices
from gan_lab.errors import ConfigError
from gan_lab.images import downsample
from gan_lab.models.parts import Critique, Draw, Reals
from gan_lab.models.stabilizers import GradientPenalty
from gan_lab.models.stackgan import StackGAN


def colour_statistics(images: Tensor) -> tuple[Tensor, Tensor]:
    """(mean colour (B, C), colour covariance over the pixels (B, C, C)) of images (B, C, H, W)."""
    x = images.flatten(2)
    mu = x.mean(2)
    centred = x - mu[:, :, None]
    return mu, centred @ centred.transpose(1, 2) / x.shape[2]


def colour_consistency(fine: Tensor, coarse: Tensor) -> tuple[Tensor, Tensor]:
    """(mean((μ_fine − μ_coarse)²), mean((Σ_fine − Σ_coarse)²)) over batch and elements (the caller detaches the
    coarse images and weighs the terms α and 5α)."""
    (mu_f, cov_f), (mu_c, cov_c) = colour_statistics(fine), colour_statistics(coarse)
    return (mu_f - mu_c).pow(2).mean(), (cov_f - cov_c).pow(2).mean()


def stackgan_v2_d_loss(
    real: tuple[Tensor, Tensor], wrong: tuple[Tensor, Tensor], fake: tuple[Tensor, Tensor], uncond_weight: float
) -> Tensor:
    """One branch's D loss from (conditional, unconditional) logits of real, mismatched-real and fake images."""
    cond = F.softplus(-real[0]).mean() + F.softplus(wrong[0]).mean() + F.softplus(fake[0]).mean()
    uncond = F.softplus(-real[1]).mean() + F.softplus(-wrong[1]).mean() + F.softplus(fake[1]).mean()
    return cond + uncond_weight * uncond


class StackGANv2(StackGAN):
    """Args (besides StackGAN's; ``generator``/``discriminator`` are the v2 nets):
    sizes: the branch sizes (smallest first); the nets must have been built for them.
    uncond_weight: weight of the unconditional heads' terms in D's and G's losses (released: 1).
    colour_weight: α of the colour-consistency regulariser (α on the means, 5α on the covariances; 0: off).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *args,
        sizes: list[int],
        uncond_weight: float = 1.0,
        colour_weight: float = 50.0,
        **kwargs,
    ):
        sizes = tuple(sizes)
        if tuple(generator.sizes) != sizes or tuple(discriminator.sizes) != sizes:
            raise ConfigError(
                f"model.sizes={list(sizes)} but the generator draws {list(generator.sizes)} px and the "
                f"discriminators judge {list(discriminator.sizes)} px: set both from model.sizes"
            )
        super().__init__(generator, discriminator, *args, image_size=sizes[-1], **kwargs)
        if any(isinstance(part, GradientPenalty) for part in self.parts):
            raise ConfigError(
                "StackGAN-v2 takes R1 (+stabilizer=r1) but not the interpolate gradient penalty: "
                "remove model.stabilizers.gp"
            )
        self.sizes, self.channels = sizes, generator.channels
        self.stages = len(sizes)
        self.uncond_weight, self.colour_weight = uncond_weight, colour_weight

    def draw(self, generator: nn.Module, z: Tensor, condition: Tensor) -> Draw:
        images, mu, logvar = generator(z, condition, self.noise if self.training else None)
        return Draw(list(images), condition, {"kl": generator.ca.kl(mu, logvar)})

    def real_images(self, images: Tensor) -> list[Tensor]:
        size = images.shape[-1]
        if size < self.sizes[-1]:
            raise ConfigError(
                f"data.image_size={size} is smaller than StackGAN-v2's largest branch "
                f"({self.sizes[-1]} px): raise data.image_size or lower model.sizes"
            )
        return [images.float() if s == size else downsample(images, s) for s in self.sizes]

    def judge(self, x: list[Tensor], condition: Tensor) -> Critique:
        """Every branch's (conditional, unconditional) outputs; ``out`` is the sum of the conditional heads' (each
        D sees only its branch, so R1 on it is Σ_i R1_i)."""
        branches = self.discriminator(x, condition)
        return Critique(sum(c for c, _, _ in branches), branches=branches)

    def critic_objective(
        self, real: Reals, fake: Draw, real_j: Critique, fake_j: Critique
    ) -> tuple[Tensor, dict[str, Tensor]]:
        wrong = mismatched_indices(real.classes, self.noise)  # a real image of another class, with t
        wrong_out = self.judge([x[wrong] for x in real.images], real.condition).branches
        real_out, fake_out = real_j.branches, fake_j.branches
        losses = [stackgan_v2_d_loss(r, w, f, self.uncond_weight) for r, w, f in zip(real_out, wrong_out, fake_out)]
        loss = torch.stack(losses).sum()
        logs = {
            "d_loss": loss,
            "D(x)": real_out[-1][0].detach().sigmoid().mean(),
            "D(x,wrong)": wrong_out[-1][0].detach().sigmoid().mean(),
            "D(G(z))": fake_out[-1][0].detach().sigmoid().mean(),
            "D_uncond(G(z))": fake_out[-1][1].detach().sigmoid().mean(),
        }
        logs |= {f"d_loss_{s}px": branch.detach() for s, branch in zip(self.sizes, losses)}
        if self.discriminator.aux_classes:  # every branch's class head
            aux = self.d_class_loss([b[2] for b in real_out], [b[2] for b in fake_out], real.classes)
            loss, logs["d_aux_loss"] = loss + self.aux_weight * aux, aux.detach()
        return loss, logs

    def generator_objective(self, fake: Draw, fake_j: Critique, real: Reals) -> tuple[Tensor, dict[str, Tensor]]:
        adversarial = sum(self.g_loss(c) + self.uncond_weight * self.g_loss(u) for c, u, _ in fake_j.branches)
        mean_terms, cov_terms = zip(
            *(colour_consistency(fine, coarse.detach()) for fine, coarse in zip(fake.images[1:], fake.images[:-1]))
        )
        colour = sum(mean_terms) + 5 * sum(cov_terms)
        kl = fake.extras["kl"]
        loss = adversarial + self.kl_weight * kl + self.colour_weight * colour
        logs = {"g_loss": adversarial, "kl": kl.detach(), "colour_consistency": colour.detach()}
        if self.discriminator.aux_classes:  # every branch draws the class of its caption's image
            aux = self.g_class_loss([b[2] for b in fake_j.branches], real.classes)
            loss, logs["g_aux_loss"] = loss + self.aux_weight * aux, aux.detach()
        return loss, logs

    @torch.no_grad()
    def generate_branches(self, z: Tensor, labels: Tensor, ema: bool = True) -> list[Tensor]:
        """Every branch's images (smallest first) for one z and caption embedding each."""
        return super().generate(z, labels, ema)

    @torch.no_grad()
    def stage_images(self, z: Tensor, labels: Tensor, ema: bool = True) -> list[Tensor]:
        return self.generate_branches(z, labels, ema)

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor | None = None, ema: bool = True) -> Tensor:
        """The largest branch's images (what samples, generate and evaluate show)."""
        if labels is None:
            return super().generate(z, labels, ema)  # the one-line "generates from text" error
        return self.generate_branches(z, labels, ema)[-1]
