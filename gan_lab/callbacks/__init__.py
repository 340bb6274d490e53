from gan_lab.callbacks.attributes import AttributeEvaluation
from gan_lab.callbacks.checkpoint import AtomicCheckpointIO, CheckpointOnException, ResumeWhereStopped
from gan_lab.callbacks.evaluation import Evaluation
from gan_lab.callbacks.samples import SampleGrid, log_image, scatter_image
from gan_lab.callbacks.spectral import SingularValueClamp, SingularValueMonitor

__all__ = [
    "AtomicCheckpointIO",
    "AttributeEvaluation",
    "CheckpointOnException",
    "Evaluation",
    "ResumeWhereStopped",
    "SampleGrid",
    "SingularValueClamp",
    "SingularValueMonitor",
    "log_image",
    "scatter_image",
]
