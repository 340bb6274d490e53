"""The latent-space commands (see ``gan_lab.latent``); each takes its Hydra config and returns what it wrote
or measured, so tests and scripts can call them directly."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig
from PIL import Image
from torchvision.utils import make_grid, save_image

from gan_lab.checkpoints import load_model, load_run
from gan_lab.data import to_tanh_range, to_unit_range
from gan_lab.data.datamodule import InMemoryImages
from gan_lab.errors import CheckpointError, ConfigError
from gan_lab.latent.encoder import EncoderModule
from gan_lab.latent.ops import latent_path
from gan_lab.metrics import load_classifier, real_batches


def _load(cfg: DictConfig):
    """(model, datamodule of its run, generator steps, output folder) of ``cfg.ckpt``."""
    model, datamodule, g_steps = load_run(cfg.ckpt, cfg.get("device", "cpu"), cfg.get("data_root"))
    out = Path(cfg.out_dir) if cfg.get("out_dir") else Path(cfg.ckpt).resolve().parent.parent / "latent"
    out.mkdir(parents=True, exist_ok=True)
    return model, datamodule, g_steps, out


def _unconditional(model, command: str) -> None:
    if hasattr(model, "num_classes"):
        raise ConfigError(f"latent {command} works on unconditional models; this checkpoint is conditional")


def _save_gif(frames: list[torch.Tensor], path: Path, duration_ms: int) -> None:
    images = [Image.fromarray(f.mul(255).round().byte().permute(1, 2, 0).cpu().numpy().squeeze()) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)


# --- interpolate ---------------------------------------------------------------------------------------------


def interpolate(cfg: DictConfig) -> Path:
    """One row per walk through the latent points; optionally a GIF along the walk."""
    model, _, g_steps, out = _load(cfg)
    seeds = list(cfg.seeds) if cfg.seeds else list(range(cfg.points))
    if len(seeds) < 2:
        raise ConfigError("interpolation needs at least two points (seeds=[a,b,...] or points ≥ 2)")
    paths = []
    for row in range(cfg.walks):
        points = torch.cat([model.sample_z(1, cfg.truncation, torch.Generator(model.device).manual_seed(s + 1000 * row))
                            for s in seeds])
        paths.append(latent_path(points, cfg.steps, cfg.method))
    length = len(paths[0])
    z = torch.cat(paths)
    labels = None
    if hasattr(model, "num_classes"):
        rows = torch.full((cfg.walks,), cfg.label) if cfg.label is not None else torch.arange(cfg.walks) % model.num_classes
        labels = rows.repeat_interleave(length).to(model.device)
    images = to_unit_range(model.generate(z, labels, ema=cfg.ema)).cpu()
    path = out / f"interpolate_{cfg.method}_step{g_steps}.png"
    save_image(images, path, nrow=length, padding=2)
    if cfg.gif:
        walks = images.view(cfg.walks, length, *images.shape[1:])
        frames = [make_grid(walks[:, t], nrow=math.ceil(math.sqrt(cfg.walks)), padding=2) for t in range(length)]
        _save_gif(frames + frames[-2:0:-1], path.with_suffix(".gif"), 120)  # there and back, ends once
    print(f"{cfg.walks} {cfg.method} walks of {length} images -> {path}" + (" (+ .gif)" if cfg.gif else ""))
    return path


def progress(cfg: DictConfig) -> Path:
    """An animated GIF of a run's fixed-z sample grids, in training order."""
    samples = sorted((Path(cfg.run) / "samples").glob("step_*.png"))
    if not samples:
        raise ConfigError(f"no sample grids in {Path(cfg.run) / 'samples'}: is {cfg.run} a gan_lab run folder?")
    frames = [Image.open(p).convert("RGB") for p in samples]
    path = Path(cfg.run) / "samples" / "progress.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=cfg.duration_ms, loop=0)
    print(f"{len(frames)} grids ({samples[0].stem} .. {samples[-1].stem}) -> {path}")
    return path


# --- encoder -------------------------------------------------------------------------------------------------


def load_encoder(path: str | Path, device: str = "cpu") -> EncoderModule:
    if not Path(path).is_file():
        raise CheckpointError(f"no encoder at {path}: train one with `python -m gan_lab.latent encoder ckpt=...`")
    ckpt = torch.load(path, map_location=device, weights_only=False)
    generator = load_model(ckpt["hyper_parameters"]["gan_checkpoint"], device)[0].sampler
    module = EncoderModule(generator, **ckpt["hyper_parameters"])
    module.load_state_dict(ckpt["state_dict"])
    return module.to(device).eval()


@torch.no_grad()
def reconstruction_report(module: EncoderModule, dataset, n: int, seed: int = 0) -> dict[str, float]:
    """Mean squared pixel error of G(E(x)) and, as the baseline, of G(random z) on ``n`` held-out images."""
    enc, rand, count = 0.0, 0.0, 0
    g = torch.Generator().manual_seed(seed)
    for x in real_batches(dataset, min(n, len(dataset)), 250):
        x = x.to(module.device)
        z = torch.randn(len(x), module.hparams.latent_dim, generator=g).to(module.device)
        enc += F.mse_loss(module.generator(module.encoder(x)), x, reduction="sum").item()
        rand += F.mse_loss(module.generator(z), x, reduction="sum").item()
        count += x.numel()
    return {"encoded_mse": enc / count, "random_z_mse": rand / count, "n_images": min(n, len(dataset))}


def train_encoder(cfg: DictConfig) -> dict[str, Any]:
    model, datamodule, g_steps, out = _load(cfg)
    _unconditional(model, "encoder")
    out = Path(cfg.out_dir) if cfg.out_dir else Path(cfg.ckpt).resolve().parent.parent / "encoder"
    L.seed_everything(cfg.seed, workers=True)
    datamodule.batch_size = cfg.batch_size
    module = EncoderModule(model.sampler, model.latent_dim, datamodule.channels, datamodule.image_size,
                           width=cfg.width, lr=cfg.lr, latent_weight=cfg.latent_weight,
                           gan_checkpoint=str(Path(cfg.ckpt).resolve()))
    trainer = L.Trainer(max_epochs=cfg.max_epochs, accelerator=cfg.accelerator, devices=1, default_root_dir=out,
                        logger=TensorBoardLogger(out, name="tensorboard", version=""), enable_checkpointing=False,
                        callbacks=[RichProgressBar()] if cfg.progress_bar else [], enable_progress_bar=cfg.progress_bar,
                        enable_model_summary=False)
    trainer.fit(module, datamodule=datamodule)
    trainer.save_checkpoint(out / "encoder.ckpt")
    report = reconstruction_report(module.eval(), datamodule.split(train=False), cfg.n_eval, cfg.seed)
    report.update(split="test", generator_steps=g_steps, encoder=str(out / "encoder.ckpt"))
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(f"held-out reconstruction MSE: G(E(x)) {report['encoded_mse']:.4f} vs G(random z) "
          f"{report['random_z_mse']:.4f} on {report['n_images']} test images; saved {out / 'encoder.ckpt'}")
    return report


# --- arithmetic ----------------------------------------------------------------------------------------------


@torch.no_grad()
def _encode_where(encoder: EncoderModule, dataset: InMemoryImages, mask: torch.Tensor, n: int) -> torch.Tensor:
    idx = mask.nonzero().flatten()[:n]
    if len(idx) == 0:
        raise ConfigError("no images with that label/attribute in the training split")
    images = to_tanh_range(dataset.images[idx.to(dataset.images.device)]).to(encoder.device)
    return torch.cat([encoder.encoder(part) for part in images.split(250)])


@torch.no_grad()
def arithmetic(cfg: DictConfig) -> dict[str, Any]:
    model, datamodule, g_steps, out = _load(cfg)
    _unconditional(model, "arithmetic")
    if cfg.average is not None:
        return _average_arithmetic(cfg, model, out)
    if cfg.encoder is None:
        raise ConfigError("attribute vectors need an encoder: encoder=<run>/encoder/encoder.ckpt "
                          "(python -m gan_lab.latent encoder ckpt=...), or use average=[[..],[..],[..]]")
    encoder = load_encoder(cfg.encoder, cfg.device)
    train = datamodule.split(train=True)
    labels = train.labels.cpu()
    if cfg.attribute is not None:  # multi-attribute labels: with vs without
        with_attr, without = labels[:, cfg.attribute] == 1, labels[:, cfg.attribute] == 0
        source_mask, name = without, f"attribute{cfg.attribute}"
    elif cfg.source is not None and cfg.target is not None:
        with_attr, without = labels == cfg.target, labels == cfg.source
        source_mask, name = without, f"class{cfg.source}to{cfg.target}"
    else:
        raise ConfigError("say which vector: source=<class> target=<class>, or attribute=<index>, or average=...")
    vector = _encode_where(encoder, train, with_attr, cfg.n_vector).mean(0) - _encode_where(
        encoder, train, without, cfg.n_vector).mean(0)
    z = _encode_where(encoder, train, source_mask, cfg.n)
    strengths = torch.tensor(list(cfg.strengths), device=z.device)
    edited = (z[:, None] + strengths[None, :, None] * vector).flatten(0, 1)  # rows: images, columns: strengths
    images = to_unit_range(model.generate(edited)).cpu()
    path = out / f"arithmetic_{name}_step{g_steps}.png"
    save_image(images, path, nrow=len(strengths), padding=2)
    result: dict[str, Any] = {"grid": str(path), "vector_norm": vector.norm().item()}
    if cfg.classifier is not None and cfg.target is not None:
        classifier = load_classifier(cfg.classifier).to(cfg.device)
        predicted = classifier(classifier.fit_input(images.view(len(z), len(strengths), *images.shape[1:])[:, -1]
                                                   .mul(2).sub(1).to(cfg.device))).argmax(1)
        result["success_rate"] = (predicted == cfg.target).float().mean().item()
        baseline = classifier(classifier.fit_input(images.view(len(z), len(strengths), *images.shape[1:])[:, 0]
                                                  .mul(2).sub(1).to(cfg.device))).argmax(1)
        result["target_rate_at_first_strength"] = (baseline == cfg.target).float().mean().item()
    print(json.dumps(result, indent=2))
    return result


def _average_arithmetic(cfg: DictConfig, model, out: Path) -> dict[str, Any]:
    """DCGAN §6.3: the mean z of three samples per concept; shows A, B, C and A - B + C."""
    groups = [list(g) for g in cfg.average]
    if len(groups) != 3:
        raise ConfigError("average=[[seeds of A],[seeds of B],[seeds of C]]: three lists")
    means = [torch.cat([model.sample_z(1, generator=torch.Generator(model.device).manual_seed(s)) for s in g]).mean(0)
             for g in groups]
    z = torch.stack([*means, means[0] - means[1] + means[2]])
    path = out / "arithmetic_average.png"
    save_image(to_unit_range(model.generate(z)).cpu(), path, nrow=4, padding=2)
    print(f"A, B, C, A - B + C -> {path}")
    return {"grid": str(path)}


# --- discriminator features ----------------------------------------------------------------------------------


@torch.no_grad()
def _features(model, dataset, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    features = [model.discriminator.features(x.to(model.device)).flatten(1).cpu() for x in real_batches(dataset, n, 250)]
    labels = dataset.labels[:n].cpu() if isinstance(dataset, InMemoryImages) else torch.tensor(
        [dataset[i][1] for i in range(n)])
    return torch.cat(features), labels


def probe_features(cfg: DictConfig) -> dict[str, Any]:
    """Logistic-regression accuracy on the discriminator's last features vs on raw pixels (train → test)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    model, datamodule, g_steps, out = _load(cfg)
    _unconditional(model, "features")
    train, test = datamodule.split(train=True), datamodule.split(train=False)
    n_train, n_test = min(cfg.n_train, len(train)), min(cfg.n_test, len(test))
    results: dict[str, Any] = {"n_train": n_train, "n_test": n_test, "generator_steps": g_steps}
    d_train, y_train = _features(model, train, n_train)
    d_test, y_test = _features(model, test, n_test)
    results["feature_dim"] = d_train.shape[1]
    pixels = lambda ds, n: torch.cat([x.flatten(1) for x in real_batches(ds, n, 250)])  # noqa: E731
    for name, (a, b) in {"discriminator": (d_train, d_test), "pixels": (pixels(train, n_train), pixels(test, n_test))}.items():
        scaler = StandardScaler().fit(a.numpy())
        probe = LogisticRegression(max_iter=2000).fit(scaler.transform(a.numpy()), y_train.numpy())
        results[f"{name}_train_accuracy"] = probe.score(scaler.transform(a.numpy()), y_train.numpy())
        results[f"{name}_test_accuracy"] = probe.score(scaler.transform(b.numpy()), y_test.numpy())
    (out / "features_probe.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return results
