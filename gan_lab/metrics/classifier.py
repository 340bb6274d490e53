"""A small CNN trained by gan_lab on a dataset: the offline, domain-specific feature space for FID/KID, the
class probabilities for IS, and the classifier of mode counts and conditional accuracy.

``python -m gan_lab.classifier data=mnist`` trains one and reports its test accuracy.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.errors import CheckpointError


class DomainClassifier(nn.Module):
    """Two conv blocks (conv-BN-ReLU ×2, max-pool), average pooling to 4×4, a 128-d feature layer, logits.

    (B, channels, image_size, image_size) in [-1, 1] -> (B, num_classes) logits; ``features`` -> (B, 128).
    """

    num_features = 128

    def __init__(self, channels: int, image_size: int, num_classes: int, width: int = 32):
        super().__init__()
        self.channels, self.image_size, self.num_classes = channels, image_size, num_classes

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
                nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]

        self.body = nn.Sequential(
            *block(channels, width),
            nn.MaxPool2d(2),
            *block(width, 2 * width),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(32 * width, self.num_features),
            nn.ReLU(True),
        )
        self.head = nn.Linear(self.num_features, num_classes)

    def fit_input(self, images: Tensor) -> Tensor:
        """Images of any size/channel count in [-1, 1], resized and converted to what this network was trained on."""
        x = images.float()
        if x.shape[1] != self.channels:
            x = x.mean(1, keepdim=True) if self.channels == 1 else x.expand(-1, self.channels, -1, -1)
        if x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True)
        return x

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


class ClassifierModule(L.LightningModule):
    """Trains a DomainClassifier with cross-entropy; logs train loss and val/test accuracy."""

    def __init__(
        self, channels: int, image_size: int, num_classes: int, lr: float = 1e-3, width: int = 32, dataset: str = ""
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = DomainClassifier(channels, image_size, num_classes, width)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, labels = batch[:2]  # captioned data also carries sentence embeddings
        loss = F.cross_entropy(self.net(images), labels)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def _accuracy(self, batch: tuple[Tensor, Tensor], name: str) -> None:
        images, labels = batch[:2]  # captioned data also carries sentence embeddings
        self.log(name, (self.net(images).argmax(1) == labels).float().mean(), prog_bar=True)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._accuracy(batch, "val/accuracy")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._accuracy(batch, "test/accuracy")

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)}


# The same domain under another data name: the default data (mnist_5k) is a subset of MNIST, so a classifier
# trained by `python -m gan_lab.classifier` on the default data serves where features=classifier expects mnist.ckpt.
SAME_DOMAIN = {"mnist.ckpt": ("mnist_5k.ckpt",), "mnist_5k.ckpt": ("mnist.ckpt",)}


def resolve_classifier_path(path: str | Path) -> Path:
    """``path``, or a classifier of the same domain beside it; a one-line error saying how to make one."""
    path = Path(path)
    if path.is_file():
        return path
    for name in SAME_DOMAIN.get(path.name, ()):
        if (path.parent / name).is_file():
            return path.parent / name
    raise CheckpointError(
        f"no domain classifier at {path}: train one with `python -m gan_lab.classifier` (default data) or "
        "`python -m gan_lab.classifier data=<dataset>` (it prints where it saved it), "
        "then pass features.checkpoint=<that file>"
    )


def load_classifier(path: str | Path) -> DomainClassifier:
    path = resolve_classifier_path(path)
    from gan_lab.checkpoints import load_weights

    ckpt = load_weights(path, "domain classifier")  # weights-only: a checkpoint is data, never code
    try:
        module = ClassifierModule(**ckpt["hyper_parameters"])
        module.load_state_dict(ckpt["state_dict"])
    except Exception as err:
        raise CheckpointError(f"{path} is not a gan_lab classifier checkpoint ({type(err).__name__}: {err})") from err
    module.net.dataset = module.hparams.dataset  # what it was trained on, for the evaluation protocol
    return module.net.eval()
