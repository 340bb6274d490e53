"""StackGAN (Zhang et al. 2017) on the shared training rule: text-conditioned Stage-I and Stage-II.

Batches are ``(images, classes, embeddings)``. The discriminator is matching-aware:

    D loss = BCE(D(x, t), real) + ½·[BCE(D(x, t̂), fake) + BCE(D(G(z, t), t), fake)]

with t̂ the caption embedding of another image of a *different* class (``mismatched_indices``). G's loss adds
``kl_weight``·KL(N(μ, σ²) ‖ N(0, I)) of conditioning augmentation (2.0 as in the released code; the paper says 1).
The shared penalties apply as to every model: R1 (``+stabilizer=r1``) on real images with their right captions, the
gradient penalty on interpolates between real and fake images, both with the right captions.
Stage-II holds a trained Stage-I as a frozen submodule (loaded through :func:`gan_lab.checkpoints.load_model`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.data.captioned import mismatched_indices
from gan_lab.errors import ConfigError
from gan_lab.images import downsample
from gan_lab.kinds import Condition, Yields
from gan_lab.models.base import GANModule, eval_mode
from gan_lab.models.parts import Critique, Draw, Reals
from gan_lab.nets.stackgan import StageDiscriminator
from gan_lab.nets.stackgan_v2 import StackGANv2Discriminator


def matching_aware_d_loss(real_right: Tensor, real_wrong: Tensor, fake_right: Tensor) -> Tensor:
    """BCE(real+right → 1) + ½·(BCE(real+wrong → 0) + BCE(fake+right → 0)), logits in."""
    return F.softplus(-real_right).mean() + 0.5 * (F.softplus(real_wrong).mean() + F.softplus(fake_right).mean())


def class_digits(classes: Tensor, sizes: tuple[int, ...]) -> list[Tensor]:
    """The digits of class ids in the mixed radix ``sizes``, one per group, the last the least significant
    (data=shapes' class shape·8 + colour with sizes (5, 8) gives [shape, colour])."""
    digits, place = [], 1
    for size in reversed(sizes):
        digits.insert(0, classes // place % size)
        place *= size
    return digits


def class_aux_loss(logits: Tensor, classes: Tensor, sizes: tuple[int, ...], fake_slot: bool = False) -> Tensor:
    """Σ over groups of the mean cross-entropy of each group of ``logits`` (B, Σ sizes, + 1 per group with
    ``fake_slot``: the fake class last) against its digit of the class id (:func:`class_digits`)."""
    groups = logits.split([s + fake_slot for s in sizes], 1)
    return sum((F.cross_entropy(g, d) for g, d in zip(groups, class_digits(classes, sizes))), logits.new_zeros(()))


def fake_slot_loss(logits: Tensor, sizes: tuple[int, ...]) -> Tensor:
    """Σ over groups of the mean cross-entropy of each group (its ``size`` classes and the fake slot) against the
    fake slot: what D learns on G's images with ``aux_fake_class``."""
    groups = logits.split([s + 1 for s in sizes], 1)
    fake = [torch.full((len(logits),), s, dtype=torch.long, device=logits.device) for s in sizes]
    return sum((F.cross_entropy(g, f) for g, f in zip(groups, fake)), logits.new_zeros(()))


def check_class_head(discriminator: nn.Module, num_classes: int) -> None:
    """A D class head's groups must spell the data's class ids (their product is the number of classes)."""
    with_head = isinstance(discriminator, (StageDiscriminator, StackGANv2Discriminator))
    sizes = discriminator.aux_classes if with_head else ()
    if sizes and math.prod(sizes) != num_classes:
        raise ConfigError(
            f"model.discriminator.aux_classes={list(sizes)} reads {math.prod(sizes)} classes but the data has "
            f"{num_classes}: give the sizes of the data's class attributes (data=shapes: data.class_sizes, the "
            "value counts of data.class_of; "
            "[shape, colour] is [5, 8], [shape, colour, size, position] is [5, 8, 3, 9]; data=cub: [200])"
        )


class StackGAN(GANModule):
    """Stage-I StackGAN. Args (besides GANModule's; ``generator``/``discriminator`` are the nets):
    kl_weight: weight of the conditioning-augmentation KL term in G's loss.
    image_size: the size this stage generates (the data's images are downsampled to it exactly).
    grid_captions: how many fixed test captions the sample grid shows (one row each).
    aux_weight: weight of :func:`class_aux_loss` when D has a class head (``condition=aux|projection_aux``): D
        learns it on the real images (their (shape, colour) class), G on its images for the captions of those images.
    """

    condition = Condition.TEXT  # generates from caption embeddings (generate text=..., evaluate metrics=[attributes])

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *args,
        kl_weight: float = 2.0,
        image_size: int = 64,
        grid_captions: int = 8,
        aux_weight: float = 1.0,
        **kwargs,
    ):
        if kwargs.get("n_critic", 1) != 1:
            raise ConfigError("StackGAN takes one discriminator step per generator step: set model.n_critic=1")
        super().__init__(generator, discriminator, None, *args, **kwargs)  # no d_loss: the matching-aware one
        self.kl_weight, self.image_size, self.grid_captions = kl_weight, image_size, grid_captions
        self.aux_weight = aux_weight
        self.register_buffer("grid_embeddings", torch.empty(0), persistent=False)
        self.grid_texts: list[str] = []

    def draw(self, generator: nn.Module, z: Tensor, condition: Tensor) -> Draw:
        """G(z, caption embedding), with conditioning augmentation's KL as an extra."""
        fake, mu, logvar = generator(z, condition, self.noise if self.training else None)
        return Draw(fake, condition, {"kl": generator.ca.kl(mu, logvar)})

    def judge(self, x: Tensor, condition: Tensor) -> Critique:
        """D's logit for (image, caption) and, with a class head (``aux|projection_aux``), its class logits."""
        return Critique(*self.discriminator.judge(x, condition))

    def real_images(self, images: Tensor) -> Tensor:
        return images if images.shape[-1] == self.image_size else downsample(images, self.image_size)

    def reals(self, batch: tuple[Tensor, ...]) -> Reals:
        """Batches are (images, classes, caption embeddings): the embeddings condition, the classes pick the
        mismatched pairs."""
        if len(batch) != 3:
            raise ConfigError(
                "StackGAN needs captioned data, batches of (images, classes, embeddings): use data=shapes or data=cub"
            )
        images, classes, embeddings = batch
        return Reals(self.real_images(images), embeddings, classes)

    def critic_objective(
        self, real: Reals, fake: Draw, real_j: Critique, fake_j: Critique
    ) -> tuple[Tensor, dict[str, Tensor]]:
        wrong = real.condition[mismatched_indices(real.classes, self.noise)]
        real_out, fake_out = real_j.out, fake_j.out
        wrong_out = self.judge(real.images, wrong).out
        loss = matching_aware_d_loss(real_out, wrong_out, fake_out)
        logs = {
            "d_loss": loss,
            "D(x)": real_out.detach().sigmoid().mean(),
            "D(x,wrong)": wrong_out.detach().sigmoid().mean(),
            "D(G(z))": fake_out.detach().sigmoid().mean(),
        }
        if self.discriminator.aux_classes:  # the class head
            aux = self.d_class_loss([real_j.logits], [fake_j.logits], real.classes)
            loss, logs["d_aux_loss"] = loss + self.aux_weight * aux, aux.detach()
        return loss, logs

    def d_class_loss(self, real_logits: list[Tensor], fake_logits: list[Tensor], classes: Tensor) -> Tensor:
        """D's class-head loss summed over its heads (one per branch): real images to their class and, with
        ``aux_fake_class``, G's images to the fake slot (without it the head never learns from G's images)."""
        sizes, fake_slot = self.discriminator.aux_classes, self.discriminator.aux_fake_class
        loss = sum(class_aux_loss(logits, classes, sizes, fake_slot) for logits in real_logits)
        if fake_slot:
            loss = loss + sum(fake_slot_loss(logits, sizes) for logits in fake_logits)
        return loss

    def g_class_loss(self, fake_logits: list[Tensor], classes: Tensor) -> Tensor:
        """G's class-head loss summed over D's heads: its images read as the class of its captions' images."""
        sizes, fake_slot = self.discriminator.aux_classes, self.discriminator.aux_fake_class
        return sum(class_aux_loss(logits, classes, sizes, fake_slot) for logits in fake_logits)

    def generator_objective(self, fake: Draw, fake_j: Critique, real: Reals) -> tuple[Tensor, dict[str, Tensor]]:
        adversarial, kl = self.g_loss(fake_j.out), fake.extras["kl"]
        loss, logs = adversarial + self.kl_weight * kl, {"g_loss": adversarial, "kl": kl.detach()}
        if self.discriminator.aux_classes:  # G draws the class of the image whose caption it was given
            aux = self.g_class_loss([fake_j.logits], real.classes)
            loss, logs["g_aux_loss"] = loss + self.aux_weight * aux, aux.detach()
        return loss, logs

    # --- samples: a fixed grid of test captions, one row each, the same z along each column -----------------

    def on_fit_start(self) -> None:
        super().on_fit_start()
        dm = self.trainer.datamodule
        if dm is not None and dm.yields is Yields.CAPTIONED:
            check_class_head(self.discriminator, dm.num_classes)
            split = dm.split(train=False)
            n = min(self.grid_captions, len(split))
            self.grid_embeddings = split.embeddings[:n, 0].to(self.device, torch.float32)
            self.grid_texts = [c[0] for c in split.captions[:n]] if split.captions is not None else []

    def class_grid_inputs(self, columns: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        rows = len(self.grid_embeddings)
        if rows == 0:
            raise ConfigError("StackGAN's sample grid needs the captioned data module (fit first)")
        z = self.sample_z(columns, generator=generator).repeat(rows, 1)
        return z, self.grid_embeddings.repeat_interleave(columns, 0)

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor | None = None, ema: bool = True) -> Tensor:
        if labels is None:
            raise ConfigError('StackGAN generates from text: pass caption embeddings (e.g. generate text="...")')
        return super().generate(z, labels.to(self.device), ema)


class FrozenStageI(nn.Module):
    """Stage-I generator (frozen, eval mode) followed by the Stage-II generator: (z, embedding) → 256 image."""

    def __init__(self, stage1: nn.Module, stage2: nn.Module):
        super().__init__()
        self.stage1, self.stage2 = stage1.requires_grad_(False), stage2
        self.ca = stage2.ca

    def train(self, mode: bool = True) -> FrozenStageI:
        super().train(mode)
        self.stage1.eval()  # batch norm keeps Stage-I's running statistics
        return self

    def forward(self, z: Tensor, embedding: Tensor, noise: torch.Generator | None = None):
        with torch.no_grad():
            low, _, _ = self.stage1(z, embedding, noise)
        return self.stage2(low, embedding, noise)


class StackGANStageII(StackGAN):
    """Stage-II: ``stage1_ckpt`` (a Stage-I run's checkpoint) is loaded, frozen and kept out of the optimiser."""

    def __init__(
        self,
        generator: Callable[..., nn.Module],
        discriminator: nn.Module,
        *args,
        stage1_ckpt: str | None,
        embedding_dim: int,
        **kwargs,
    ):
        from gan_lab.checkpoints import load_model  # here: checkpoints imports the models

        if not stage1_ckpt:
            raise ConfigError("model=stackgan_stage2 needs model.stage1_ckpt=<stage-I run>/checkpoints/last.ckpt")
        stage1 = load_model(stage1_ckpt)[0]
        if type(stage1) is not StackGAN:  # not Stage-II, nor StackGAN-v2
            raise ConfigError(f"model.stage1_ckpt={stage1_ckpt} is not a Stage-I StackGAN checkpoint")
        emb = stage1.generator.ca.fc.in_features
        if emb != embedding_dim:
            raise ConfigError(f"model.stage1_ckpt has {emb}-d text embeddings but the data gives {embedding_dim}-d")
        if stage1.latent_dim != kwargs.get("latent_dim"):
            raise ConfigError(f"model.latent_dim={kwargs.get('latent_dim')} but Stage-I uses {stage1.latent_dim}")
        s1_size = stage1.image_size
        size = kwargs.get("image_size", s1_size)
        if s1_size < 32 or size > 4 * s1_size:  # the paper's pair: 64 -> 256
            warnings.warn(
                f"Stage-I draws {s1_size}-px images and Stage-II upsamples them {size // s1_size}x to "
                f"{size} px: what so small an image loses is invented, not refined (StackGAN pairs 64 -> "
                "256, the CPU preset 32 -> 64)",
                stacklevel=2,
            )
        net = generator(input_size=s1_size)
        super().__init__(FrozenStageI(stage1.sampler, net), discriminator, *args, **kwargs)
        self.stage1_size = s1_size
        self.stages = 2

    def configure_optimizers(self):
        return [self.g_optimizer(self.generator.stage2.parameters()), self.d_optimizer(self.discriminator.parameters())]

    @torch.no_grad()
    def stage_images(self, z: Tensor, labels: Tensor, ema: bool = True) -> list[Tensor]:
        """[the frozen Stage-I's images, Stage-II's refinement of them] for the same z and captions."""
        net = self.sampler if ema else self.generator
        z, labels = z.to(self.device), labels.to(self.device)
        noise = self.noise if self.training else None  # as fake_images draws the CA noise
        with eval_mode(net):
            low, _, _ = net.stage1(z, labels, noise)
            return [low, net.stage2(low, labels, noise)[0]]
