"""``python -m gan_lab.text_encoder data=shapes``: train the sentence encoder of a captioned data set (a word-level
GRU, with a CNN image encoder, by a symmetric contrastive loss), save it frozen, report its R-precision.

Then ``data.text_encoder=<the checkpoint>`` makes the data module embed its captions (and free text) with it.
"""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import RichProgressBar
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from gan_lab.cli import hydra_command
from gan_lab.data.captioned import caption_choice
from gan_lab.errors import ConfigError
from gan_lab.images import to_tanh_range
from gan_lab.metrics.attributes import r_precision
from gan_lab.text import Vocabulary, load_sentence_encoder, save_sentence_encoder
from gan_lab.text.training import CaptionPairs, ContrastiveModule, as_batch


def evaluate_encoder(encoder, split, n_candidates: int, seed: int = 0) -> dict[str, float]:
    """R-precision on a split: each image against one of its captions (a fixed draw) and ``n_candidates - 1``
    random other captions; also against captions of other (shape, colour) classes only."""
    pick = caption_choice(torch.arange(len(split)), 0, seed, len(split.captions[0]))
    captions = [cs[k] for cs, k in zip(split.captions, pick.tolist())]
    image_features = encoder.image_features(to_tanh_range(split.images.cpu()))
    text = encoder(captions)
    g = torch.Generator().manual_seed(seed)
    return {
        "r_precision": r_precision(image_features, text, n_candidates, generator=g),
        "r_precision_other_class": r_precision(image_features, text, n_candidates, split.classes.cpu(), g),
        "chance": 1 / n_candidates,
    }


def train_text_encoder(cfg: DictConfig) -> dict[str, float]:
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data, **({"text_encoder": None} if "text_encoder" in cfg.data else {}))
    train = datamodule.split(train=True)
    if getattr(train, "captions", None) is None:
        raise ConfigError(f"{datamodule.name} has no caption text to train a text encoder on (e.g. data=shapes)")
    if len(train) < cfg.batch_size:
        raise ConfigError(
            f"the training split has {len(train)} images, fewer than one batch of batch_size="
            f"{cfg.batch_size}: lower batch_size"
        )
    vocabulary = Vocabulary.from_captions(c for cs in train.captions for c in cs)
    config = {
        "vocabulary": vocabulary.words,
        "embedding_dim": cfg.embedding_dim,
        "word_dim": cfg.word_dim,
        "hidden": cfg.hidden,
        "channels": datamodule.channels,
        "image_size": datamodule.image_size,
        "width": cfg.width,
        "dataset": datamodule.name,
        "temperature": cfg.temperature,
        "epochs": cfg.epochs,
    }
    module = ContrastiveModule(config, cfg.lr, cfg.temperature, cfg.epochs)
    loader = DataLoader(
        CaptionPairs(train.images.cpu(), train.captions, vocabulary),
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=True,
        collate_fn=as_batch,
    )
    output = Path(cfg.output)
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        accelerator=cfg.accelerator,
        devices=1,
        logger=False,
        default_root_dir=output.parent,
        enable_checkpointing=False,
        callbacks=[RichProgressBar()] if cfg.progress_bar else [],
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(module, loader)
    seconds = time.perf_counter() - start
    save_sentence_encoder(output, module.text, module.image, config)
    encoder = load_sentence_encoder(output)  # what users will load
    results = evaluate_encoder(encoder, datamodule.split(train=False), cfg.n_candidates, cfg.seed)
    results["train_seconds"] = seconds
    print(
        f"text encoder trained in {seconds:.0f} s ({cfg.epochs} epochs on {len(train)} images of {datamodule.name}); "
        f"test R-precision {results['r_precision']:.3f} (captions of other classes only: "
        f"{results['r_precision_other_class']:.3f}; chance {results['chance']:.3f}); saved {output}\n"
        f"use it: data.text_encoder={output}"
    )
    return results


main = hydra_command("text_encoder", train_text_encoder)


if __name__ == "__main__":
    main()
