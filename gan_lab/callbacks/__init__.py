from gan_lab.callbacks.checkpoint import AtomicCheckpointIO, CheckpointOnException
from gan_lab.callbacks.evaluation import Evaluation
from gan_lab.callbacks.samples import SampleGrid, log_image, scatter_image

__all__ = ["AtomicCheckpointIO", "CheckpointOnException", "Evaluation", "SampleGrid", "log_image", "scatter_image"]
