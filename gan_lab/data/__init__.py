from gan_lab.data.datamodule import FitImage, ImageDataModule, InMemoryImages
from gan_lab.data.toy import GaussianMixtureDataModule

__all__ = ["FitImage", "GaussianMixtureDataModule", "ImageDataModule", "InMemoryImages"]
