"""Plain ``nn.Module`` networks with typed arguments; they never see a config object or Lightning.

Every generator takes ``(latent_dim, channels, image_size, ..., norm)`` and every discriminator
``(channels, image_size, ..., norm, spectral_norm)``, so an architecture can be swapped under a model's
choices (``model/net=mlp``) without touching them.
"""

from gan_lab.nets.conditional import ConditionalDiscriminator, ConditionalGenerator
from gan_lab.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_shape
from gan_lab.nets.layers import SelfAttention, maybe_sn, norm_layer
from gan_lab.nets.minibatch import MinibatchDiscrimination, MinibatchStdDev, add_minibatch_layer
from gan_lab.nets.mlp import MLPDiscriminator, MLPGenerator
from gan_lab.nets.pack import DiscriminatorInput, pack
from gan_lab.nets.resnet import ResNetDiscriminator, ResNetGenerator

__all__ = [
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "SelfAttention",
    "dcgan_shape",
    "maybe_sn",
    "norm_layer",
    "DiscriminatorInput",
    "pack",
    "MinibatchDiscrimination",
    "MinibatchStdDev",
    "add_minibatch_layer",
]
