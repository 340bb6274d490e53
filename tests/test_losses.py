"""Every objective and regulariser against a hand computation."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from torch import nn

from gan_lab import losses
from gan_lab.models import GANModule
from gan_lab.models.stabilizers import EMA
from gan_lab.nets import DCGANDiscriminator, MLPDiscriminator, MLPGenerator

REAL = torch.tensor([0.0, 2.0])
FAKE = torch.tensor([-1.0, 1.0])


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_bce_objectives_equal_their_log_formulas():
    d = -(math.log(sigmoid(0)) + math.log(sigmoid(2))) / 2 - (math.log(1 - sigmoid(-1)) + math.log(1 - sigmoid(1))) / 2
    assert losses.d_bce(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    minimax = (math.log(1 - sigmoid(-1)) + math.log(1 - sigmoid(1))) / 2
    assert losses.g_minimax(FAKE).item() == pytest.approx(minimax, rel=1e-6)
    nonsat = -(math.log(sigmoid(-1)) + math.log(sigmoid(1))) / 2
    assert losses.g_nonsaturating(FAKE).item() == pytest.approx(nonsat, rel=1e-6)
    # stable for confident logits, where log(sigmoid) in floating point would give -inf
    assert math.isfinite(losses.d_bce(torch.tensor([-200.0]), torch.tensor([200.0])).item())


def test_wasserstein_hinge_and_least_squares_on_fixed_outputs():
    assert losses.d_wasserstein(REAL, FAKE).item() == pytest.approx(0.0 - 1.0)
    assert losses.g_wasserstein(FAKE).item() == pytest.approx(0.0)
    real, fake = torch.tensor([0.5, 2.0, -1.0]), torch.tensor([0.5, -2.0, 1.0])
    assert losses.d_hinge(real, fake).item() == pytest.approx((0.5 + 0 + 2) / 3 + (1.5 + 0 + 2) / 3)
    assert losses.g_hinge(fake).item() == pytest.approx(0.5 / 3)
    assert losses.d_least_squares(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])).item() == pytest.approx(
        0.5 * (0 + 1) / 2 + 0.5 * (0 + 4) / 2
    )
    assert losses.g_least_squares(torch.tensor([0.0, 2.0])).item() == pytest.approx(0.5 * (1 + 1) / 2)


def linear_critic(norm: float, shape=(1, 4, 4)) -> nn.Module:
    """D(x) = w·x + b with ‖w‖ = norm: its input gradient is w everywhere."""
    critic = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 1))
    with torch.no_grad():
        w = torch.randn_like(critic[1].weight)
        critic[1].weight.copy_(w / w.norm() * norm)
    return critic


@pytest.mark.parametrize(("norm", "two_sided", "one_sided"), [(3.0, 4.0, 4.0), (0.5, 0.25, 0.0), (1.0, 0.0, 0.0)])
def test_gradient_penalties_on_a_linear_critic(norm, two_sided, one_sided):
    critic = linear_critic(norm)
    x_hat = losses.random_interpolates(torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4))
    assert losses.gradient_penalty(critic(x_hat), x_hat).item() == pytest.approx(two_sided, abs=1e-5)
    assert losses.one_sided_gradient_penalty(critic(x_hat), x_hat).item() == pytest.approx(one_sided, abs=1e-5)


def test_gradient_penalty_trains_the_critic():
    critic = linear_critic(3.0)
    x_hat = losses.random_interpolates(torch.randn(4, 1, 4, 4), torch.randn(4, 1, 4, 4))
    losses.gradient_penalty(critic(x_hat), x_hat).backward()
    w = critic[1].weight
    # d/dw (‖w‖ - 1)² = 2(‖w‖ - 1) w / ‖w‖
    torch.testing.assert_close(w.grad, 2 * (3 - 1) * w.detach() / 3)


def test_interpolates_use_one_alpha_per_sample():
    data = torch.Generator().manual_seed(1)
    real, fake = torch.randn(16, 3, 8, 8, generator=data), torch.randn(16, 3, 8, 8, generator=data)
    fake = torch.where((real - fake).abs() < 0.1, fake + 0.5, fake)  # α read back per pixel needs real ≠ fake
    x_hat = losses.random_interpolates(real, fake, torch.Generator().manual_seed(0))
    alpha = (x_hat - fake) / (real - fake)  # per pixel; must be constant within each sample
    per_sample = alpha.flatten(1)
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample), atol=1e-4, rtol=1e-4)
    assert per_sample[:, 0].std() > 0.1 and x_hat.requires_grad
    assert per_sample.min() >= 0 and per_sample.max() <= 1


def test_r1_is_the_squared_input_gradient_norm_on_real_data():
    c = 0.7
    real = torch.randn(6, 1, 3, 3, requires_grad=True)
    out = 0.5 * c * real.pow(2).flatten(1).sum(1)  # D(x) = c/2·‖x‖²  =>  ∇D = c·x
    expected = (c**2 * real.detach().pow(2).flatten(1).sum(1)).mean()
    torch.testing.assert_close(losses.r1_penalty(out, real), expected)


def test_orthogonal_regularization_sums_squared_off_diagonal_gram_entries():
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))  # W Wᵀ = [[5, 11], [11, 25]]
    assert losses.orthogonal_regularization(layer).item() == pytest.approx(2 * 11**2)
    q, _ = torch.linalg.qr(torch.randn(5, 5))
    orth = nn.Linear(5, 5, bias=False)
    with torch.no_grad():
        orth.weight.copy_(q)
    assert losses.orthogonal_regularization(orth).item() == pytest.approx(0.0, abs=1e-8)


def tiny_gan(**kwargs) -> GANModule:
    return GANModule(
        MLPGenerator(4, 1, 2, hidden=[8], norm="none"),
        MLPDiscriminator(1, 2, hidden=[8]),
        losses.d_bce,
        losses.g_nonsaturating,
        partial(torch.optim.Adam),
        partial(torch.optim.Adam),
        latent_dim=4,
        **kwargs,
    )


def test_ema_weights_follow_the_closed_form_running_average():
    decay = 0.9
    gan = tiny_gan(stabilizers={"ema": EMA(decay)})
    param = next(gan.generator.parameters())
    values = [torch.full_like(param, v) for v in (1.0, 3.0, -2.0, 5.0)]
    for v in values:
        with torch.no_grad():
            param.copy_(v)
        gan.parts[0].after_generator_step(gan)
    # first update copies; then ema_k = d·ema_{k-1} + (1-d)·p_k
    expected = values[0]
    for v in values[1:]:
        expected = decay * expected + (1 - decay) * v
    torch.testing.assert_close(next(gan.sampler.parameters()), expected)
    assert gan.sampler is not gan.generator


def test_truncated_latents_stay_within_the_threshold():
    z = tiny_gan().sample_z(5000, truncation=0.5, generator=torch.Generator().manual_seed(0))
    assert z.abs().max() <= 0.5 and z.std() < 0.35  # a normal truncated to ±0.5 has σ ≈ 0.28


def test_wgan_clips_every_critic_weight_after_each_critic_step(make_cfg):
    from gan_lab.training import build

    model, datamodule, trainer = build(make_cfg("model=wgan", "trainer.max_steps=2"))
    clipped = []
    original = model.after_discriminator_step

    def check():
        original()
        clipped.append(max(p.abs().max().item() for p in model.discriminator.parameters()))

    model.after_discriminator_step = check
    trainer.fit(model, datamodule=datamodule)
    assert len(clipped) == 10 and max(clipped) <= 0.01


def test_spectral_norm_keeps_each_critic_layer_at_unit_spectral_norm():
    critic = DCGANDiscriminator(3, 32, width=16, norm="none", spectral_norm=True)
    with torch.no_grad():
        for _ in range(30):  # power iteration runs once per training-mode forward
            critic(torch.randn(4, 3, 32, 32))
    critic.eval()
    layers = [m for m in critic.modules() if isinstance(m, nn.Conv2d)]
    assert len(layers) == 4
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05)


def test_configured_losses_are_plain_partials_of_the_configured_functions(make_cfg):
    from hydra.utils import instantiate

    model = instantiate(make_cfg("model=wgan_gp", "+stabilizer=one_sided_gp").model)
    gp = model.parts[0].penalty
    for fn in (model.d_loss, model.g_loss, gp):  # no per-call policy wrapper on the hot path
        assert type(fn) is partial
    real, fake = torch.randn(6), torch.randn(6)
    torch.testing.assert_close(model.d_loss(real, fake), losses.d_wasserstein(real, fake))
    assert gp.func is losses.one_sided_gradient_penalty
