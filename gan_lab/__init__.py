"""gan_lab: GAN variants on PyTorch Lightning + Hydra."""

__version__ = "0.1.0"
