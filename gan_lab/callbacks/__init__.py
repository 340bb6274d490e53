from gan_lab.callbacks.checkpoint import CheckpointOnException
from gan_lab.callbacks.evaluation import Evaluation
from gan_lab.callbacks.samples import SampleGrid, log_image, scatter_image

__all__ = ["CheckpointOnException", "Evaluation", "SampleGrid", "log_image", "scatter_image"]
