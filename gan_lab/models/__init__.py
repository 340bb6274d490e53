from gan_lab.models.base import GANModule
from gan_lab.models.conditional import ConditionalGAN
from gan_lab.models.parts import Critique, Draw, Reals, Runtime
from gan_lab.models.stackgan import StackGAN, StackGANStageII
from gan_lab.models.stackgan_v2 import StackGANv2
from gan_lab.models.wgan import WGAN

__all__ = [
    "ConditionalGAN",
    "Critique",
    "Draw",
    "GANModule",
    "Reals",
    "Runtime",
    "StackGAN",
    "StackGANStageII",
    "StackGANv2",
    "WGAN",
]
