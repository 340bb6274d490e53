"""A real 2-process DDP fit (CPU, gloo) of WGAN-GP under manual optimisation and double backward."""

from __future__ import annotations

import torch
from hydra.utils import instantiate

from gan_lab import losses
from tests.ddp_helpers import fit_on_two_ranks


def test_wgan_gp_under_ddp_keeps_ranks_identical_and_its_penalty_exact(make_cfg, tmp_path):
    cfg = make_cfg(
        "model=wgan_gp",
        "model._target_=tests.ddp_helpers.RecordingGAN",
        "data.batch_size=8",
        "trainer.max_steps=3",
        "trainer.devices=2",
        "+trainer.strategy=ddp_spawn_find_unused_parameters_true",
        "callbacks.samples=null",
    )
    ranks = fit_on_two_ranks(cfg, tmp_path)
    for rank in ranks:
        assert rank["steps"] == 3 and rank["max_diffs"] == [0.0, 0.0, 0.0]  # identical weights after every step
    assert not torch.equal(ranks[0]["recorded"]["real"], ranks[1]["recorded"]["real"])  # each rank its own shard

    single_grads = []
    for rank in ranks:
        rec = rank["recorded"]
        critic = instantiate(cfg.model.discriminator)
        critic.load_state_dict(rec["D"])
        noise = torch.Generator().manual_seed(0)
        noise.set_state(rec["noise"])
        real_out, fake_out = critic(rec["real"]), critic(rec["fake"])
        x_hat = losses.random_interpolates(rec["real"], rec["fake"], noise)
        gp = losses.gradient_penalty(critic(x_hat), x_hat)
        torch.testing.assert_close(gp.item(), rec["gp"], rtol=1e-5, atol=1e-7)  # the single-process value
        loss = losses.d_wasserstein(real_out, fake_out) + 10 * gp
        single_grads.append(torch.autograd.grad(loss, list(critic.parameters())))
    # DDP averaged the double-backward gradients of the two ranks exactly as two single processes would
    for ddp_grad_0, ddp_grad_1, g0, g1 in zip(
        ranks[0]["recorded"]["grads"], ranks[1]["recorded"]["grads"], *single_grads
    ):
        torch.testing.assert_close(ddp_grad_0, (g0 + g1) / 2, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(ddp_grad_1, ddp_grad_0)


def test_biggan_with_gradient_accumulation_under_ddp_keeps_ranks_identical(make_cfg, tmp_path):
    """Two processes, two micro-batches per D and G step: batch norm's statistics (per micro-batch, rank 0's
    buffers broadcast) and the accumulated, all-reduced gradients keep the ranks in step. (ddp_spawn pickles the
    model, which fails for spectral norm's parametrizations and the EMA's update function; trainer=ddp starts
    processes that build it.)"""
    cfg = make_cfg(
        "model=biggan",
        "model.accumulate=2",
        "data.batch_size=4",
        "trainer.max_steps=2",
        "model.generator.spectral_norm=false",
        "model.discriminator.spectral_norm=false",
        "model.stabilizers.ema=null",
        "trainer.devices=2",
        "+trainer.strategy=ddp_spawn_find_unused_parameters_true",
        "callbacks.samples=null",
    )
    for rank in fit_on_two_ranks(cfg, tmp_path):
        assert rank["steps"] == 2 and rank["max_diffs"] == [0.0, 0.0]
