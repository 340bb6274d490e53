"""The training rule itself: n_critic critic steps per generator step, each on fresh real data, and
optimisers that never touch the other network."""

from __future__ import annotations

import pytest
import torch

from gan_lab.training import build


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _grads(module: torch.nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.clone() for p in module.parameters()]


def _same(a: list[torch.Tensor | None], b: list[torch.Tensor | None]) -> bool:
    return all(
        (x is None and y is None) or (x is not None and y is not None and torch.equal(x, y)) for x, y in zip(a, b)
    )


def test_n_critic_steps_per_generator_step_each_on_a_fresh_real_batch(make_cfg):
    cfg = make_cfg("model=wgan_gp", "model.n_critic=3", "trainer.max_steps=4", "data.batch_size=16")
    model, datamodule, trainer = build(cfg)
    calls: list[tuple[str, torch.Tensor | None]] = []
    d_loss, g_loss = model.discriminator_loss, model.generator_loss
    model.discriminator_loss = lambda real, fake: (
        calls.append(("D", real.images.detach().clone())) or d_loss(real, fake)
    )
    model.generator_loss = lambda fake, real: calls.append(("G", None)) or g_loss(fake, real)
    trainer.fit(model, datamodule=datamodule)

    assert "".join(kind for kind, _ in calls) == "DDDG" * 4
    reals = [r for kind, r in calls if kind == "D"]
    assert all(len(r) == 16 for r in reals)
    for step in range(4):  # the three critic steps of a generator step see three different real batches
        a, b, c = reals[3 * step : 3 * step + 3]
        assert not torch.equal(a, b) and not torch.equal(b, c) and not torch.equal(a, c)


def test_generator_step_leaves_discriminator_unchanged_and_vice_versa(make_cfg):
    cfg = make_cfg("trainer.max_steps=3")
    model, datamodule, trainer = build(cfg)
    d_step, g_step = model._discriminator_step, model._generator_step
    checked = {"D": 0, "G": 0}

    def d_step_checked(opt, real, fake):
        g_before, g_grads = _params(model.generator), _grads(model.generator)
        out = d_step(opt, real, fake)
        assert _same(g_before, _params(model.generator)), "a critic step changed G"
        assert _same(g_grads, _grads(model.generator)), "a critic step put gradients on G"
        checked["D"] += 1
        return out

    def g_step_checked(opt, fake, real, z):
        d_before = _params(model.discriminator)
        d_grads = _grads(model.discriminator)
        g_before = _params(model.generator)
        out = g_step(opt, fake, real, z)
        assert _same(d_before, _params(model.discriminator)), "the generator step changed D"
        assert _same(d_grads, _grads(model.discriminator)), "the G step put gradients on D"
        assert not _same(g_before, _params(model.generator)), "the generator step did not update G"
        checked["G"] += 1
        return out

    model._discriminator_step, model._generator_step = d_step_checked, g_step_checked
    trainer.fit(model, datamodule=datamodule)
    assert checked == {"D": 3, "G": 3}


def test_step_accounting_converts_generator_steps_and_lightning_steps_both_ways():
    from omegaconf import OmegaConf

    from gan_lab.steps import generator_steps, optimizer_steps

    assert optimizer_steps(3, 5) == 18 and generator_steps(18, 5) == 3 and generator_steps(17, 5) == 2
    assert OmegaConf.create({"every": "${optimizer_steps:500,5}"}).every == 3000  # the config resolver


def test_cosine_lr_schedule_steps_once_per_generator_step_for_both_optimisers(make_cfg, tmp_path):
    """+stabilizer=cosine_lr: after k generator steps (n_critic = 3 critic steps each) both learning rates are
    lr0·(1 + cos(π·k/T))/2, and the schedule's place is in the checkpoint (resume continues it)."""
    import math

    cfg = make_cfg(
        "model=wgan_gp",
        "model.n_critic=3",
        "+stabilizer=cosine_lr",
        "trainer.max_steps=3",
        "model.stabilizers.cosine_lr.schedule.T_max=4",
        "data.batch_size=16",
    )
    model, datamodule, trainer = build(cfg)
    trainer.fit(model, datamodule=datamodule)
    factor = (1 + math.cos(math.pi * 3 / 4)) / 2
    lrs = [opt.param_groups[0]["lr"] for opt in model.optimizers()]
    expected = [cfg.model.g_optimizer.lr * factor, cfg.model.d_optimizer.lr * factor]
    assert all(abs(a - e) < 1e-12 for a, e in zip(lrs, expected)), (lrs, expected)
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["lr_schedulers"]
    assert [s["last_epoch"] for s in state] == [3, 3]


def test_cosine_lr_without_a_step_count_is_a_clear_error(make_cfg):
    from gan_lab.errors import ConfigError

    model, datamodule, trainer = build(
        make_cfg("+stabilizer=cosine_lr", "trainer.max_steps=-1", "+trainer.max_time=00:00:00:05")
    )
    with pytest.raises(ConfigError, match="trainer.max_steps"):
        trainer.fit(model, datamodule=datamodule)
