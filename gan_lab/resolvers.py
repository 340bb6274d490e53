"""The config resolvers gan_lab's YAML files use (``${run_name:...}``, ``${resume_dir:...}``, ``${mul:a,b}``, ...),
registered with OmegaConf when gan_lab is imported."""

from pathlib import Path

from omegaconf import OmegaConf

from gan_lab.steps import optimizer_steps

# ${optimizer_steps:G,n_critic}: Lightning's step count (every optimiser step) for G generator steps, for
# callbacks such as ModelCheckpoint whose every_n_train_steps counts Lightning steps.
OmegaConf.register_new_resolver("optimizer_steps", optimizer_steps, replace=True)


def resume_dir(ckpt_path: str | None, new_dir: str) -> str:
    """The run folder of ``ckpt_path`` (``<run>/checkpoints/x.ckpt``) when resuming, so the resumed run goes on in
    it (TensorBoard curves and samples not split in two); otherwise ``new_dir``."""
    if ckpt_path:
        run = Path(ckpt_path).parent.parent
        if (run / ".hydra").is_dir():
            return str(run)
    return new_dir


# hydra.run.dir: ${resume_dir:${ckpt_path},<a new timestamped folder>}
OmegaConf.register_new_resolver("resume_dir", resume_dir, replace=True)


def run_name(model: str, data: str, tags: list | str | None = None) -> str:
    """``<model>-<data>[-<tag>...]``: the end of a run folder's name, so TensorBoard's run list tells a DCGAN
    from a WGAN-GP (``tags=[baseline]`` adds words of your own)."""
    tags = [tags] if isinstance(tags, str) else tags or []
    words = [str(model), str(data), *(str(t) for t in tags)]
    return "-".join(w.replace("/", "_").replace(" ", "_") for w in words if w and w != "None")


# hydra.run.dir: <date>/<time>_<model>-<data>_${run_name:<model>,<data>,${tags}}
OmegaConf.register_new_resolver("run_name", run_name, replace=True)

# ${basename:${paths.output_dir}}: the run folder's name, e.g. the run name in MLflow and W&B.
OmegaConf.register_new_resolver("basename", lambda path: Path(str(path)).name, replace=True)
# ${mul:a,b}: a·b, e.g. the packed discriminator's input channels ${mul:${data.channels},${model.remedies.pack.m}}.
OmegaConf.register_new_resolver("mul", lambda a, b: a * b, replace=True)
# ${div:a,b}: a // b, e.g. BigGAN's self-attention at half the image size ${div:${data.image_size},2}.
OmegaConf.register_new_resolver("div", lambda a, b: a // b, replace=True)
