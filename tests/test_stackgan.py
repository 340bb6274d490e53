"""StackGAN: conditioning augmentation and matching-aware loss against hand computations, Stage-I frozen in
Stage-II, short real fits of both stages on data=shapes, and bad-input errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from gan_lab.data.captioned import mismatched_indices
from gan_lab.errors import ConfigError
from gan_lab.models import Reals
from gan_lab.models.stackgan import matching_aware_d_loss
from gan_lab.nets.stackgan import ConditioningAugmentation, StageIGenerator, StageIIGenerator
from gan_lab.training import build, train

TINY = [
    "data=shapes",
    "data.n_train=64",
    "data.n_test=32",
    "data.batch_size=8",
    "data.image_size=32",
    "model.generator.width=8",
    "model.discriminator.width=8",
    "model.latent_dim=8",
    "model.image_size=16",
    "trainer.max_steps=2",
]


def test_conditioning_augmentation_reparameterisation_and_kl_by_hand():
    ca = ConditioningAugmentation(2, 1)
    with torch.no_grad():
        ca.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        ca.fc.bias.copy_(torch.tensor([0.5, -1.0]))
    emb = torch.tensor([[1.0, 0.25]])  # μ = 1.5, log σ² = 2·0.25 - 1 = -0.5
    g = torch.Generator().manual_seed(3)
    eps = torch.randn((1, 1), generator=torch.Generator().manual_seed(3)).item()
    c, mu, logvar = ca(emb, g)
    assert mu.item() == pytest.approx(1.5) and logvar.item() == pytest.approx(-0.5)
    assert c.item() == pytest.approx(1.5 + math.exp(-0.25) * eps, rel=1e-6)
    kl_hand = 0.5 * (1.5**2 + math.exp(-0.5) - 1 - (-0.5))
    assert ca.kl(mu, logvar).item() == pytest.approx(kl_hand, rel=1e-6)
    assert ca.kl(torch.zeros(4, 3), torch.zeros(4, 3)).item() == 0.0  # N(0, I) itself
    two = ca.kl(torch.tensor([[1.5, 0.0]]), torch.tensor([[-0.5, 0.0]]))  # a second, prior-matching dimension
    assert two.item() == pytest.approx(kl_hand / 2, rel=1e-6)  # mean over dimensions, as the released code


def test_matching_aware_loss_by_hand():
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731  softplus
    rr, rw, fr = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 1.0]), torch.tensor([-3.0, 0.0])
    hand = (sp(-2) + sp(1)) / 2 + 0.5 * ((sp(0.5) + sp(1.0)) / 2 + (sp(-3) + sp(0)) / 2)
    assert matching_aware_d_loss(rr, rw, fr).item() == pytest.approx(hand, rel=1e-6)


def test_net_shapes_and_size_errors():
    g = StageIGenerator(8, 12, 3, 16, c_dim=4, width=4)
    x, _, _ = g(torch.randn(2, 8), torch.randn(2, 12))
    assert x.shape == (2, 3, 16, 16)
    assert StageIIGenerator(12, 3, 32, 16, 4, 4, 1)(x, torch.randn(2, 12))[0].shape == (2, 3, 32, 32)
    with pytest.raises(ConfigError, match="4·2\\^k"):
        StageIGenerator(8, 12, 3, 20)
    with pytest.raises(ConfigError, match="multiple"):
        StageIIGenerator(12, 3, 16, 16)


def test_stage1_fits_and_stage2_keeps_stage1_frozen(make_cfg, tmp_path):
    cfg1 = make_cfg("model=stackgan", *TINY)
    train(cfg1)
    ckpt = Path(cfg1.paths.output_dir) / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    cfg2 = make_cfg(
        "model=stackgan_stage2",
        f"model.stage1_ckpt={ckpt}",
        "model.generator.width=4",
        "model.generator.n_residual=1",
        *TINY,
        "model.image_size=32",
        f"paths.output_dir={tmp_path / 'run2'}",
    )
    model, dm, trainer = build(cfg2)
    before = {k: v.clone() for k, v in model.generator.stage1.state_dict().items()}
    opt_g = model.configure_optimizers()[0]
    in_opt = {id(p) for group in opt_g.param_groups for p in group["params"]}
    assert not any(id(p) in in_opt for p in model.generator.stage1.parameters())
    trainer.fit(model, datamodule=dm)
    after = model.generator.stage1.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN statistics unchanged
    assert model.generate(torch.randn(2, 8), torch.randn(2, dm.embedding_dim)).shape == (2, 3, 32, 32)
    z, emb = torch.randn(2, 8), torch.randn(2, dm.embedding_dim)
    model.eval()
    torch.manual_seed(0)  # the CA noise of both stages
    low, high = model.stage_images(z, emb)  # the caption grid's cells: both stages side by side
    assert low.shape == (2, 3, 16, 16) and high.shape == (2, 3, 32, 32)
    torch.manual_seed(0)
    assert torch.equal(model.generate(z, emb), high)
    assert sorted(p.name for p in (tmp_path / "run2" / "samples").glob("stages_*.png"))


def test_stage2_needs_a_stage1_checkpoint(make_cfg):
    with pytest.raises(Exception, match="needs model.stage1_ckpt="):  # Hydra wraps the one-line ConfigError
        build(make_cfg("model=stackgan_stage2", *TINY))


def test_stackgan_needs_captioned_batches(make_cfg):
    model, _, _ = build(make_cfg("model=stackgan", *TINY))
    with pytest.raises(ConfigError, match="captioned data"):
        model.training_step((torch.zeros(2, 3, 16, 16), torch.zeros(2, dtype=torch.long)), 0)


def test_ca_mu_init_scale_scales_only_the_mu_rows():
    torch.manual_seed(0)
    plain = ConditioningAugmentation(16, 4)
    torch.manual_seed(0)
    scaled = ConditioningAugmentation(16, 4, mu_init_scale=10.0)
    assert torch.allclose(scaled.fc.weight[:4], 10 * plain.fc.weight[:4])  # μ
    assert torch.equal(scaled.fc.weight[4:], plain.fc.weight[4:]) and torch.equal(scaled.fc.bias, plain.fc.bias)


def test_r1_reaches_the_matching_aware_loss_by_hand(make_cfg):
    """``+stabilizer=r1`` adds γ/2·E‖∇ₓ D(x, t)‖² on the real images with their right captions."""
    condition = "model.discriminator.condition=projection"  # no class head: its loss is checked on its own
    model, dm, _ = build(make_cfg("model=stackgan", *TINY, "+stabilizer=r1", condition))
    torch.manual_seed(0)
    real, emb = torch.rand(4, 3, 16, 16) * 2 - 1, torch.randn(4, dm.embedding_dim)
    draw = model.draw(model.generator, torch.randn(4, 8), emb).detach()
    classes, fake = torch.tensor([0, 1, 0, 1]), draw.images
    model.noise = torch.Generator().manual_seed(1)
    loss, logs = model.discriminator_loss(Reals(real, emb, classes), draw)
    wrong = emb[mismatched_indices(classes, torch.Generator().manual_seed(1))]
    x = real.clone().requires_grad_(True)
    out = model.discriminator(x, emb)
    (grad,) = torch.autograd.grad(out.sum(), x)
    r1 = grad.pow(2).sum((1, 2, 3)).mean()
    hand = matching_aware_d_loss(out, model.discriminator(real, wrong), model.discriminator(fake, emb)) + 5.0 * r1
    assert logs["r1_penalty"].item() == pytest.approx(r1.item(), rel=1e-5)
    assert loss.item() == pytest.approx(hand.item(), rel=1e-5)
