from gan_lab.metrics.classifier import ClassifierModule, DomainClassifier, load_classifier
from gan_lab.metrics.features import ClassifierFeatures, FeatureNetworkError, InceptionFeatures
from gan_lab.metrics.evaluation import evaluate_generator, label_effect
from gan_lab.metrics.image import FeatureCache, extract, fake_batches, image_metrics, real_batches
from gan_lab.metrics.toy import mode_coverage, mode_histogram_stats, stacked_mnist_modes

__all__ = [
    "ClassifierFeatures", "ClassifierModule", "DomainClassifier", "FeatureCache", "FeatureNetworkError",
    "InceptionFeatures", "evaluate_generator", "extract", "label_effect", "fake_batches", "image_metrics", "load_classifier", "mode_coverage",
    "mode_histogram_stats", "real_batches", "stacked_mnist_modes",
]
