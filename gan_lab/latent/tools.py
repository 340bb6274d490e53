"""The latent-space commands (see ``gan_lab.latent``); each takes its Hydra config and returns what it wrote
or measured, so tests and scripts can call them directly."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig
from PIL import Image
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image
from torchvision.utils import make_grid, save_image

from gan_lab.checkpoints import load_model, load_run, load_weights
from gan_lab.data.datamodule import FitImage, InMemoryImages
from gan_lab.errors import CheckpointError, ConfigError
from gan_lab.images import to_tanh_range, to_unit_range
from gan_lab.kinds import Condition
from gan_lab.latent.encoder import EncoderModule
from gan_lab.latent.ops import latent_path
from gan_lab.metrics import load_classifier, real_batches
from gan_lab.nets.conditional import check_labels


def _load(cfg: DictConfig, folder: str = "latent"):
    """(model, datamodule of its run, generator steps, output folder: ``out_dir`` or <run>/<folder>) of ``cfg.ckpt``."""
    model, datamodule, g_steps = load_run(cfg.ckpt, cfg.get("device", "cpu"), cfg.get("data_root"))
    out = Path(cfg.out_dir) if cfg.get("out_dir") else Path(cfg.ckpt).resolve().parent.parent / folder
    out.mkdir(parents=True, exist_ok=True)
    return model, datamodule, g_steps, out


def _unconditional(model, command: str) -> None:
    if model.condition is not Condition.NONE:
        raise ConfigError(
            f"latent {command} works on unconditional models; this checkpoint is {model.condition.value}-conditional"
        )


def _save_gif(frames: list[torch.Tensor], path: Path, duration_ms: int) -> None:
    images = [Image.fromarray(f.mul(255).round().byte().permute(1, 2, 0).cpu().numpy().squeeze()) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)


# --- interpolate ---------------------------------------------------------------------------------------------


def interpolate(cfg: DictConfig) -> Path:
    """One row per walk through the latent points; optionally a GIF along the walk.

    Conditional models can also walk between classes (``classes=[a, b, ...]``): the class weights go linearly from
    one class's one-hot to the next, with each row's z fixed (or walking through ``seeds`` alongside, one per class).
    """
    model, _, g_steps, out = _load(cfg)
    classes = list(cfg.classes) if cfg.classes else None
    conditional = model.condition is Condition.CLASS
    if classes is not None:
        if not conditional:
            raise ConfigError(
                "classes=[...] interpolates between the classes of a conditional model; this "
                "checkpoint is unconditional: walk between seeds instead"
            )
        check_labels(torch.tensor(classes), model.num_classes, hint=" (classes=[...])")
    seeds = list(cfg.seeds) if cfg.seeds else [0] * len(classes) if classes else list(range(cfg.points))
    if max(len(seeds), len(classes or [])) < 2:
        raise ConfigError("interpolation needs at least two points: seeds=[a,b,...], points ≥ 2 or classes=[a,b,...]")
    if classes is not None and len(seeds) != len(classes):
        raise ConfigError(
            f"walking z and classes together needs one seed per class: got {len(seeds)} seeds for "
            f"{len(classes)} classes"
        )
    paths = []
    for row in range(cfg.walks):
        points = torch.cat(
            [
                model.sample_z(1, cfg.truncation, torch.Generator(model.device).manual_seed(s + 1000 * row))
                for s in seeds
            ]
        )
        paths.append(latent_path(points, cfg.steps, cfg.method))
    length = len(paths[0])
    z = torch.cat(paths)
    labels = None
    if classes is not None:  # class weights: linear between one-hots (the same walk on every row)
        one_hots = F.one_hot(torch.tensor(classes), model.num_classes).float()
        labels = latent_path(one_hots, cfg.steps, "lerp").repeat(cfg.walks, 1).to(model.device)
    elif conditional:
        rows = torch.arange(cfg.walks) % model.num_classes if cfg.label is None else torch.full((cfg.walks,), cfg.label)
        labels = rows.repeat_interleave(length).to(model.device)
    images = to_unit_range(model.generate(z, labels, ema=cfg.ema)).cpu()
    name = f"interpolate_classes{'-'.join(map(str, classes))}" if classes else f"interpolate_{cfg.method}"
    path = out / f"{name}_step{g_steps}.png"
    save_image(images, path, nrow=length, padding=2)
    if cfg.gif:
        walks = images.view(cfg.walks, length, *images.shape[1:])
        frames = [make_grid(walks[:, t], nrow=math.ceil(math.sqrt(cfg.walks)), padding=2) for t in range(length)]
        _save_gif(frames + frames[-2:0:-1], path.with_suffix(".gif"), 120)  # there and back, ends once
    what = f"class {' -> '.join(map(str, classes))}" if classes else cfg.method
    print(f"{cfg.walks} {what} walks of {length} images -> {path}" + (" (+ .gif)" if cfg.gif else ""))
    return path


# --- encoder -------------------------------------------------------------------------------------------------


def load_encoder(path: str | Path, device: str = "cpu") -> EncoderModule:
    if not Path(path).is_file():
        raise CheckpointError(f"no encoder at {path}: train one with `python -m gan_lab.latent encoder ckpt=...`")
    ckpt = load_weights(path, "encoder")
    hparams = ckpt.get("hyper_parameters")
    if not isinstance(hparams, dict) or not isinstance(hparams.get("gan_checkpoint"), str) or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{path} is not a latent encoder (it names no gan_checkpoint): train one with "
            "`python -m gan_lab.latent encoder ckpt=...`"
        )
    generator = load_model(hparams["gan_checkpoint"], device)[0].sampler
    try:
        module = EncoderModule(generator, **hparams)
        module.load_state_dict(ckpt["state_dict"])
    except (TypeError, ValueError, RuntimeError, KeyError) as err:
        raise CheckpointError(
            f"the encoder in {path} does not fit its generator or this version of gan_lab "
            f"({type(err).__name__}: {' '.join(str(err).split())[:200]})"
        ) from None
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
    model, datamodule, g_steps, out = _load(cfg, "encoder")
    _unconditional(model, "encoder")
    L.seed_everything(cfg.seed, workers=True)
    datamodule.batch_size = cfg.batch_size
    module = EncoderModule(
        model.sampler,
        model.latent_dim,
        datamodule.channels,
        datamodule.image_size,
        width=cfg.width,
        lr=cfg.lr,
        latent_weight=cfg.latent_weight,
        gan_checkpoint=str(Path(cfg.ckpt).resolve()),
    )
    trainer = L.Trainer(
        max_epochs=cfg.max_epochs,
        max_steps=cfg.max_steps,
        accelerator=cfg.accelerator,
        devices=1,
        default_root_dir=out,
        logger=TensorBoardLogger(out, name="tensorboard", version=""),
        enable_checkpointing=False,
        callbacks=[RichProgressBar()] if cfg.progress_bar else [],
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=datamodule)
    trainer.save_checkpoint(out / "encoder.ckpt", weights_only=True)
    report = reconstruction_report(module.eval(), datamodule.split(train=False), cfg.n_eval, cfg.seed)
    report.update(split="test", generator_steps=g_steps, encoder=str(out / "encoder.ckpt"))
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(
        f"held-out reconstruction MSE: G(E(x)) {report['encoded_mse']:.4f} vs G(random z) "
        f"{report['random_z_mse']:.4f} on {report['n_images']} test images; saved {out / 'encoder.ckpt'}"
    )
    return report


# --- arithmetic ----------------------------------------------------------------------------------------------


def _labels_of(dataset) -> tuple[Tensor, list[str] | None]:
    """Every image's label of a split without decoding images, and the attribute names when the data has them."""
    if isinstance(dataset, InMemoryImages):
        return dataset.labels.cpu(), None
    for field in ("attr", "targets", "labels"):  # torchvision's CelebA keeps its 40 attributes in ``attr``
        if getattr(dataset, field, None) is not None:
            return torch.as_tensor(getattr(dataset, field)), getattr(dataset, "attr_names", None)
    raise ConfigError(f"cannot read the labels of {type(dataset).__name__}: use attributes=<csv> instead")


def _column(attribute: int | str, names: list[str] | None, where: str) -> int:
    if isinstance(attribute, int):
        return attribute
    if names is None or attribute not in names:
        raise ConfigError(f"no attribute {attribute!r} in {where}; valid: {', '.join(names or []) or 'indices only'}")
    return names.index(attribute)


def _split_by_attribute(values: Tensor, attribute: int | str, names: list[str] | None, where: str) -> tuple:
    """(with, without) masks of one attribute column: 1 = has it; 0 or -1 (CelebA's convention) = has not."""
    column = _column(attribute, names, where)
    if values.ndim != 2 or not 0 <= column < values.shape[1]:
        raise ConfigError(
            f"attribute={attribute} needs multi-attribute labels with that column in {where} "
            f"(labels of shape {tuple(values.shape)}); for class labels use source= target="
        )
    return values[:, column] > 0, values[:, column] <= 0


def _read_attribute_csv(path: str | Path, attribute: int | str, image_dir: str | Path | None) -> tuple:
    """(files with the attribute, files without) from a CSV of ``file, attr1, attr2, ...`` with a header row."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"no attribute file at {path}: a CSV with a header row, the image file in the first "
            f"column and one column per attribute (1 = has it, 0 or -1 = has not)"
        )
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise ConfigError(f"{path} needs a header row and at least one image row with an attribute column")
    header, rows = rows[0], rows[1:]
    try:
        values = torch.tensor([[float(v) for v in row[1:]] for row in rows])
    except ValueError as err:
        raise ConfigError(f"{path}: attribute values must be numbers (1 / 0 / -1): {err}") from None
    with_attr, without = _split_by_attribute(values, attribute, header[1:], str(path))
    folder = Path(image_dir) if image_dir else path.parent
    files = [folder / row[0] for row in rows]
    return [f for f, m in zip(files, with_attr) if m], [f for f, m in zip(files, without) if m]


def _load_files(files: list[Path], fit: FitImage) -> Tensor:
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ConfigError(
            f"{len(missing)} image(s) named in the attribute file are missing, e.g. {missing[0]} "
            f"(file names are relative to images=..., by default the CSV's folder)"
        )
    mode = ImageReadMode.GRAY if fit.channels == 1 else ImageReadMode.RGB
    return torch.stack([fit(decode_image(str(f), mode=mode)) for f in files])


def _attribute_groups(cfg: DictConfig, datamodule) -> tuple[Callable[[list], Tensor], list, list, str]:
    """(load, images with the attribute, images without, name): ``load`` turns a list of either into uint8 images
    at the run's size. The edited images come from the images without it."""
    if cfg.attributes is not None:
        if cfg.attribute is None:
            raise ConfigError("attributes=<csv> needs attribute=<column name or index>")
        with_attr, without = _read_attribute_csv(cfg.attributes, cfg.attribute, cfg.images)
        return partial(_load_files, fit=datamodule.fit), with_attr, without, f"attribute-{cfg.attribute}"
    train = datamodule.split(train=True)
    labels, names = _labels_of(train)
    if cfg.attribute is not None:
        with_attr, without = _split_by_attribute(labels, cfg.attribute, names, "the training split's labels")
        name = f"attribute-{cfg.attribute}"
    elif cfg.source is not None and cfg.target is not None:
        with_attr, without = labels == cfg.target, labels == cfg.source
        name = f"class{cfg.source}to{cfg.target}"
    else:
        raise ConfigError(
            "say which vector: source=<class> target=<class>, attribute=<name or index> (with "
            "attributes=<csv> for a CSV of file -> attributes), or average=..."
        )

    def load(indices: list[int]) -> Tensor:
        if isinstance(train, InMemoryImages):
            return train.images[torch.as_tensor(indices, device=train.images.device)]
        return torch.stack([train[i][0] for i in indices])

    return load, with_attr.nonzero().flatten().tolist(), without.nonzero().flatten().tolist(), name


@torch.no_grad()
def _encode(encoder: EncoderModule, images: Tensor) -> Tensor:
    return torch.cat([encoder.encoder(to_tanh_range(part).to(encoder.device)) for part in images.split(250)])


@torch.no_grad()
def arithmetic(cfg: DictConfig) -> dict[str, Any]:
    model, datamodule, g_steps, out = _load(cfg)
    _unconditional(model, "arithmetic")
    if cfg.average is not None:
        return _average_arithmetic(cfg, model, out)
    if cfg.encoder is None:
        raise ConfigError(
            "attribute vectors need an encoder: encoder=<run>/encoder/encoder.ckpt "
            "(python -m gan_lab.latent encoder ckpt=...), or use average=[[..],[..],[..]]"
        )
    encoder = load_encoder(cfg.encoder, cfg.device)
    load, with_attr, without, name = _attribute_groups(cfg, datamodule)
    if not with_attr or not without:
        raise ConfigError(
            f"the vector needs images with and without the attribute: found {len(with_attr)} with "
            f"and {len(without)} without"
        )
    vector = _encode(encoder, load(with_attr[: cfg.n_vector])).mean(0) - _encode(
        encoder, load(without[: cfg.n_vector])
    ).mean(0)
    z = _encode(encoder, load(without[: cfg.n]))
    strengths = torch.tensor(list(cfg.strengths), device=z.device)
    edited = (z[:, None] + strengths[None, :, None] * vector).flatten(0, 1)  # rows: images, columns: strengths
    images = to_unit_range(model.generate(edited)).cpu()
    path = out / f"arithmetic_{name}_step{g_steps}.png"
    save_image(images, path, nrow=len(strengths), padding=2)
    result: dict[str, Any] = {"grid": str(path), "vector_norm": vector.norm().item()}
    if cfg.classifier is not None and cfg.target is not None:  # the class the classifier sees at k[0] and k[-1]
        classifier = load_classifier(cfg.classifier).to(cfg.device)
        columns = images.view(len(z), len(strengths), *images.shape[1:]).mul(2).sub(1).to(cfg.device)

        def target_share(column: int) -> float:
            predicted = classifier(classifier.fit_input(columns[:, column])).argmax(1)
            return (predicted == cfg.target).float().mean().item()

        result["success_rate"], result["target_rate_at_first_strength"] = target_share(-1), target_share(0)
    print(json.dumps(result, indent=2))
    return result


def _average_arithmetic(cfg: DictConfig, model, out: Path) -> dict[str, Any]:
    """DCGAN §6.3: the mean z of three samples per concept; shows A, B, C and A - B + C."""
    groups = [list(g) for g in cfg.average]
    if len(groups) != 3:
        raise ConfigError("average=[[seeds of A],[seeds of B],[seeds of C]]: three lists")
    means = [
        torch.cat([model.sample_z(1, generator=torch.Generator(model.device).manual_seed(s)) for s in g]).mean(0)
        for g in groups
    ]
    z = torch.stack([*means, means[0] - means[1] + means[2]])
    path = out / "arithmetic_average.png"
    save_image(to_unit_range(model.generate(z)).cpu(), path, nrow=4, padding=2)
    print(f"A, B, C, A - B + C -> {path}")
    return {"grid": str(path)}


# --- discriminator features ----------------------------------------------------------------------------------


@torch.no_grad()
def _features(model, dataset, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    features = [
        model.discriminator.features(x.to(model.device)).flatten(1).cpu() for x in real_batches(dataset, n, 250)
    ]
    return torch.cat(features), _labels_of(dataset)[0][:n]


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
    spaces = {"discriminator": (d_train, d_test), "pixels": (pixels(train, n_train), pixels(test, n_test))}
    for name, (a, b) in spaces.items():
        scaler = StandardScaler().fit(a.numpy())
        probe = LogisticRegression(max_iter=2000).fit(scaler.transform(a.numpy()), y_train.numpy())
        results[f"{name}_train_accuracy"] = probe.score(scaler.transform(a.numpy()), y_train.numpy())
        results[f"{name}_test_accuracy"] = probe.score(scaler.transform(b.numpy()), y_test.numpy())
    (out / "features_probe.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return results
