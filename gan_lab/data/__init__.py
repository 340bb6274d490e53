from gan_lab.data.datamodule import FitImage, ImageDataModule, InMemoryImages, to_tanh_range, to_unit_range
from gan_lab.data.toy import GaussianMixtureDataModule

__all__ = ["FitImage", "GaussianMixtureDataModule", "ImageDataModule", "InMemoryImages", "to_tanh_range",
           "to_unit_range"]
