"""``python -m gan_lab.classifier data=mnist``: train the domain classifier used for offline FID/KID/IS features,
class-mode counts and conditional accuracy; prints its test accuracy and where its checkpoint is."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig

from gan_lab.cli import hydra_command
from gan_lab.errors import ConfigError
from gan_lab.metrics import ClassifierModule


def train_classifier(cfg: DictConfig) -> dict[str, float]:
    """Fit on the train split, test on the test split, save to ``cfg.output``; returns test accuracy and size."""
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data, batch_size=cfg.batch_size)
    if not datamodule.num_classes:
        raise ConfigError(f"data {datamodule.name} has no class labels (data.num_classes is null): nothing to classify")
    module = ClassifierModule(
        datamodule.channels, datamodule.image_size, datamodule.num_classes, lr=cfg.lr, dataset=datamodule.name
    )
    output = Path(cfg.output)
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        accelerator=cfg.accelerator,
        devices=1,
        default_root_dir=output.parent,
        logger=TensorBoardLogger(output.parent, name=output.stem),
        callbacks=[RichProgressBar()] if cfg.progress_bar else [],
        enable_checkpointing=False,
        enable_progress_bar=cfg.progress_bar,
    )
    trainer.fit(module, datamodule=datamodule)
    accuracy = trainer.test(module, datamodule=datamodule, verbose=False)[0]["test/accuracy"]
    trainer.save_checkpoint(output, weights_only=True)  # a feature network: weights and hparams, no optimiser
    n_test = len(datamodule.split(train=False))
    print(f"test accuracy {accuracy:.4f} on {n_test} test images of {datamodule.name}; saved {output}")
    return {"test/accuracy": accuracy, "n_test": n_test}


main = hydra_command("classifier", train_classifier)


if __name__ == "__main__":
    main()
