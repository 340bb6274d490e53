"""gan_lab: GAN variants on PyTorch Lightning + Hydra."""

from omegaconf import OmegaConf

from gan_lab.steps import optimizer_steps

__version__ = "0.1.0"

# ${optimizer_steps:G,n_critic}: Lightning's step count (every optimiser step) for G generator steps, for
# callbacks such as ModelCheckpoint whose every_n_train_steps counts Lightning steps.
OmegaConf.register_new_resolver("optimizer_steps", optimizer_steps, replace=True)
# ${mul:a,b}: a·b, e.g. the packed discriminator's input channels ${mul:${data.channels},${model.pack}}.
OmegaConf.register_new_resolver("mul", lambda a, b: a * b, replace=True)
