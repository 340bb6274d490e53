from gan_lab.metrics.classifier import ClassifierModule, DomainClassifier, load_classifier
from gan_lab.metrics.conditioning import label_effect, spread
from gan_lab.metrics.evaluation import evaluate_generator
from gan_lab.metrics.features import ClassifierFeatures, FeatureNetworkError, InceptionFeatures
from gan_lab.metrics.image import FeatureCache, extract, fake_batches, image_metrics, real_batches
from gan_lab.metrics.registry import REGISTRY, Evaluation, Metric, register
from gan_lab.metrics.toy import mode_coverage, mode_histogram_stats, stacked_mnist_modes

__all__ = [
    "REGISTRY",
    "ClassifierFeatures",
    "ClassifierModule",
    "DomainClassifier",
    "Evaluation",
    "FeatureCache",
    "FeatureNetworkError",
    "InceptionFeatures",
    "Metric",
    "evaluate_generator",
    "extract",
    "fake_batches",
    "image_metrics",
    "label_effect",
    "load_classifier",
    "mode_coverage",
    "mode_histogram_stats",
    "real_batches",
    "register",
    "spread",
    "stacked_mnist_modes",
]
