"""Top-k generator updates (gan_lab.topk) and discriminator-refined sampling (gan_lab.sampling) against their
definitions, on hand-computed values."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_lab import losses
from gan_lab.errors import ConfigError
from gan_lab.models import Critique
from gan_lab.models.remedies import TopK
from gan_lab.sampling import dot_refine, drs_acceptance, drs_gamma, lipschitz_estimate, rejection_sample
from gan_lab.topk import top_k_fake_logits, topk_fraction


def test_topk_fraction_anneals_by_decay_per_period_down_to_the_floor():
    assert topk_fraction(0, every=1000) == 1.0
    assert topk_fraction(999, every=1000) == 1.0
    assert topk_fraction(2500, every=1000) == pytest.approx(0.99**2)
    assert topk_fraction(10**6, every=1000) == 0.5  # 0.99^1000 < 0.5
    assert topk_fraction(3, every=1, decay=0.5, minimum=0.1) == 0.125


def test_top_k_keeps_the_most_realistic_fakes_and_only_they_get_gradient():
    out = torch.tensor([0.1, 3.0, -2.0, 1.0], requires_grad=True)
    kept = top_k_fake_logits(out, 2)
    assert sorted(kept.tolist()) == [1.0, 3.0]
    loss = losses.g_nonsaturating(kept)
    assert loss.item() == pytest.approx((F.softplus(torch.tensor(-3.0)) + F.softplus(torch.tensor(-1.0))).item() / 2)
    loss.backward()
    assert out.grad[0] == 0 and out.grad[2] == 0 and out.grad[1] != 0 and out.grad[3] != 0


def test_topk_switch_uses_the_annealed_k_of_the_batch():
    out = torch.arange(10.0)
    topk = TopK(every=100, decay=0.5, minimum=0.3)

    def kept(step: int) -> list[float]:  # the remedy's selection at generator step ``step``
        module = SimpleNamespace(g_steps=step)
        return sorted(topk.select_fakes(module, Critique(out)).out.tolist())

    assert kept(0) == list(range(10))  # k = 10
    assert kept(150) == [5.0, 6.0, 7.0, 8.0, 9.0]  # fraction 0.5 → k = 5
    assert kept(1000) == [7.0, 8.0, 9.0]  # floor 0.3 → k = 3


@pytest.mark.parametrize("kwargs", [{"every": 0}, {"decay": 0.0}, {"minimum": 1.5}])
def test_topk_rejects_bad_settings(kwargs):
    with pytest.raises(ConfigError, match="top-k needs"):
        TopK(**kwargs)
    with pytest.raises(ConfigError, match="1 ≤ k ≤ batch"):
        top_k_fake_logits(torch.zeros(3), 4)


def test_drs_acceptance_is_exp_of_the_logit_gap_without_shift():
    logits = torch.tensor([0.0, -1.0, -2.0, 0.5])
    p = drs_acceptance(logits, max_logit=0.5, eps=0.0)
    assert torch.allclose(p, torch.tensor([math.exp(-0.5), math.exp(-1.5), math.exp(-2.5), 1.0]))


def test_drs_gamma_shifts_F_and_is_its_percentile():
    logits = torch.tensor([-3.0, -1.0, -0.2])
    delta = logits - 0.0
    f = delta - torch.log1p(-torch.exp(delta - 1e-6))
    assert torch.allclose(drs_acceptance(logits, 0.0, gamma=-1.0), torch.sigmoid(f + 1.0))
    assert drs_gamma(logits, 0.0, percentile=50).item() == pytest.approx(f[1].item())


def test_rejection_sampling_turns_the_generator_density_into_the_data_density():
    # p_g = U[0, 1], p_data(x) = 2x on [0, 1]: the optimal logit log(2x), accepted with probability x: E = 2/3
    g = torch.Generator().manual_seed(0)

    def draw(n):
        return torch.rand(n, 1, generator=g).clamp_min(1e-6)

    samples, rate = rejection_sample(
        draw, lambda x: torch.log(2 * x), 20_000, batch=5000, generator=torch.Generator().manual_seed(1)
    )
    assert samples.shape == (20_000, 1)
    assert samples.mean().item() == pytest.approx(2 / 3, abs=0.01)
    assert rate == pytest.approx(0.5, abs=0.02)  # E[x] under U[0, 1]


def test_lipschitz_estimate_is_the_steepest_real_fake_pair():
    critic = nn.Linear(2, 1, bias=False)
    critic.weight.data = torch.tensor([[3.0, 4.0]])
    k = lipschitz_estimate(critic, torch.zeros(1, 2), torch.tensor([[3.0, 4.0], [1.0, 0.0]]))
    assert k.item() == pytest.approx(5.0)
    near = lipschitz_estimate(critic, torch.zeros(1, 2), torch.tensor([[1.0, 0.0], [0.0, 1e-5]]), min_distance=1e-3)
    assert near.item() == pytest.approx(3.0)  # the pair 1e-5 apart is left out


def test_dot_step_is_the_gradient_of_distance_minus_critic_over_k():
    critic = nn.Linear(2, 1, bias=False)
    critic.weight.data = torch.tensor([[3.0, 4.0]])
    y = torch.tensor([[1.0, 2.0]])
    x = dot_refine(critic, y, k=5.0, steps=1, lr=0.1, delta=1e-3, optimizer="sgd")
    # ∇ at x = y: δ·1 / ‖δ·1‖ − w / K = (1/√2, 1/√2) − (0.6, 0.8)
    expected = y - 0.1 * (torch.tensor([[1 / math.sqrt(2), 1 / math.sqrt(2)]]) - torch.tensor([[0.6, 0.8]]))
    assert torch.allclose(x, expected, atol=1e-6)
    assert critic.weight.grad is None
