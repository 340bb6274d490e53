"""BigGAN's ResNet generator and discriminator (Brock et al. 2019; the released BigGAN-PyTorch code).

G: z is split into one chunk per block plus one (the "hierarchical latent"); the first chunk goes through a linear
layer to an s0×s0 map, every residual up-block receives ``cat(shared(y), its z chunk)``, which per-block linear
maps turn into the gains and biases of its two conditional batch norms (gain = 1 + W_γ·c, bias = W_β·c). The class
embedding ``shared`` is one table for all blocks ("shared embedding"). Then BN, ReLU, 3×3 conv, tanh.
D: residual down-blocks (the first one without pre-activation), ReLU, global sum pooling, a linear head; the class
enters by projection (``ConditionalDiscriminator``, d_conditioning=projection).

Widths follow the released architectures, with ``ch`` the channel multiplier (the "large channel" knob):
32×32 (and MNIST's 28×28): G 4·ch in every block, D four blocks of 4·ch (down, down, same, same);
64×64: G 16,8,4,2·ch, D 1,2,4,8,16·ch; 128×128: G 16,8,4,2,1·ch, D 1,2,4,8,16,16·ch.
Spectral norm on every layer of G and D (but the embeddings), initialisation ``ortho`` (BigGAN's ImageNet runs) or
``N02`` (its CIFAR runs) or ``xavier``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.errors import ConfigError
from gan_lab.nets.dcgan import dcgan_shape
from gan_lab.nets.layers import ConditionalBatchNorm, SelfAttention, check_attention_at, maybe_sn
from gan_lab.nets.resnet import DBlock

INITS = ("ortho", "N02", "xavier")


def init_weights(module: nn.Module, init: str) -> None:
    """BigGAN's initialisation of every conv, linear and embedding weight (biases 0), before spectral norm."""
    if init not in INITS:
        raise ConfigError(f"unknown BigGAN init {init!r}: use one of {INITS}")
    for m in module.modules():
        if not isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)) or hasattr(m, "parametrizations"):
            continue
        if init == "ortho":
            nn.init.orthogonal_(m.weight)
        elif init == "N02":
            nn.init.normal_(m.weight, 0.0, 0.02)
        else:
            nn.init.xavier_uniform_(m.weight)
        if getattr(m, "bias", None) is not None:
            nn.init.zeros_(m.bias)


def _sn_all(module: nn.Module, spectral_norm: bool) -> nn.Module:
    """Spectral norm on every conv and linear layer of ``module`` (after they are initialised)."""
    if spectral_norm:
        for child in list(module.modules()):
            if isinstance(child, (nn.Conv2d, nn.Linear)) and not hasattr(child, "parametrizations"):
                maybe_sn(child, True)
    return module


class GBlock(nn.Module):
    """BN(c), ReLU, upsample ×2, 3×3 conv, BN(c), ReLU, 3×3 conv; skip: upsample, 1×1 conv."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.norm1, self.conv1 = ConditionalBatchNorm(c_in, cond_dim), nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.norm2, self.conv2 = ConditionalBatchNorm(c_out, cond_dim), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, c)), scale_factor=2)
        h = self.conv2(F.relu(self.norm2(self.conv1(h), c)))
        return h + self.skip(F.interpolate(x, scale_factor=2))


def generator_widths(k: int) -> list[int]:
    """Channel multipliers of G's k up-blocks' outputs (the input of the first is the largest)."""
    return [4] * k if k <= 3 else [16, 8, 8, 4, 2, 1][-k:] if k == 6 else [16, 8, 4, 2, 1][:k]


def discriminator_widths(k: int) -> tuple[list[int], list[bool]]:
    """Channel multipliers and down-sampling of D's blocks for an image with k doublings."""
    if k <= 3:
        return [4, 4, 4, 4], [True, True, False, False]
    widths = [1, 2, 4, 8, 16, 16, 16][: k + 1]
    return widths, [True] * k + [False]


class BigGANGenerator(nn.Module):
    """(z (B, latent_dim), y) -> (B, channels, image_size, image_size) in [-1, 1].

    y: class indices (B,), or class weights (B, num_classes) that blend the classes' shared embeddings (class
    interpolation). ``latent_dim`` must split into (number of blocks + 1) equal chunks.
    """

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        num_classes: int,
        ch: int = 64,
        shared_dim: int = 128,
        attention_at: int | None = None,
        spectral_norm: bool = True,
        init: str = "ortho",
        embed_input: bool = False,
        embed_scale: float = 1.0,
    ):
        super().__init__()
        s0, k = dcgan_shape(image_size, min_doublings=1, starts=(4, 7))
        check_attention_at(attention_at, [s0 * 2**i for i in range(k + 1)], "the BigGAN generator")
        if latent_dim % (k + 1):
            valid = ", ".join(str((k + 1) * n) for n in (10, 20, 32))
            raise ConfigError(
                f"the BigGAN generator splits z into {k + 1} equal chunks (one per block and one for "
                f"its input) for {image_size}×{image_size} images: latent_dim={latent_dim} does not "
                f"divide, use a multiple of {k + 1} (e.g. {valid})"
            )
        self.chunk, self.s0 = latent_dim // (k + 1), s0
        widths = [w * ch for w in generator_widths(k)]
        c_in = [16 * ch if k > 3 else widths[0]] + widths[:-1]
        self.shared = nn.Embedding(num_classes, shared_dim)
        self.embed_input = embed_input  # BigGAN-deep: the input layer reads [z chunk 0, shared(y)] too
        self.embed_scale = embed_scale  # the class code's size beside z (model.label_scale; ortho init: norm 1)
        self.project = nn.Linear(self.chunk + shared_dim * embed_input, c_in[0] * s0 * s0)
        cond_dim = shared_dim + self.chunk
        self.blocks = nn.ModuleList(GBlock(a, b, cond_dim) for a, b in zip(c_in, widths))
        self.attention = nn.ModuleDict()  # at most one, by resolution: after the projection or a block
        if attention_at is not None:
            self.attention[str(attention_at)] = SelfAttention(
                ([c_in[0]] + widths)[(attention_at // s0).bit_length() - 1]
            )
        self.out = nn.Sequential(
            nn.BatchNorm2d(widths[-1]), nn.ReLU(), nn.Conv2d(widths[-1], channels, 3, 1, 1), nn.Tanh()
        )
        init_weights(self, init)
        _sn_all(self, spectral_norm)

    def embed(self, y: Tensor) -> Tensor:
        e = y.to(self.shared.weight.dtype) @ self.shared.weight if y.is_floating_point() else self.shared(y)
        return self.embed_scale * e

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        chunks = z.split(self.chunk, 1)
        shared = self.embed(y)
        first = torch.cat([chunks[0], shared], 1) if self.embed_input else chunks[0]
        h = self.project(first).view(len(z), -1, self.s0, self.s0)
        for block, z_i in zip([None, *self.blocks], chunks):
            if block is not None:
                h = block(h, torch.cat([shared, z_i], 1))
            if str(h.shape[-1]) in self.attention:
                h = self.attention[str(h.shape[-1])](h)
        return self.out(h)


class BigGANDiscriminator(nn.Module):
    """(B, channels, H, W) -> one raw output per image; ``features`` (sum-pooled) and ``head`` for projection."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        ch: int = 64,
        attention_at: int | None = None,
        spectral_norm: bool = True,
        init: str = "ortho",
    ):
        super().__init__()
        _, k = dcgan_shape(image_size, min_doublings=1, starts=(4, 7))
        widths, downs = discriminator_widths(k)
        resolutions, size = [], image_size
        for down in downs:
            size = size // 2 if down else size
            resolutions.append(size)
        check_attention_at(attention_at, resolutions, "the BigGAN discriminator")
        blocks, c_in = [], channels
        for i, (w, down, size) in enumerate(zip(widths, downs, resolutions)):
            blocks.append(DBlock(c_in, w * ch, down, False, first=i == 0))
            if attention_at == size and attention_at not in resolutions[:i]:
                blocks.append(SelfAttention(w * ch))
            c_in = w * ch
        self.body = nn.Sequential(*blocks, nn.ReLU())
        self.head = nn.Linear(c_in, 1)
        init_weights(self, init)
        _sn_all(self, spectral_norm)

    def features(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, width): sum-pooled
        return self.body(x).sum(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).squeeze(1)
