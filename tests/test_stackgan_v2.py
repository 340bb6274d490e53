"""StackGAN-v2: colour consistency and the conditional/unconditional losses against hand computations, the shapes
of every branch, a short real fit on data=shapes, and bad sizes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from gan_lab.checkpoints import load_model
from gan_lab.errors import ConfigError
from gan_lab.models import Reals
from gan_lab.models.stackgan_v2 import colour_consistency, stackgan_v2_d_loss
from gan_lab.nets.stackgan_v2 import StackGANv2Discriminator, StackGANv2Generator
from gan_lab.training import build, train

TINY = [
    "model=stackgan_v2",
    "data=shapes",
    "data.n_train=64",
    "data.n_test=32",
    "data.batch_size=8",
    "data.image_size=32",
    "model.sizes=[8,16,32]",
    "model.generator.width=8",
    "model.generator.c_dim=4",
    "model.discriminator.width=4",
    "model.discriminator.text_dim=4",
    "model.latent_dim=8",
    "trainer.max_steps=2",
]
sp = lambda v: math.log1p(math.exp(v))  # noqa: E731  softplus: BCE with target 0 is sp(logit), target 1 sp(-logit)


def test_colour_consistency_by_hand():
    fine = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]).view(1, 3, 1, 2)  # pixels (1, 0, 0) and (0, 0, 1)
    coarse = torch.zeros(1, 3, 1, 1)
    mean_term, cov_term = colour_consistency(fine, coarse)
    # μ = (½, 0, ½); Σ = ½ Σ_p (p − μ)(p − μ)ᵀ = [[¼, 0, −¼], [0, 0, 0], [−¼, 0, ¼]]; the coarse image: μ = Σ = 0
    assert mean_term.item() == pytest.approx((0.25 + 0 + 0.25) / 3)
    assert cov_term.item() == pytest.approx(4 * 0.0625 / 9)
    x, y = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 4, 4)  # against torch.cov (population) image by image
    mu = lambda im: im.flatten(1).mean(1)  # noqa: E731
    cov = lambda im: torch.cov(im.flatten(1), correction=0)  # noqa: E731
    hand_mean = sum(((mu(a) - mu(b)) ** 2).sum() for a, b in zip(x, y)) / (4 * 3)
    hand_cov = sum(((cov(a) - cov(b)) ** 2).sum() for a, b in zip(x, y)) / (4 * 9)
    got = colour_consistency(x, y)
    assert got[0].item() == pytest.approx(hand_mean.item(), rel=1e-5)
    assert got[1].item() == pytest.approx(hand_cov.item(), rel=1e-5)


def test_conditional_and_unconditional_d_loss_by_hand():
    real = (torch.tensor([2.0, -1.0]), torch.tensor([0.5, 0.0]))
    wrong = (torch.tensor([1.0, 0.0]), torch.tensor([-2.0, 1.0]))
    fake = (torch.tensor([-3.0, 0.5]), torch.tensor([1.5, -0.5]))
    cond = (sp(-2) + sp(1)) / 2 + (sp(1) + sp(0)) / 2 + (sp(-3) + sp(0.5)) / 2  # real → 1, wrong → 0, fake → 0
    uncond = (sp(-0.5) + sp(0)) / 2 + (sp(2) + sp(-1)) / 2 + (sp(1.5) + sp(-0.5)) / 2  # real → 1, WRONG → 1, fake → 0
    assert stackgan_v2_d_loss(real, wrong, fake, 0.5).item() == pytest.approx(cond + 0.5 * uncond, rel=1e-6)


def test_branch_shapes_and_size_errors():
    g = StackGANv2Generator(8, 12, 3, (16, 32, 64), c_dim=4, width=8, n_residual=1)
    images, mu, logvar = g(torch.randn(2, 8), torch.randn(2, 12))
    assert [x.shape for x in images] == [(2, 3, 16, 16), (2, 3, 32, 32), (2, 3, 64, 64)] and mu.shape == (2, 4)
    assert all(x.min() >= -1 and x.max() <= 1 for x in images)
    d = StackGANv2Discriminator(12, 3, (16, 32, 64), width=4, text_dim=4)
    assert [(c.shape, u.shape, k) for c, u, k in d(images, torch.randn(2, 12))] == [((2,), (2,), None)] * 3
    d = StackGANv2Discriminator(12, 3, (16, 32, 64), width=4, condition="aux", aux_classes=(5, 8))
    assert [k.shape for _, _, k in d(images, torch.randn(2, 12))] == [(2, 13)] * 3  # one class head per branch
    with pytest.raises(ConfigError, match="must double"):
        StackGANv2Generator(8, 12, 3, (16, 48))
    with pytest.raises(ConfigError, match="4·2\\^k"):
        StackGANv2Discriminator(12, 3, (12, 24))


def test_model_losses_are_the_sums_over_branches_by_hand(make_cfg):
    released = "model.discriminator.condition=concat"  # the released D (the class heads: the test below)
    model, dm, _ = build(make_cfg(*TINY, released, "model.colour_weight=3.0", "model.uncond_weight=0.5"))
    torch.manual_seed(0)
    images, emb = torch.rand(6, 3, 32, 32) * 2 - 1, torch.randn(6, dm.embedding_dim)
    classes = torch.tensor([0, 1, 2, 0, 1, 2])
    real, draw = Reals(model.real_images(images), emb, classes), model.draw(model.generator, torch.randn(6, 8), emb)
    model.noise = torch.Generator().manual_seed(1)
    loss, logs = model.discriminator_loss(real, draw.detach())
    from gan_lab.data.captioned import mismatched_indices

    wrong = mismatched_indices(classes, torch.Generator().manual_seed(1))
    assert (classes[wrong] != classes).all()  # wrong pairs are never of the same class
    hand = 0.0
    for size, d in zip((8, 16, 32), model.discriminator.branches):
        x = torch.nn.functional.avg_pool2d(images, 32 // size)
        f = draw.images[(8, 16, 32).index(size)].detach()
        outs = [
            (d.conditional(h, emb), d.unconditional(h)) for h in (d.features(x), d.features(x[wrong]), d.features(f))
        ]
        hand = hand + stackgan_v2_d_loss(*outs, 0.5)
    assert loss.item() == pytest.approx(hand.item(), rel=1e-5)
    g_loss, g_logs = model.generator_loss(draw, real)
    fakes = draw.images
    adv = sum(
        sp_mean(-d.conditional(d.features(f), emb)) + 0.5 * sp_mean(-d.unconditional(d.features(f)))
        for d, f in zip(model.discriminator.branches, fakes)
    )
    colour = sum(m + 5 * c for m, c in (colour_consistency(fakes[i], fakes[i - 1]) for i in (1, 2)))
    assert g_logs["g_loss"].item() == pytest.approx(adv.item(), rel=1e-5)
    assert g_logs["colour_consistency"].item() == pytest.approx(colour.item(), rel=1e-5)
    assert g_loss.item() == pytest.approx((adv + 2.0 * g_logs["kl"] + 3.0 * colour).item(), rel=1e-5)


def sp_mean(x):
    return torch.nn.functional.softplus(x).mean()


def test_stackgan_v2_fits_and_generates_every_branch(make_cfg):
    cfg = make_cfg(*TINY)
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    model, _, g_steps = load_model(ckpt)
    assert g_steps == 2 and int(model.generator_ema.n_averaged) == 2  # EMA of G: one update per G step
    z, emb = torch.randn(3, 8), torch.randn(3, model.generator.ca.fc.in_features)
    torch.manual_seed(0)  # the CA noise
    branches = model.generate_branches(z, emb)
    assert [x.shape for x in branches] == [(3, 3, 8, 8), (3, 3, 16, 16), (3, 3, 32, 32)]
    torch.manual_seed(0)
    assert torch.equal(model.generate(z, emb), branches[-1])  # samples, generate and evaluate: the largest branch
    assert any(Path(cfg.paths.output_dir, "samples").glob("step_*.png"))


def test_stackgan_v2_bad_sizes_are_one_line_errors(make_cfg):
    with pytest.raises(Exception, match="smaller than StackGAN-v2's largest branch"):
        model, dm, trainer = build(make_cfg(*TINY, "model.sizes=[16,32,64]"))
        trainer.fit(model, datamodule=dm)
    with pytest.raises(Exception, match="must double"):
        build(make_cfg(*TINY, "model.sizes=[8,32]"))


def test_sample_grids_show_every_stage_side_by_side_and_log_the_captions(make_cfg):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = make_cfg(*TINY)
    train(cfg)
    run = Path(cfg.paths.output_dir)
    stages = sorted((run / "samples").glob("stages_*.png"))
    assert stages
    from PIL import Image

    # 8 captions (rows) × 4 z (columns); each cell the 3 branches at 32 px side by side
    assert Image.open(stages[-1]).size == (2 + 4 * (3 * 32 + 2), 2 + 8 * (32 + 2))
    acc = EventAccumulator(str(next(run.rglob("events.out.tfevents*")).parent), size_guidance={"tensors": 0}).Reload()
    assert "samples_stages" in acc.Tags()["images"]
    assert any(t.startswith("captions") for t in acc.Tags()["tensors"])


def test_r1_is_the_sum_over_branches_and_the_gradient_penalty_is_refused(make_cfg):
    model, dm, _ = build(make_cfg(*TINY, "+stabilizer=r1"))
    torch.manual_seed(0)
    images, emb = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, dm.embedding_dim)
    model.noise = torch.Generator().manual_seed(1)
    fake = model.draw(model.generator, torch.randn(4, 8), emb).detach()
    _, logs = model.discriminator_loss(Reals(model.real_images(images), emb, torch.tensor([0, 1, 0, 1])), fake)
    hand = 0.0
    for size, d in zip((8, 16, 32), model.discriminator.branches):
        x = torch.nn.functional.avg_pool2d(images, 32 // size).requires_grad_(True)
        (grad,) = torch.autograd.grad(d.conditional(d.features(x), emb).sum(), x)
        hand = hand + grad.pow(2).sum((1, 2, 3)).mean()
    assert logs["r1_penalty"].item() == pytest.approx(hand.item(), rel=1e-5)
    with pytest.raises(Exception, match="not the interpolate gradient penalty"):
        build(make_cfg(*TINY, "+stabilizer=gp"))


def test_class_heads_add_the_aux_loss_of_every_branch_by_hand(make_cfg):
    from gan_lab.models.stackgan import class_aux_loss

    cfg = make_cfg(*TINY, "model.discriminator.condition=projection_aux", "model.aux_weight=0.5")
    model, dm, _ = build(cfg)
    assert model.discriminator.aux_classes == (5, 8, 3, 9)  # data=shapes' class_sizes
    torch.manual_seed(0)
    images, emb = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, dm.embedding_dim)
    classes = torch.tensor([0, 7, 100, 1079])
    real, draw = Reals(model.real_images(images), emb, classes), model.draw(model.generator, torch.randn(4, 8), emb)
    model.noise = torch.Generator().manual_seed(1)
    loss, logs = model.discriminator_loss(real, draw.detach())
    heads = [
        (d, torch.nn.functional.avg_pool2d(images, 32 // s)) for s, d in zip((8, 16, 32), model.discriminator.branches)
    ]
    hand = sum(class_aux_loss(d.aux(d.features(x).flatten(1)), classes, (5, 8, 3, 9)) for d, x in heads)
    assert logs["d_aux_loss"].item() == pytest.approx(hand.item(), rel=1e-5)
    assert loss.item() == pytest.approx((sum(logs[f"d_loss_{s}px"] for s in (8, 16, 32)) + 0.5 * hand).item(), rel=1e-5)
    g_loss, g_logs = model.generator_loss(draw, real)
    fakes = zip(model.discriminator.branches, draw.images)
    g_hand = sum(class_aux_loss(d.aux(d.features(f).flatten(1)), classes, (5, 8, 3, 9)) for d, f in fakes)
    assert g_logs["g_aux_loss"].item() == pytest.approx(g_hand.item(), rel=1e-5)
    rest = g_logs["g_loss"] + 2.0 * g_logs["kl"] + 50.0 * g_logs["colour_consistency"]
    assert g_loss.item() == pytest.approx((rest + 0.5 * g_hand).item(), rel=1e-5)
    with pytest.raises(Exception, match="reads 40 classes but the data has 1080"):
        m, d, trainer = build(
            make_cfg(*TINY, "model.discriminator.condition=aux", "model.discriminator.aux_classes=[5,8]")
        )
        trainer.fit(m, datamodule=d)
