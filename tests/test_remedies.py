"""Mode-collapse remedies against their definitions: PacGAN packing, minibatch stddev / discrimination, DiffAugment,
Unrolled GAN; and each in a real fit (conditional, bf16, DDP)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import Tensor, nn

from gan_lab import augment
from gan_lab.errors import ConfigError
from gan_lab.models import GANModule, Reals
from gan_lab.models.remedies import Unrolled
from gan_lab.models.unrolled import unrolled_critic
from gan_lab.nets import (
    DiscriminatorInput,
    MinibatchDiscrimination,
    MinibatchStdDev,
    MLPDiscriminator,
    MLPGenerator,
    pack,
)
from gan_lab.training import build, train
from tests.ddp_helpers import fit_on_two_ranks

# --- packing ---------------------------------------------------------------------------------------------------


def test_pack_concatenates_consecutive_samples_along_channels_in_order():
    x = torch.arange(6 * 2 * 2 * 2, dtype=torch.float).view(6, 2, 2, 2)
    packed = pack(x, 3)
    assert packed.shape == (2, 6, 2, 2)
    torch.testing.assert_close(packed[0], torch.cat([x[0], x[1], x[2]]))
    torch.testing.assert_close(packed[1], torch.cat([x[3], x[4], x[5]]))
    with pytest.raises(ConfigError, match="divisible by 4"):
        pack(x, 4)


def test_packed_discriminator_sees_augmented_packs_and_refuses_labels():
    seen = []
    net = DiscriminatorInput(nn.Identity(), pack=2)
    net.net.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    x = torch.randn(4, 2, 1, 1)
    out = net(x)
    assert out.shape == (2, 4, 1, 1) and torch.equal(out[1, 2:], x[3]) and seen[0].shape == (2, 4, 1, 1)
    with pytest.raises(ConfigError, match="unconditional"):
        net(x, torch.zeros(4, dtype=torch.long))


def test_acgan_critic_pass_sees_the_augmented_images_too():
    class Classifier(nn.Module):  # records what its one ACGAN pass is shown
        def classify(self, x):
            self.seen = x
            return x.sum((1, 2, 3)), x.flatten(1)[:, :3]

    d = DiscriminatorInput(Classifier(), augment="translation,cutout")
    x = torch.randn(8, 1, 8, 8)
    torch.manual_seed(0)
    out, logits = d.classify(x)
    torch.manual_seed(0)
    expected = augment.diff_augment(x, "translation,cutout")
    assert not torch.equal(expected, x)
    torch.testing.assert_close(d.net.seen, expected)
    torch.testing.assert_close(out, expected.sum((1, 2, 3)))
    with pytest.raises(ConfigError, match="unconditional"):
        DiscriminatorInput(Classifier(), pack=2).classify(x)


# --- minibatch layers ------------------------------------------------------------------------------------------


def test_minibatch_stddev_matches_a_hand_computation():
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0], [3.0, 6.0], [0.0, 4.0]])
    out = MinibatchStdDev(group_size=2, eps=0.0)(x)
    # groups are strided (ProGAN): {0, 2} and {1, 3}; population std per feature, then averaged
    g0 = (1.0 + 2.0) / 2  # std(1, 3) = 1, std(2, 6) = 2
    g1 = (0.0 + 2.0) / 2  # std(0, 0) = 0, std(0, 4) = 2
    torch.testing.assert_close(out[:, 2], torch.tensor([g0, g1, g0, g1]))
    torch.testing.assert_close(out[:, :2], x)
    maps = MinibatchStdDev(group_size=2)(torch.randn(4, 3, 5, 5))
    assert maps.shape == (4, 4, 5, 5) and torch.all(maps[0, 3] == maps[0, 3, 0, 0])  # one constant channel


def test_minibatch_discrimination_matches_a_hand_computation():
    layer = MinibatchDiscrimination(in_features=2, out_features=1, kernel_dims=2)
    with torch.no_grad():
        layer.T.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))  # M_i = (x_i0, 2·x_i1)
    x = torch.tensor([[0.0, 0.0], [1.0, 0.5], [0.0, 1.0]])
    m = [(0.0, 0.0), (1.0, 1.0), (0.0, 2.0)]
    expected = [sum(math.exp(-(abs(a[0] - b[0]) + abs(a[1] - b[1]))) for b in m) for a in m]  # j = i included
    out = layer(x)
    torch.testing.assert_close(out[:, 2], torch.tensor(expected))
    torch.testing.assert_close(out[:, :2], x)


@pytest.mark.parametrize("kind", ["stddev", "discrimination"])
def test_minibatch_layer_in_front_of_the_head_of_any_net(make_cfg, kind):
    for net in ["mlp", "dcgan", "resnet"]:
        small = [] if net == "mlp" else ["model.discriminator.width=8", "model.generator.width=8"]
        cfg = make_cfg("model=dcgan", f"model/net={net}", f"+remedy=minibatch_{kind}", "data.image_size=16", *small)
        model = build(cfg)[0]
        assert model.discriminator(torch.randn(8, 1, 16, 16)).shape == (8,)


# --- DiffAugment ----------------------------------------------------------------------------------------------


def test_translation_and_cutout_are_exact_on_a_hand_image():
    x = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    right = augment.translate(x, torch.tensor([1]), torch.tensor([0]))
    torch.testing.assert_close(right[0, 0], torch.tensor([[0.0, 1, 2], [0, 4, 5], [0, 7, 8]]))
    up = augment.translate(x, torch.tensor([0]), torch.tensor([-1]))
    torch.testing.assert_close(up[0, 0], torch.tensor([[4.0, 5, 6], [7, 8, 9], [0, 0, 0]]))
    cut = augment.cutout(x, torch.tensor([2]), torch.tensor([1]), size=2)  # top-left corner (1, 0)
    torch.testing.assert_close(cut[0, 0], torch.tensor([[1.0, 0, 0], [4, 0, 0], [7, 8, 9]]))


def test_diffaugment_draws_one_transform_per_pack_and_is_differentiable():
    x = torch.randn(1, 3, 8, 8).repeat(6, 1, 1, 1)  # six identical images, packs of 2
    torch.manual_seed(0)
    out = augment.diff_augment(x, group=2)
    for i in (0, 2, 4):
        torch.testing.assert_close(out[i], out[i + 1])
    assert not torch.equal(out[0], out[2]) or not torch.equal(out[2], out[4])

    def fn(inp):
        torch.manual_seed(1)
        return augment.diff_augment(inp, "color,translation,cutout")

    assert torch.autograd.gradcheck(fn, torch.randn(2, 2, 4, 4, dtype=torch.double, requires_grad=True))
    with pytest.raises(ConfigError, match="unknown DiffAugment"):
        augment.diff_augment(x, "colour")


# --- Unrolled GAN ---------------------------------------------------------------------------------------------


def _toy_gan(unroll_steps: int) -> GANModule:
    torch.manual_seed(0)
    from gan_lab import losses

    return GANModule(
        MLPGenerator(2, 2, 1, [16], norm="none", output="linear"),
        MLPDiscriminator(2, 1, [16], norm="batch"),
        losses.d_bce,
        losses.g_nonsaturating,
        lambda p: torch.optim.Adam(p, 1e-3),
        lambda p: torch.optim.Adam(p, 1e-3),
        latent_dim=2,
        remedies={"unrolled": Unrolled(unroll_steps, lr=0.1, rule="sgd")},
    )


def _batches(model: GANModule, n: int = 8) -> tuple[Reals, Tensor]:
    """A real batch of 2-D points and latent codes for the toy GAN."""
    y = torch.zeros(n, dtype=torch.long)
    return Reals(torch.randn(n, 2, 1, 1), y, y), torch.randn(n, 2)


def test_unrolled_loss_is_the_critic_after_k_sgd_steps_and_leaves_d_untouched():
    model = _toy_gan(3)
    real, z = _batches(model)
    fake = model.draw(model.generator, z, real.condition)
    model.discriminator_loss(real, fake.detach())
    before = copy.deepcopy(model.discriminator.state_dict())  # (batch norm's running stats moved in that pass)
    loss, _ = model.generator_loss(fake, real)
    after = model.discriminator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and buffers exactly as they were
    # by hand: a copy of D trained 3 SGD steps on the same D loss, then the G loss on it
    hand = copy.deepcopy(model)
    sgd = torch.optim.SGD(hand.discriminator.parameters(), lr=0.1)
    for _ in range(3):
        sgd.zero_grad()
        hand.discriminator_loss(real, fake.detach())[0].backward()
        sgd.step()
    torch.testing.assert_close(
        loss, hand.g_loss(hand.judge(fake.images.detach(), real.condition).out), rtol=1e-5, atol=1e-6
    )
    # and G's gradient goes through the look-ahead: it differs from the plain rule's
    g_unrolled = torch.autograd.grad(loss, list(model.generator.parameters()))
    model.parts[0].steps = 0
    plain = model.generator_loss(model.draw(model.generator, z, real.condition), real)[0]
    g_plain = torch.autograd.grad(plain, list(model.generator.parameters()))
    assert not all(torch.allclose(a, b) for a, b in zip(g_unrolled, g_plain))


def test_adam_unrolling_continues_d_optimizers_state_like_torch_adam():
    model = _toy_gan(2)
    opt = torch.optim.Adam(model.discriminator.parameters(), 1e-2, betas=(0.5, 0.9))
    real, z = _batches(model)
    fake = model.draw(model.generator, z, real.condition).detach()
    for _ in range(2):  # D's own history: moments and step counts the look-ahead continues
        opt.zero_grad()
        model.discriminator_loss(real, fake)[0].backward()
        opt.step()
    saved = copy.deepcopy(opt.state_dict())
    before = copy.deepcopy(model.discriminator.state_dict())
    out = unrolled_critic(model, real, fake, steps=2, lr=1e-2, rule="adam", optimizer=opt).out
    assert all(torch.equal(before[k], v) for k, v in model.discriminator.state_dict().items())
    assert torch.equal(opt.state_dict()["state"][0]["exp_avg"], saved["state"][0]["exp_avg"])  # state untouched
    hand = copy.deepcopy(model)
    hand_opt = torch.optim.Adam(hand.discriminator.parameters(), 1e-2, betas=(0.5, 0.9))
    hand_opt.load_state_dict(saved)
    for _ in range(2):
        hand_opt.zero_grad()
        hand.discriminator_loss(real, fake)[0].backward()
        hand_opt.step()
    torch.testing.assert_close(out, hand.judge(fake.images, real.condition).out, rtol=1e-4, atol=1e-5)


def test_zero_unroll_steps_is_the_plain_rule():
    plain = _toy_gan(0)
    real, z = _batches(plain)
    fake = plain.draw(plain.generator, z, real.condition)
    torch.testing.assert_close(plain.generator_loss(fake, real)[0], plain.g_loss(plain.judge(fake.images, None).out))
    assert plain.parts[0].judge_fakes(plain, real, fake) is None


# --- in real fits -----------------------------------------------------------------------------------------------

ALL = "+remedy=[pack,minibatch_stddev,diffaugment,unrolled,topk]"


def test_all_remedies_fit_together_in_bf16(make_cfg):
    metrics = train(
        make_cfg(
            "model=dcgan",
            ALL,
            "model.remedies.unrolled.steps=1",
            "data.batch_size=16",
            "trainer.precision=bf16-mixed",
            "trainer.max_steps=2",
        )
    )
    assert metrics["train/g_steps"] == 2 and math.isfinite(metrics["train/d_loss"])


def test_remedies_on_a_conditional_model_and_pack_refused_there(make_cfg):
    metrics = train(
        make_cfg(
            "model=cgan",
            "+remedy=[minibatch_discrimination,diffaugment,unrolled]",
            "model.remedies.unrolled.steps=1",
            "trainer.max_steps=2",
        )
    )
    assert metrics["train/g_steps"] == 2 and math.isfinite(metrics["train/g_loss"])
    with pytest.raises(ConfigError, match="unconditional"):
        train(make_cfg("model=cgan", "+remedy=pack", "trainer.max_steps=1"))


def test_remedies_under_ddp_keep_ranks_identical(make_cfg, tmp_path):
    cfg = make_cfg(
        "model=dcgan",
        ALL,
        "model.remedies.unrolled.steps=1",
        "data.batch_size=8",
        "trainer.max_steps=2",
        "trainer.devices=2",
        "+trainer.strategy=ddp_spawn_find_unused_parameters_true",
        "callbacks.samples=null",
    )
    for rank in fit_on_two_ranks(cfg, tmp_path):
        assert rank["steps"] == 2 and rank["max_diffs"] == [0.0, 0.0]


# --- learning claim (slow): measured bound ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("data", "modes", "bound"), [("ring", 8, 0.965), ("grid", 25, 0.95)])
def test_mode_collapse_best_covers_every_mode(make_cfg, data, modes, bound):
    """The recipe as users run it (80,000 generator steps, seed 0; ~15 min each on one core). Measured with
    benchmarks/mode_collapse.py on a 2-core CPU (2026-12-05): ring 8/8 at 97.2 % high quality (5 seeds: 97.4 ± 0.2,
    all ≥ 97 %), grid 25/25 at 96.5 % (5 seeds: 96.4 ± 0.5, all ≥ 95 %). The ring bound sits half a point under
    its target, within the seeds' spread, for platform differences."""
    metrics = train(
        make_cfg(
            "experiment=mode_collapse_best",
            f"data={data}",
            "seed=0",
            "trainer.log_every_n_steps=50",
        )
    )
    assert metrics["val/modes_covered"] == modes and metrics["val/high_quality"] >= bound


def test_mode_collapse_study_prints_its_table_with_the_published_rows(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "mode_collapse.py"),
            "--recipes",
            "mode_collapse_best",
            "--data",
            "ring",
            "--seeds",
            "0",
            "--results",
            str(tmp_path),
            "--overrides",
            "trainer.max_steps=20",
            "callbacks.evaluation.every_n_steps=10",
            "callbacks.samples=null",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = (tmp_path / "mode_collapse.md").read_text()
    assert "| ring | gan_lab mode_collapse_best (1 seeds) |" in table and "PacGAN" in table and "VEEGAN" in table
    assert "| ring | mode_collapse_best | 0 | 20 |" in table
