"""``python -m gan_lab.progress run=<run folder>``: an animated GIF of a run's fixed-z sample grids, in training
order (``<run>/samples/progress.gif``; also ``python -m gan_lab.latent progress``). Config: conf/latent/progress.yaml.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig
from PIL import Image

from gan_lab.cli import hydra_command
from gan_lab.errors import ConfigError


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


main = hydra_command("latent/progress", progress)


if __name__ == "__main__":
    main()
