"""StackGAN networks (Zhang et al. 2017): conditioning augmentation, Stage-I and Stage-II generator and
discriminator. Sizes and widths are arguments (paper: 64 / 256; CPU presets: e.g. 32 / 64, narrow widths).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gan_lab.errors import ConfigError


def check_size(image_size: int, what: str) -> int:
    """log2(image_size / 4); image_size must be 4·2^k with k ≥ 1."""
    k = math.log2(image_size / 4) if image_size >= 8 else -1
    if k < 1 or k != int(k):
        raise ConfigError(f"{what} image_size must be 4·2^k ≥ 8 (8, 16, 32, 64, 128, 256), got {image_size}")
    return int(k)


class ConditioningAugmentation(nn.Module):
    """FC(embedding → 2·c_dim) split into μ and log σ² (no non-linearity before the split); ĉ = μ + σ·ε.

    ``mu_init_scale`` multiplies the initial weights of the μ rows: with unit-norm sentence embeddings and the
    default init, μ starts ~10× smaller than σ = 1, so ĉ is mostly noise (README "StackGAN": 10 raised the text's
    share of ĉ from ~1/11 to ~1/2 and the caption effect above z's; 1 is the released code's init).
    """

    def __init__(self, embedding_dim: int, c_dim: int, mu_init_scale: float = 1.0):
        super().__init__()
        self.fc, self.c_dim = nn.Linear(embedding_dim, 2 * c_dim), c_dim
        with torch.no_grad():
            self.fc.weight[:c_dim] *= mu_init_scale

    def forward(self, embedding: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(ĉ, μ, log σ²)."""
        mu, logvar = self.fc(embedding).chunk(2, dim=1)
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        return mu + (0.5 * logvar).exp() * eps, mu, logvar

    @staticmethod
    def kl(mu: Tensor, logvar: Tensor) -> Tensor:
        """KL(N(μ, σ²) ‖ N(0, I)) per code dimension, averaged over dimensions and batch, as the released StackGAN
        code reduces it (its kl_weight 2.0 is meant for this mean; summed over c_dim it would weigh c_dim× more and
        pull ĉ onto the prior, so G would ignore the text)."""
        return (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean()


def up_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(True),
    )


def down_block(c_in: int, c_out: int, norm: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2, True))


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(True),
            nn.Conv2d(c, c, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x + self.body(x))


def to_rgb(c_in: int, channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, channels, 3, 1, 1), nn.Tanh())


class StageIGenerator(nn.Module):
    """[z; ĉ] → FC → (width·2^k)×4×4 → k × (nearest ×2, 3×3 conv, BN, ReLU), halving channels → image."""

    def __init__(
        self,
        latent_dim: int,
        embedding_dim: int,
        channels: int = 3,
        image_size: int = 64,
        c_dim: int = 128,
        width: int = 64,
        mu_init_scale: float = 1.0,
    ):
        super().__init__()
        k = check_size(image_size, "Stage-I")
        self.ca = ConditioningAugmentation(embedding_dim, c_dim, mu_init_scale)
        c0 = width * 2**k
        self.fc = nn.Sequential(
            nn.Linear(latent_dim + c_dim, c0 * 16, bias=False), nn.BatchNorm1d(c0 * 16), nn.ReLU(True)
        )
        self.c0 = c0
        self.ups = nn.Sequential(*[up_block(c0 // 2**i, c0 // 2 ** (i + 1)) for i in range(k)])
        self.out = to_rgb(width, channels)

    def forward(
        self, z: Tensor, embedding: Tensor, noise: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(image, μ, log σ²)."""
        c, mu, logvar = self.ca(embedding, noise)
        h = self.fc(torch.cat([z, c], 1)).view(len(z), self.c0, 4, 4)
        return self.out(self.ups(h)), mu, logvar


D_CONDITIONS = ("concat", "projection", "aux", "projection_aux")
WITH_CLASS_HEAD = ("aux", "projection_aux")


class StageDiscriminator(nn.Module):
    """Image → 4×4 features h → a logit that depends on the caption embedding t, as ``condition`` says:

    - ``concat`` (the released StackGAN): the compressed text code tiled 4×4 joins h → 1×1 conv → 4×4 conv.
    - ``projection`` (Miyato & Koyama 2018): ψ(h) + ⟨V·t, Σ_ij h⟩, the unconditional 4×4 conv head plus the inner
      product of a linear map of t with the spatially summed features: the caption enters the logit from step 0.
    - ``aux``: ``concat`` plus a head that reads ``aux_classes`` groups of class logits (e.g. [5, 8]: shape and
      colour) from the flat features h, ACGAN / TAC-GAN style; the model trains it on real images only
      (``aux_classes`` is ignored by the other conditions).
    - ``projection_aux``: ``projection``'s logit plus ``aux``'s class head.

    ``aux_fake_class`` adds a "fake" slot to every group of the head (K + 1 classes per attribute, as the
    semi-supervised GAN of Salimans et al. 2016): D learns to put G's images there, so G cannot meet the head with
    features that are not the attribute.

    ``forward`` gives the logit; :meth:`judge` gives (logit, class logits or None) from one pass.
    """

    def __init__(
        self,
        embedding_dim: int,
        channels: int = 3,
        image_size: int = 64,
        width: int = 64,
        text_dim: int = 128,
        condition: str = "concat",
        aux_classes: int | tuple[int, ...] = (),
        aux_fake_class: bool = False,
    ):
        super().__init__()
        if condition not in D_CONDITIONS:
            raise ConfigError(
                f"model.discriminator.condition must be one of {', '.join(D_CONDITIONS)}, got {condition!r}"
            )
        aux_classes = (aux_classes,) if isinstance(aux_classes, int) else tuple(aux_classes)  # N: one group of N
        if condition in WITH_CLASS_HEAD and not aux_classes:
            raise ConfigError(
                f"model.discriminator.condition={condition} needs model.discriminator.aux_classes, the class "
                "counts its head predicts (data=shapes: [5, 8], shape and colour; data=cub: [200])"
            )
        k = check_size(image_size, "discriminator")
        layers = [down_block(channels, width, norm=False)]
        layers += [down_block(width * 2**i, width * 2 ** (i + 1)) for i in range(k - 1)]
        self.encode, c = nn.Sequential(*layers), width * 2 ** (k - 1)
        self.condition = condition
        self.aux_classes = tuple(aux_classes) if condition in WITH_CLASS_HEAD else ()  # the others: no class head
        if condition.startswith("projection"):
            self.project = nn.Linear(embedding_dim, c, bias=False)
        else:
            self.text = nn.Sequential(nn.Linear(embedding_dim, text_dim), nn.LeakyReLU(0.2, True))
            self.joint = nn.Sequential(
                nn.Conv2d(c + text_dim, c, 1, bias=False),
                nn.BatchNorm2d(c),
                nn.LeakyReLU(0.2, True),
                nn.Conv2d(c, 1, 4),
            )
        self.uncond = nn.Conv2d(c, 1, 4)  # the unconditional head (StackGAN-v2; projection's ψ)
        self.aux_fake_class = bool(aux_fake_class) and bool(self.aux_classes)
        self.aux = nn.Linear(16 * c, sum(self.head_widths)) if self.aux_classes else None

    @property
    def head_widths(self) -> tuple[int, ...]:
        """The class head's logits per group: its classes, plus the fake slot with ``aux_fake_class``."""
        return tuple(s + self.aux_fake_class for s in self.aux_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.encode(x)

    def conditional(self, h: Tensor, embedding: Tensor) -> Tensor:
        if self.condition.startswith("projection"):
            return self.uncond(h).flatten() + (self.project(embedding) * h.sum((2, 3))).sum(1)
        t = self.text(embedding)[:, :, None, None].expand(-1, -1, 4, 4)
        return self.joint(torch.cat([h, t], 1)).flatten()

    def unconditional(self, h: Tensor) -> Tensor:
        return self.uncond(h).flatten()

    def classify(self, h: Tensor) -> Tensor | None:
        """The class head's logits (B, Σ head_widths) from the features h, or None without a head."""
        return self.aux(h.flatten(1)) if self.aux is not None else None

    def judge(self, x: Tensor, embedding: Tensor) -> tuple[Tensor, Tensor | None]:
        """(logits (B,), class logits (B, Σ head_widths) or None)."""
        h = self.features(x)
        return self.conditional(h, embedding), self.classify(h)

    def forward(self, x: Tensor, embedding: Tensor) -> Tensor:
        return self.conditional(self.features(x), embedding)


class StageIIGenerator(nn.Module):
    """Stage-I image → encoder (to 16×16 or the input size / 4) ⊕ own CA code tiled → residual blocks →
    upsampling to ``image_size``. No z."""

    def __init__(
        self,
        embedding_dim: int,
        channels: int = 3,
        image_size: int = 256,
        input_size: int = 64,
        c_dim: int = 128,
        width: int = 32,
        n_residual: int = 4,
        mu_init_scale: float = 1.0,
    ):
        super().__init__()
        if image_size <= input_size or image_size % input_size:
            raise ConfigError(
                f"Stage-II image_size ({image_size}) must be a multiple > 1 of the Stage-I size ({input_size})"
            )
        n_down, n_up = 2, 2 + int(math.log2(image_size // input_size))
        self.ca = ConditioningAugmentation(embedding_dim, c_dim, mu_init_scale)
        c = width * 4
        self.encode = nn.Sequential(
            nn.Conv2d(channels, width, 3, 1, 1),
            nn.ReLU(True),
            *[
                nn.Sequential(
                    nn.Conv2d(width * 2**i, width * 2 ** (i + 1), 4, 2, 1, bias=False),
                    nn.BatchNorm2d(width * 2 ** (i + 1)),
                    nn.ReLU(True),
                )
                for i in range(n_down)
            ],
        )
        self.joint = nn.Sequential(nn.Conv2d(c + c_dim, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True))
        self.residual = nn.Sequential(*[ResBlock(c) for _ in range(n_residual)])
        widths = [max(c // 2**i, width // 2) for i in range(n_up + 1)]
        self.ups = nn.Sequential(*[up_block(widths[i], widths[i + 1]) for i in range(n_up)])
        self.out = to_rgb(widths[-1], channels)

    def forward(
        self, stage1: Tensor, embedding: Tensor, noise: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        c, mu, logvar = self.ca(embedding, noise)
        h = self.encode(stage1)
        h = torch.cat([h, c[:, :, None, None].expand(-1, -1, *h.shape[2:])], 1)
        return self.out(self.ups(self.residual(self.joint(h)))), mu, logvar
