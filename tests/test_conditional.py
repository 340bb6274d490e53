"""Conditional GANs: label handling of every conditioning type, real fits, class grids, clear errors."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from PIL import Image

from gan_lab.errors import ConfigError
from gan_lab.models import Draw, Reals
from gan_lab.nets import (
    ConditionalDiscriminator,
    ConditionalGenerator,
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
)
from gan_lab.nets.conditional import ConditionalBatchNorm
from gan_lab.training import build, train

NETS = {
    "mlp": (
        partial(MLPGenerator, latent_dim=8, channels=1, image_size=8, hidden=[32, 32]),
        partial(MLPDiscriminator, channels=1, image_size=8, hidden=[32]),
    ),
    "dcgan": (
        partial(DCGANGenerator, latent_dim=8, channels=1, image_size=8, width=8),
        partial(DCGANDiscriminator, channels=1, image_size=8, width=8),
    ),
    "resnet": (
        partial(ResNetGenerator, latent_dim=8, channels=3, image_size=16, width=16),
        partial(ResNetDiscriminator, channels=3, image_size=16, width=16),
    ),
}


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("g_mode", ["concat", "cbn"])
def test_conditional_generators_use_the_label(net, g_mode):
    g = ConditionalGenerator(NETS[net][0], latent_dim=8, num_classes=10, conditioning=g_mode).eval()
    if g_mode == "cbn":
        assert g.cbns and all(isinstance(m, ConditionalBatchNorm) for m in g.cbns)
        with torch.no_grad():
            for m in g.cbns:
                m.gain.weight.normal_()  # per-class gains (1 + scale·Δ, Δ initialised to 0: plain batch norm)
    z = torch.randn(4, 8)
    a, b = g(z, torch.tensor([0, 1, 2, 3])), g(z, torch.tensor([4, 5, 6, 7]))
    assert a.shape == (4, *((3, 16, 16) if net == "resnet" else (1, 8, 8)))
    assert not torch.allclose(a, b)  # same z, other class: other image


@pytest.mark.parametrize(("g_mode", "label_scale"), [("cbn", 1.0), ("cbn", 10.0), ("concat", 10.0)])
def test_the_input_layer_reads_z_beside_the_scaled_one_hot_label(g_mode, label_scale):
    g = ConditionalGenerator(
        NETS["dcgan"][0], latent_dim=8, num_classes=10, conditioning=g_mode, cbn_input=True, label_scale=label_scale
    ).eval()
    first = g.net.net[0]
    assert first.in_channels == 8 + 10 and bool(g.cbns) == (g_mode == "cbn")  # cbn: the norms stay per class
    seen = []
    first.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    z, y = torch.randn(2, 8), torch.tensor([3, 7])
    g(z, y)
    expected = torch.cat([z, label_scale * torch.nn.functional.one_hot(y, 10).float()], 1)  # [z, s·onehot(y)]
    torch.testing.assert_close(seen[0].flatten(1), expected)
    assert not torch.allclose(g(z, y), g(z, torch.tensor([4, 4])))  # the label matters even with Δ = β = 0


@pytest.mark.parametrize("g_mode", ["concat", "cbn"])
def test_class_weights_blend_classes_and_one_hot_weights_equal_class_indices(g_mode):
    g = ConditionalGenerator(NETS["dcgan"][0], latent_dim=8, num_classes=10, conditioning=g_mode, cbn_scale=3.0).eval()
    with torch.no_grad():
        for m in g.cbns:
            m.gain.weight.normal_(), m.bias.weight.normal_()
    z, y = torch.randn(3, 8), torch.tensor([2, 5, 9])
    torch.testing.assert_close(g(z, torch.nn.functional.one_hot(y, 10).float()), g(z, y))
    halfway = torch.zeros(3, 10)
    halfway[:, 2] = halfway[:, 5] = 0.5
    mixed = g(z, halfway)
    assert not torch.allclose(mixed, g(z, torch.tensor([2, 2, 2]))) and not torch.allclose(mixed, g(z, y))
    if g_mode == "cbn":  # the layer's gain and bias are the mean of the two classes'
        layer = g.cbns[0]
        x = torch.randn(3, layer.norm.num_features, 4, 4)
        gain = (1 + 3 * layer.gain.weight[:, 2] + 1 + 3 * layer.gain.weight[:, 5]) / 2  # class gain: 1 + scale·Δ
        bias = (3 * layer.bias.weight[:, 2] + 3 * layer.bias.weight[:, 5]) / 2
        torch.testing.assert_close(layer(x, halfway), layer.norm(x) * gain[:, None, None] + bias[:, None, None])
    with pytest.raises(ConfigError, match=r"shape \(batch, num_classes\) = \(3, 10\); got \(3, 4\)"):
        g(z, torch.rand(3, 4))


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("d_mode", ["concat", "projection", "acgan"])
def test_conditional_discriminators(net, d_mode):
    channels, size = (3, 16) if net == "resnet" else (1, 8)
    d = ConditionalDiscriminator(NETS[net][1], channels, size, num_classes=10, conditioning=d_mode).eval()
    if d_mode == "concat":
        first = next(m for m in d.net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
        assert (
            first.in_channels == channels + 10
            if hasattr(first, "in_channels")
            else (first.in_features == (channels + 10) * size * size)
        )
    x = torch.randn(4, channels, size, size)
    out_a, out_b = d(x, torch.tensor([0, 1, 2, 3])), d(x, torch.tensor([4, 5, 6, 7]))
    assert out_a.shape == (4,)
    if d_mode == "acgan":
        assert torch.equal(out_a, out_b)  # ACGAN's adversarial output does not see the label ...
        adv, classes = d.classify(x)
        assert torch.equal(adv, out_a) and classes.shape == (4, 10)  # ... its auxiliary head predicts it
    else:
        assert not torch.allclose(out_a, out_b)


@pytest.mark.parametrize("aux_head", ["flat", "pooled"])
def test_acgan_class_head_reads_the_whole_feature_map_or_its_sum(aux_head):
    net = partial(NETS["dcgan"][1], image_size=28)
    d = ConditionalDiscriminator(net, 1, 28, num_classes=10, conditioning="acgan", aux_head=aux_head)
    x = torch.randn(3, 1, 28, 28)
    h = d.net.features(x)  # (3, C, 7, 7): flat keeps where each feature is, pooled sums over the 7×7 map
    assert h.shape[2:] == (7, 7)
    inputs = h.flatten(1) if aux_head == "flat" else h.sum((2, 3))
    assert d.classes.in_features == h.shape[1] * (49 if aux_head == "flat" else 1)
    torch.testing.assert_close(d.classify(x)[1], inputs @ d.classes.weight.T + d.classes.bias)
    with pytest.raises(ConfigError, match=r"unknown model.aux_head 'mean': use one of \('flat', 'pooled'\)"):
        ConditionalDiscriminator(net, 1, 28, num_classes=10, conditioning="acgan", aux_head="mean")


def test_projection_starts_at_the_scale_of_the_adversarial_head():
    d = ConditionalDiscriminator(NETS["dcgan"][1], 1, 8, num_classes=10, conditioning="projection").eval()
    x, y = torch.randn(64, 1, 8, 8), torch.arange(64) % 10
    h = d.net.features(x)
    adversarial, projection = d.net.head(h).flatten(), (d.embed(y) * h.sum((2, 3))).sum(1)
    assert projection.std() < 5 * adversarial.std()  # the default N(0, 1) embedding is ~50× larger


def test_projection_adds_the_inner_product_of_class_embedding_and_features():
    d = ConditionalDiscriminator(NETS["mlp"][1], 1, 8, num_classes=3, conditioning="projection")
    x, y = torch.randn(2, 1, 8, 8), torch.tensor([2, 0])
    h = d.net.features(x)
    expected = d.net.head(h).flatten() + (d.embed.weight[y] * h).sum(1)
    torch.testing.assert_close(d(x, y), expected)


@pytest.mark.parametrize(
    ("g_mode", "d_mode", "extra"),
    [
        ("concat", "concat", []),
        ("cbn", "projection", []),
        ("cbn", "acgan", []),
        (
            "concat",
            "projection",
            [
                "model.d_loss._target_=gan_lab.losses.d_wasserstein",
                "model.g_loss._target_=gan_lab.losses.g_wasserstein",
                "+stabilizer=gp",
                "model.discriminator.norm=layer",
            ],
        ),
        (
            "cbn",
            "projection",
            [
                "model.d_loss._target_=gan_lab.losses.d_hinge",
                "model.g_loss._target_=gan_lab.losses.g_hinge",
                "+stabilizer=spectral_norm",
            ],
        ),
    ],
)
def test_conditional_fits_with_each_conditioning_and_loss(make_cfg, g_mode, d_mode, extra):
    cfg = make_cfg(
        "model=cgan", f"model.g_conditioning={g_mode}", f"model.d_conditioning={d_mode}", "trainer.max_steps=2", *extra
    )
    metrics = train(cfg)
    assert metrics["train/g_steps"] == 2 and math.isfinite(metrics["train/d_loss"])
    if d_mode == "acgan":
        assert math.isfinite(metrics["train/d_aux_loss"]) and math.isfinite(metrics["train/g_aux_loss"])
    grid = Image.open(f"{cfg.paths.output_dir}/samples/step_000002.png")
    assert grid.size == (2 + 8 * (8 + 2), 2 + 10 * (8 + 2))  # one row per class, 8 columns


def test_conditional_mlp_gan_on_the_seed_recipe(make_cfg):
    metrics = train(make_cfg("model=cgan", "model/net=mlp", "trainer.max_steps=2"))
    assert metrics["train/g_steps"] == 2


def test_labels_out_of_range_and_unlabelled_data_are_clear_errors(make_cfg, cifar_folder):
    model, datamodule, trainer = build(make_cfg("model=cgan", "model.num_classes=5", "trainer.max_steps=1"))
    with pytest.raises(
        ConfigError,
        match=r"labels range over \[0, 9\] but the model has num_classes=5, classes 0..4: set model.num_classes",
    ):
        trainer.fit(model, datamodule=datamodule)
    with pytest.raises(Exception) as err:
        build(make_cfg("model=cgan", "data=folder", f"data.root={cifar_folder}", "data.image_size=32"))
    assert "needs a labelled dataset" in str(err.value.__cause__ or err.value)


def test_generate_draws_the_requested_classes_and_refuses_unknown_ones(make_cfg, tmp_path):
    from hydra import compose, initialize_config_dir

    from gan_lab.generate import generate
    from tests.conftest import ROOT

    cfg = make_cfg("model=cgan", "trainer.max_steps=1")
    train(cfg)
    ckpt = f"{cfg.paths.output_dir}/checkpoints/last.ckpt"
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        gcfg = compose(
            "generate",
            overrides=[
                f"ckpt={ckpt}",
                "n=4",
                "classes=[3,7]",
                "files=true",
                f"out_dir={tmp_path}/gen",
                "truncation=0.5",
            ],
        )
        grid = generate(gcfg)
        assert Image.open(grid).size == (2 + 4 * 10, 2 + 2 * 10)  # a row per class
        assert sorted(p.name for p in (tmp_path / "gen").glob("0*.png"))[::4] == [
            "00000_class3.png",
            "00004_class7.png",
        ]
        with pytest.raises(ConfigError, match=r"labels range over \[12, 12\].*classes 0..9$"):
            generate(compose("generate", overrides=[f"ckpt={ckpt}", "classes=[12]"]))


def test_accuracy_metric_scores_generated_images_against_their_requested_class(make_cfg, digits_classifier):
    from hydra.utils import instantiate

    from gan_lab.checkpoints import load_model
    from gan_lab.metrics import ClassifierFeatures, FeatureNetworkError, evaluate_generator

    network = ClassifierFeatures(str(digits_classifier[0]))
    cfg = make_cfg("model=cgan", "trainer.max_steps=1")
    train(cfg)
    model, run, _ = load_model(f"{cfg.paths.output_dir}/checkpoints/last.ckpt")
    results, protocol = evaluate_generator(model, instantiate(run.data), network, ["accuracy"], n_samples=50)
    assert 0 <= results["accuracy"] <= 1 and "classes 0..9" in protocol["labels"]

    plain = make_cfg("trainer.max_steps=1", f"paths.output_dir={cfg.paths.output_dir}_plain")
    train(plain)
    model, run, _ = load_model(f"{plain.paths.output_dir}/checkpoints/last.ckpt")
    with pytest.raises(FeatureNetworkError, match="score class-conditional models"):
        evaluate_generator(model, instantiate(run.data), network, ["accuracy"], n_samples=10)


def _acgan(make_cfg, aux_fake: str):
    model, _, _ = build(make_cfg("model=cgan", "model.d_conditioning=acgan", f"model.aux_fake={aux_fake}"))
    return model


@pytest.mark.parametrize("aux_fake", ["real", "fake", "tac"])
def test_acgan_terms_by_hand_with_one_critic_pass_per_batch(make_cfg, aux_fake):
    model = _acgan(make_cfg, aux_fake)
    d, k = model.discriminator, model.num_classes
    torch.manual_seed(0)
    real, fake, y = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8), torch.tensor([0, 3, 3, 9])
    passes, features = [], d.net.features
    d.net.features = lambda x: passes.append(1) or features(x)
    loss, logs = model.discriminator_loss(Reals(real, y, y), Draw(fake, y))
    assert len(passes) == 2  # one pass over the real batch and one over the fakes: adversarial + class logits
    with torch.no_grad():
        (r_out, r_logits), (f_out, f_logits) = d.classify(real), d.classify(fake)
    ce = torch.nn.functional.cross_entropy
    aux = ce(r_logits[:, :k], y)  # D's class head learns the real images' classes ...
    if aux_fake != "real":  # ... and the fakes' (original ACGAN: the same head; TAC: the twin head, logits K..2K)
        aux += ce(f_logits if aux_fake == "fake" else f_logits[:, k:], y)
    torch.testing.assert_close(logs["d_aux_loss"], aux)
    torch.testing.assert_close(loss, model.d_loss(r_out, f_out) + aux)
    assert r_logits.shape == (4, 2 * k if aux_fake == "tac" else k)

    passes.clear()
    g_loss, g_logs = model.generator_loss(Draw(fake, y), Reals(real, y, y))
    g_aux = ce(f_logits[:, :k], y) - (ce(f_logits[:, k:], y) if aux_fake == "tac" else 0.0)
    assert len(passes) == 1
    torch.testing.assert_close(g_logs["g_aux_loss"], g_aux)
    torch.testing.assert_close(g_loss, model.g_loss(f_out) + g_aux)


def test_unknown_aux_fake_is_a_clear_error(make_cfg):
    from gan_lab.cli import user_error

    with pytest.raises(Exception) as raised:  # Hydra wraps it; the command line prints the ConfigError alone
        _acgan(make_cfg, "both")
    assert isinstance(user_error(raised.value), ConfigError)
    assert "unknown model.aux_fake 'both': use one of ('real', 'fake', 'tac')" in str(user_error(raised.value))


def test_label_effect_is_zero_for_a_generator_that_ignores_the_label_and_large_when_the_label_decides(make_cfg):
    from gan_lab.metrics import label_effect

    model, _, _ = build(make_cfg("model=cgan"))
    model.draw = lambda generator, z, labels: Draw(z[:, :4].view(-1, 1, 2, 2), labels)  # ignores the label
    assert label_effect(model, n_z=5) == 0.0
    # label-only images: across z nothing changes; a tiny z term keeps the ratio finite and huge
    model.draw = lambda generator, z, labels: Draw(
        (labels[:, None].float() + 1e-3 * z[:, :4]).view(-1, 1, 2, 2), labels
    )
    assert label_effect(model, n_z=5) > 100
    # images = one-hot label + z with equal scales: by hand, ratio of the mean pairwise distances
    model.draw = lambda generator, z, labels: Draw(
        torch.cat([z[:, :1], labels[:, None].float()], 1).view(-1, 1, 1, 2), labels
    )
    z = model.sample_z(5, generator=torch.Generator().manual_seed(0))
    across_z = torch.cdist(z[:, :1], z[:, :1]).sum() / (5 * 4)
    expected = torch.tensor([abs(a - b) for a in range(10) for b in range(10) if a != b]).float().mean() / across_z
    assert label_effect(model, n_z=5) == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("d_mode", ["concat", "projection"])
def test_matching_aware_critic_counts_real_images_with_a_wrong_label_as_fake(make_cfg, d_mode):
    model, _, _ = build(make_cfg("model=cgan", f"model.d_conditioning={d_mode}", "model.mismatch_weight=0.5"))
    torch.manual_seed(0)
    real, fake, y = torch.randn(64, 1, 8, 8), torch.randn(64, 1, 8, 8), torch.arange(64) % 10
    model.noise = torch.Generator().manual_seed(3)
    loss, logs = model.discriminator_loss(Reals(real, y, y), Draw(fake, y))
    wrong = (y + torch.randint(1, 10, y.shape, generator=torch.Generator().manual_seed(3))) % 10
    assert (wrong != y).all()  # never the image's own class
    d = model.discriminator
    r, f, w = d(real, y), d(fake, y), d(real, wrong)
    softplus = torch.nn.functional.softplus  # BCE: real term softplus(-D), fake term softplus(D)
    expected = softplus(-r).mean() + (softplus(f).mean() + softplus(w).mean()) / 2  # real + ½(fake + wrong)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(logs["d_mismatch_loss"], softplus(-r).mean() + softplus(w).mean())


def test_mismatch_weight_needs_a_critic_that_sees_the_label(make_cfg):
    from gan_lab.cli import user_error

    with pytest.raises(Exception) as raised:
        build(make_cfg("model=cgan", "model.d_conditioning=acgan", "model.mismatch_weight=0.5"))
    assert "model.mismatch_weight needs a discriminator that sees the label" in str(user_error(raised.value))


def test_periodic_evaluation_of_a_conditional_run_logs_class_accuracy_and_label_effect_and_warns(
    make_cfg, digits_classifier, caplog
):
    cfg = make_cfg(
        "model=cgan",
        "callbacks=fid",
        "features=classifier",
        f"features.checkpoint={digits_classifier[0]}",
        "callbacks.evaluation.every_n_steps=2",
        "callbacks.evaluation.n_samples=100",
        "callbacks.evaluation.metrics=[fid]",
        "trainer.max_steps=2",
        "callbacks.progress_bar=null",
        "callbacks.model_summary=null",
    )
    with caplog.at_level("WARNING", logger="gan_lab"):
        metrics = train(cfg)
    assert metrics["val/class_accuracy"] < 0.2 and metrics["val/label_effect"] >= 0  # 2 steps: noise, chance
    assert "generator step 2: the samples barely depend on the label (class accuracy" in caplog.text
