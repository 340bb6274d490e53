"""bf16 mixed precision, channels-last and torch.compile switches on the CPU (GPU runs: see the README)."""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from gan_lab.errors import ConfigError
from gan_lab.training import build, train


@pytest.mark.parametrize("model", ["dcgan", "wgan_gp"])
def test_bf16_mixed_precision_fits_on_cpu(make_cfg, model):
    metrics = train(
        make_cfg(
            f"model={model}", "trainer.precision=bf16-mixed", "model.runtime.channels_last=true", "trainer.max_steps=2"
        )
    )
    assert metrics["train/g_steps"] == 2 and math.isfinite(metrics["train/d_loss"])


def test_channels_last_puts_the_convolutions_in_channels_last_format(make_cfg):
    model, datamodule, trainer = build(make_cfg("model.runtime.channels_last=true", "trainer.max_steps=1"))
    trainer.fit(model, datamodule=datamodule)
    conv = next(m for m in model.discriminator.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("cc") is None, reason="torch.compile on the CPU needs a C++ compiler"
)
def test_torch_compile_fits_and_keeps_checkpoint_names(make_cfg):
    cfg = make_cfg("model.runtime.torch_compile=true", "trainer.max_steps=2")
    model, datamodule, trainer = build(cfg)
    trainer.fit(model, datamodule=datamodule)
    assert model.g_steps == 2
    saved = torch.load(f"{cfg.paths.output_dir}/checkpoints/last.ckpt", weights_only=False)["state_dict"]
    assert not any("_orig_mod" in k for k in saved)  # loadable into an uncompiled model


def test_torch_compile_with_a_gradient_penalty_is_refused_clearly(make_cfg):
    with pytest.raises(Exception) as err:
        build(make_cfg("model=wgan_gp", "model.runtime.torch_compile=true"))
    assert "torch.compile cannot differentiate twice" in str(err.value.__cause__ or err.value)
    assert isinstance(err.value.__cause__ or err.value, ConfigError)
