"""Discriminator-refined sampling in the evaluation (gan_lab.metrics.refined): DRS and DOT on a toy model whose G
and D are written by hand, so what each must return is known; and the clear errors where D cannot judge one
sample at a time."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_lab.errors import ConfigError
from gan_lab.metrics import evaluate_generator
from gan_lab.sampling import lipschitz_estimate
from gan_lab.training import build

RING = ("data=ring", "model=gan", "model.generator.output=linear")


class HalfOnModes(nn.Module):
    """z → a ring centre when z₀ > 0 (on a mode), else the origin (between modes): half the samples are good."""

    def __init__(self, centers: torch.Tensor, shape: tuple[int, ...]):
        super().__init__()
        self.register_buffer("centers", centers)
        self.shape = shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        on = self.centers[(z[:, 1].abs() * 1000).long() % len(self.centers)]
        return torch.where(z[:, :1] > 0, on, torch.zeros_like(on)).reshape(len(z), *self.shape)


class NearModes(nn.Module):
    """A logit of +5 within 0.1 of a centre and −5 elsewhere: D*'s log-ratio for HalfOnModes against the ring."""

    def __init__(self, centers: torch.Tensor):
        super().__init__()
        self.register_buffer("centers", centers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        near = torch.cdist(x.reshape(len(x), -1), self.centers).min(1).values < 0.1
        return torch.where(near, 5.0, -5.0)


def hand_made(make_cfg, *overrides):
    model, dm, _ = build(make_cfg(*RING, *overrides))
    dm.setup("fit")
    shape = tuple(dm.split(train=True)[0][0].shape)
    model.generator = HalfOnModes(dm.centers.float(), shape)
    model.discriminator = NearModes(dm.centers.float())
    return model, dm


def score(model, dm, **sampling):
    return evaluate_generator(model, dm, metrics=["coverage"], n_samples=2000, ema=False, sampling=sampling)


def test_drs_keeps_what_d_calls_real_and_reports_its_acceptance(make_cfg):
    model, dm = hand_made(make_cfg)
    plain, plain_protocol = score(model, dm, method="plain")
    assert plain["high_quality"] == pytest.approx(0.5, abs=0.04) and "sampling" not in plain_protocol
    drs, protocol = score(model, dm, method="drs", drs_percentile=None)  # γ = 0: exact rejection
    # accepted with probability exp(D̃ − D̃*): 1 on the modes, e⁻¹⁰ between them
    assert drs["high_quality"] > 0.995 and drs["modes_covered"] == 8
    assert protocol["drs_acceptance"] == pytest.approx(0.5, abs=0.04)
    assert protocol["sampling"].startswith("DRS (γ: 0")


def test_dot_moves_samples_by_d_and_reports_its_k(make_cfg):
    model, dm = hand_made(make_cfg)
    linear = nn.Linear(2, 1)  # a linear critic: DOT walks every sample along its weight
    model.discriminator = nn.Sequential(nn.Flatten(), linear)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[3.0, 0.0]]))
        linear.bias.zero_()
    _, protocol = score(model, dm, method="dot", dot_steps=5, dot_lr=0.01)
    assert protocol["sampling"] == "DOT (5 Adam steps, lr 0.01)"
    assert protocol["dot_k"] == pytest.approx(3.0, rel=1e-3)  # the critic's Lipschitz constant, exactly
    fakes = []
    linear.register_forward_hook(lambda m, i, o: fakes.append(i[0].detach()))
    score(model, dm, method="dot", dot_steps=5, dot_lr=0.01)
    moved = fakes[-1]  # the last critic call: the last DOT step's input
    assert moved[:, 0].mean() > 0.02  # pushed along +x, where D rises


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+remedy=pack", "model.remedies.pack.m=2"], "this D judges packs of 2: use sampling.method=plain"),
    ],
)
def test_refined_sampling_needs_a_d_of_single_samples(make_cfg, overrides, message):
    model, dm, _ = build(make_cfg(*RING, *overrides))
    dm.setup("fit")
    with pytest.raises(ConfigError, match=message):
        score(model, dm, method="drs")


def test_refined_sampling_is_for_unconditional_models_and_names_its_methods(make_cfg):
    model, dm, _ = build(make_cfg("model=cgan", "data=digits"))
    dm.setup("fit")
    with pytest.raises(ConfigError, match="takes unconditional models; ConditionalGAN is conditioned on class"):
        evaluate_generator(model, dm, n_samples=10, sampling={"method": "drs"})
    with pytest.raises(ConfigError, match="sampling.method must be one of plain, drs, dot, got 'mh'"):
        evaluate_generator(model, dm, n_samples=10, sampling={"method": "mh"})


def test_lipschitz_estimate_of_a_linear_critic_is_its_weight_norm():
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    k = lipschitz_estimate(lambda x: critic(x).flatten(), torch.randn(50, 2), torch.randn(60, 2))
    assert float(k) <= 5.0 + 1e-4 and float(k) > 4.0  # |w·(x − y)| / ‖x − y‖ ≤ ‖w‖ = 5
