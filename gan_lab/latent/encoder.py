"""An encoder E(x) -> z trained against a frozen trained generator, so real images get latent codes:
loss = ‖G(E(x)) - x‖² on real images + latent_weight · ‖E(G(z)) - z‖² on generated ones."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.nets import DCGANDiscriminator


class Encoder(nn.Module):
    """The DCGAN critic's convolutional body with a linear layer to the latent: (B, C, H, W) -> (B, latent_dim)."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int = 64):
        super().__init__()
        self.body = DCGANDiscriminator(channels, image_size, width=width).body
        with torch.no_grad():
            flat = self.body(torch.zeros(2, channels, image_size, image_size)).flatten(1).shape[1]
        self.head = nn.Linear(flat, latent_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x).flatten(1))


class EncoderModule(L.LightningModule):
    """Trains ``Encoder`` with the generator frozen (eval mode: batch norm uses its running statistics)."""

    def __init__(
        self,
        generator: nn.Module,
        latent_dim: int,
        channels: int,
        image_size: int,
        width: int = 64,
        lr: float = 2e-4,
        latent_weight: float = 1.0,
        gan_checkpoint: str = "",
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["generator"])
        self.encoder = Encoder(latent_dim, channels, image_size, width)
        self.generator = generator.eval().requires_grad_(False)

    def train(self, mode: bool = True):  # the generator stays in eval mode
        super().train(mode)
        self.generator.eval()
        return self

    def reconstruction_loss(self, x: Tensor) -> Tensor:
        return F.mse_loss(self.generator(self.encoder(x)), x)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        real = batch[0]
        z = torch.randn(len(real), self.hparams.latent_dim, device=self.device)
        image_loss = self.reconstruction_loss(real)
        latent_loss = F.mse_loss(self.encoder(self.generator(z)), z)
        self.log_dict({"encoder/image_mse": image_loss, "encoder/latent_mse": latent_loss}, prog_bar=True)
        return image_loss + self.hparams.latent_weight * latent_loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.encoder.parameters(), lr=self.hparams.lr, betas=(0.5, 0.999))
