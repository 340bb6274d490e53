"""The parts of the training rule: checkpoints of the flat layout still load, and a new regulariser is one class
plus one config entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor

from gan_lab.checkpoints import load_model
from gan_lab.legacy import upgrade_model_config
from gan_lab.models.parts import Draw, Part, Reals, Weighted
from gan_lab.models.remedies import DiffAugment, Minibatch, Pack
from gan_lab.models.stabilizers import EMA, R1, GradientPenalty, LRSchedule
from gan_lab.nets import DiscriminatorInput
from gan_lab.training import build, train

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name", ["dcgan_parts", "cgan_acgan"])
def test_checkpoints_of_the_flat_layout_load_and_sample_as_they_did(name):
    """Written by the code before the parts (flat ``r1_weight``, ``ema_decay``, ``pack``, ...), with the samples
    that code drew from them: today's loader rebuilds the same model and draws the same images."""
    stored = torch.load(FIXTURES / f"{name}.ckpt", weights_only=True)
    model, _, g_steps = load_model(FIXTURES / f"{name}.ckpt")
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(4) if name.startswith("cgan") else None
    torch.testing.assert_close(model.generate(z, labels), stored["expected_samples"])
    assert g_steps == 2
    kinds = {type(p) for p in model.parts}
    if name == "dcgan_parts":
        assert kinds == {EMA, R1, LRSchedule, Pack, Minibatch, DiffAugment}
        assert isinstance(model.discriminator, DiscriminatorInput) and model.discriminator.pack == 2
    else:
        assert kinds == {GradientPenalty} and model.acgan


def test_upgrade_moves_every_flat_argument_into_its_group():
    old = {
        "_target_": "gan_lab.models.GANModule",
        "latent_dim": 8,
        "gradient_penalty": {"_target_": "f"},
        "gp_weight": 5.0,
        "r1_weight": 0.0,
        "ortho_weight": 1e-4,
        "ema_decay": None,
        "ema_start": 0,
        "pack": 1,
        "augment": None,
        "minibatch": None,
        "unroll_steps": 3,
        "unroll_lr": None,
        "unroll_rule": "sgd",
        "seed": 7,
        "d_probability": True,
        "channels_last": False,
        "torch_compile": False,
        "collapse_patience": 2,
    }
    new = upgrade_model_config(old)
    assert new["stabilizers"] == {
        "gp": {"_target_": "gan_lab.models.stabilizers.GradientPenalty", "penalty": {"_target_": "f"}, "weight": 5.0},
        "ortho": {"_target_": "gan_lab.models.stabilizers.Orthogonal", "beta": 1e-4},
    }
    assert new["remedies"] == {
        "unrolled": {"_target_": "gan_lab.models.remedies.Unrolled", "steps": 3, "lr": None, "rule": "sgd"}
    }
    assert new["runtime"] == {
        "_target_": "gan_lab.models.Runtime",
        "seed": 7,
        "d_probability": True,
        "channels_last": False,
        "torch_compile": False,
        "collapse_patience": 2,
    }
    assert new["latent_dim"] == 8 and upgrade_model_config(new) is new  # today's layout passes unchanged


class MeanLogitPenalty(Part):
    """A toy regulariser: weight · mean(D(x))² on the real batch (drift of the real logits)."""

    def __init__(self, weight: float = 0.5):
        self.weight = weight

    def d_penalty(self, module, real: Reals, fake: Draw, real_out: Tensor) -> dict[str, Weighted]:
        return {"mean_logit": (self.weight, real_out.mean().pow(2))}


def test_a_new_regulariser_is_a_part_named_in_the_config(make_cfg):
    """The extension point: a Part subclass named by ``_target_`` under model.stabilizers adds its term to D's loss
    (by hand: the objective plus weight·value) and logs it."""
    target = f"{__name__}.MeanLogitPenalty"
    model, dm, _ = build(make_cfg("model=dcgan", f"+model.stabilizers.drift={{_target_: {target}, weight: 0.5}}"))
    real = Reals(torch.rand(4, 1, 8, 8) * 2 - 1, torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long))
    fake = model.draw(model.generator, model.sample_z(4, generator=torch.Generator().manual_seed(0)), real.condition)
    model.eval()  # batch norm in eval mode: the same outputs for the same images
    loss, logs = model.discriminator_loss(real, fake.detach())
    real_out, fake_out = model.discriminator(real.images), model.discriminator(fake.images.detach())
    hand = model.d_loss(real_out, fake_out) + 0.5 * real_out.mean().pow(2)
    assert loss.item() == pytest.approx(hand.item(), rel=1e-6)
    assert logs["mean_logit"].item() == pytest.approx(real_out.mean().pow(2).item(), rel=1e-6)
    metrics = train(make_cfg("model=dcgan", f"+model.stabilizers.drift={{_target_: {target}}}", "trainer.max_steps=2"))
    assert "train/mean_logit" in metrics


def test_a_part_set_to_null_is_off_and_the_constructor_stays_small(make_cfg):
    import inspect

    from gan_lab.models import GANModule

    assert len(inspect.signature(GANModule.__init__).parameters) - 1 <= 12
    model = build(make_cfg("model=wgan_gp", "model.stabilizers.gp=null"))[0]
    assert model.parts == []


def squared_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """A toy objective: E[(D(x) − 1)²] + E[D(G(z))²] (LSGAN's critic loss, written again)."""
    return (real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean()


def test_a_new_loss_is_a_function_named_in_the_config(make_cfg):
    """The loss extension point: a function named by ``model.d_loss._target_`` is the critic's objective."""
    model, _, _ = build(make_cfg("model=dcgan", f"model.d_loss._target_={__name__}.squared_d_loss"))
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([1.0, -1.0])
    assert model.d_loss(real, fake).item() == pytest.approx((0.25 + 1.0) / 2 + (1.0 + 1.0) / 2)
    metrics = train(make_cfg("model=dcgan", f"model.d_loss._target_={__name__}.squared_d_loss", "trainer.max_steps=2"))
    assert metrics["train/g_steps"] == 2 and torch.isfinite(torch.tensor(metrics["train/d_loss"]))
