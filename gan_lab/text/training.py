"""Training the text encoder with an image encoder by the symmetric contrastive loss (see ``gan_lab.text_encoder``)."""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import Dataset

from gan_lab.images import blur, to_tanh_range
from gan_lab.text.contrastive import contrastive_loss
from gan_lab.text.sentence import build_networks
from gan_lab.text.tokenizer import Vocabulary


class CaptionPairs(Dataset):
    """uint8 images (N, C, S, S) with all their captions as token ids; a batch pairs each image with one of its
    captions drawn at random (``torch``'s global generator: seeded by ``seed_everything``)."""

    def __init__(self, images: Tensor, captions: list[list[str]], vocabulary: Vocabulary):
        self.images, self.k = images, len(captions[0])
        ids, lengths = vocabulary.encode([c for cs in captions for c in cs])
        self.ids, self.lengths = ids.view(len(captions), self.k, -1), lengths.view(len(captions), self.k)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor]:
        return tuple(x[0] for x in self.__getitems__([i]))

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor, Tensor]:
        idx = torch.as_tensor(indices)
        pick = torch.randint(self.k, (len(idx),))
        lengths = self.lengths[idx, pick]
        return self.images[idx], self.ids[idx, pick, : int(lengths.max())], lengths


def as_batch(batch):  # collate for CaptionPairs
    return batch


class ContrastiveModule(L.LightningModule):
    """Text (GRU) and image (CNN) encoders into one unit sphere, trained by :func:`contrastive_loss`; half of the
    images are blurred (as Stage-I images are, upsampled) so that the image branch also reads low resolutions."""

    def __init__(self, config: dict, lr: float = 2e-3, temperature: float = 0.1, epochs: int = 1):
        super().__init__()
        self.save_hyperparameters()
        self.text, self.image = build_networks(config)
        self.g = torch.Generator().manual_seed(0)

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> Tensor:
        images, ids, lengths = batch
        images = blur(to_tanh_range(images), self.g)[0]
        loss = contrastive_loss(self.image(images), self.text(ids, lengths), self.hparams.temperature)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        steps = self.trainer.estimated_stepping_batches
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.hparams.lr, total_steps=steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
