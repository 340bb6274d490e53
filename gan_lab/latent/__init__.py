from gan_lab.latent.encoder import Encoder, EncoderModule
from gan_lab.latent.ops import latent_path, lerp, slerp

__all__ = ["Encoder", "EncoderModule", "latent_path", "lerp", "slerp"]
