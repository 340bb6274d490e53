"""StackGAN's discriminator conditions (concat | projection | aux): the projection logit and the class head's
loss against hand computations, the aux head learning from real images only, short fits of each condition."""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightning as L
import pytest
import torch

from gan_lab.data.captioned import mismatched_indices
from gan_lab.errors import ConfigError
from gan_lab.models import Draw, Reals
from gan_lab.models.stackgan import class_aux_loss, class_digits, matching_aware_d_loss
from gan_lab.nets.stackgan import StageDiscriminator
from gan_lab.training import build, train
from tests.test_stackgan import TINY


def test_class_aux_loss_splits_the_class_into_shape_and_colour_by_hand():
    logits = torch.tensor([[2.0, 0.0, 1.0, 0.5, -1.0], [0.0, 1.0, 0.0, 0.0, 3.0]])  # groups of 2 and 3
    classes = torch.tensor([1 * 3 + 2, 0 * 3 + 1])  # (first group, second group) = (1, 2) and (0, 1)

    def ce(row, k):
        return -row[k] + math.log(sum(math.exp(v) for v in row))

    hand = (ce([2.0, 0.0], 1) + ce([0.0, 1.0], 0)) / 2 + (ce([1.0, 0.5, -1.0], 2) + ce([0.0, 0.0, 3.0], 1)) / 2
    assert class_aux_loss(logits, classes, (2, 3)).item() == pytest.approx(hand, rel=1e-6)
    single = class_aux_loss(logits[:, 2:], torch.tensor([2, 1]), (3,))  # one group: plain cross-entropy
    assert single.item() == pytest.approx((ce([1.0, 0.5, -1.0], 2) + ce([0.0, 0.0, 3.0], 1)) / 2, rel=1e-6)
    assert [d.tolist() for d in class_digits(classes, (2, 3))] == [[1, 0], [2, 1]]
    assert [d.tolist() for d in class_digits(torch.tensor([1079, 0]), (5, 8, 3, 9))] == [[4, 0], [7, 0], [2, 0], [8, 0]]


def test_projection_logit_is_psi_plus_inner_product_by_hand():
    torch.manual_seed(0)
    d = StageDiscriminator(6, 3, 16, 4, condition="projection").eval()
    x, t = torch.randn(3, 3, 16, 16), torch.randn(3, 6)
    h = d.features(x)
    hand = d.uncond(h).flatten() + ((t @ d.project.weight.T) * h.sum((2, 3))).sum(1)
    assert torch.allclose(d(x, t), hand, atol=1e-5)
    logit, classes = d.judge(x, t)
    assert torch.equal(logit, d(x, t)) and classes is None
    assert not hasattr(d, "joint")  # no concat head to train
    aux = StageDiscriminator(6, 3, 16, 4, condition="aux", aux_classes=(5, 8))
    logit, classes = aux.judge(x, t)
    assert logit.shape == (3,) and classes.shape == (3, 13)
    assert StageDiscriminator(6, 3, 16, 4, aux_classes=(5, 8)).aux is None  # concat: no class head
    both = StageDiscriminator(6, 3, 16, 4, condition="projection_aux", aux_classes=(5, 8))
    h = both.features(x)
    logit, classes = both.judge(x, t)
    hand = both.uncond(h).flatten() + ((t @ both.project.weight.T) * h.sum((2, 3))).sum(1)
    assert torch.allclose(logit, hand, atol=1e-5)
    assert torch.allclose(classes, h.flatten(1) @ both.aux.weight.T + both.aux.bias, atol=1e-5)


def test_bad_conditions_are_one_line_errors():
    with pytest.raises(ConfigError, match="one of concat, projection, aux, projection_aux, got 'film'"):
        StageDiscriminator(6, 3, 16, 4, condition="film")
    with pytest.raises(ConfigError, match="condition=aux needs model.discriminator.aux_classes"):
        StageDiscriminator(6, 3, 16, 4, condition="aux")
    with pytest.raises(ConfigError, match="condition=projection_aux needs model.discriminator.aux_classes"):
        StageDiscriminator(6, 3, 16, 4, condition="projection_aux")


def test_aux_head_learns_from_real_images_and_steers_g_by_hand(make_cfg):
    model, dm, _ = build(make_cfg("model=stackgan", *TINY, "model.discriminator.condition=aux", "model.aux_weight=0.5"))
    torch.manual_seed(0)
    real, emb = torch.rand(4, 3, 16, 16) * 2 - 1, torch.randn(4, dm.embedding_dim)
    draw = model.draw(model.generator, torch.randn(4, 8), emb).detach()
    classes, fake = torch.tensor([0, 13, 39, 13]), draw.images
    reals = Reals(real, emb, classes)
    model.noise = torch.Generator().manual_seed(1)
    loss, logs = model.discriminator_loss(reals, draw)
    d = model.discriminator
    wrong = emb[mismatched_indices(classes, torch.Generator().manual_seed(1))]
    real_out, real_classes = d.judge(real, emb)
    assert d.aux_classes == (5, 8, 3, 9)  # the preset: data=shapes' class_sizes
    aux = class_aux_loss(real_classes, classes, d.aux_classes)
    hand = matching_aware_d_loss(real_out, d(real, wrong), d(fake, emb)) + 0.5 * aux
    assert loss.item() == pytest.approx(hand.item(), rel=1e-5)
    assert logs["d_aux_loss"].item() == pytest.approx(aux.item(), rel=1e-5)
    out, fake_classes = d.judge(fake, emb)
    g_loss, g_logs = model.generator_loss(draw, reals)
    g_aux = class_aux_loss(fake_classes, classes, d.aux_classes)
    assert g_logs["g_aux_loss"].item() == pytest.approx(g_aux.item(), rel=1e-5)
    kl = draw.extras["kl"]
    assert g_loss.item() == pytest.approx((model.g_loss(out) + model.kl_weight * kl + 0.5 * g_aux).item(), rel=1e-5)


def test_d_class_head_gradient_comes_from_real_images_only(make_cfg):
    model, dm, _ = build(make_cfg("model=stackgan", *TINY, "model.discriminator.condition=aux"))
    torch.manual_seed(0)
    real, emb = torch.rand(4, 3, 16, 16) * 2 - 1, torch.randn(4, dm.embedding_dim)
    classes = torch.tensor([0, 13, 39, 13])
    grads = []
    for fake in (torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16) * 2 - 1):  # two different fakes
        model.discriminator.zero_grad()
        model.noise = torch.Generator().manual_seed(1)
        model.discriminator_loss(Reals(real, emb, classes), Draw(fake, emb))[0].backward()
        grads.append(model.discriminator.aux.weight.grad.clone())
    assert grads[0].abs().sum() > 0 and torch.equal(grads[0], grads[1])  # the head does not see the fakes


def test_the_fake_slot_by_hand(make_cfg):
    """aux_fake_class: K + 1 logits per group; D sends real images to their digit and G's to the fake slot (the
    last), G wants its images read as the caption's digit among all K + 1."""
    from gan_lab.models.stackgan import fake_slot_loss

    def ce(row, k):
        return -row[k] + math.log(sum(math.exp(v) for v in row))

    logits = torch.tensor([[2.0, 0.0, 1.0, 1.0, 0.5, -1.0, 0.0], [0.0, 1.0, -1.0, 0.0, 0.0, 3.0, 2.0]])  # 2+1, 3+1
    classes = torch.tensor([1 * 3 + 2, 0 * 3 + 1])
    rows = [logits[0].tolist(), logits[1].tolist()]
    hand = (ce(rows[0][:3], 1) + ce(rows[1][:3], 0)) / 2 + (ce(rows[0][3:], 2) + ce(rows[1][3:], 1)) / 2
    assert class_aux_loss(logits, classes, (2, 3), fake_slot=True).item() == pytest.approx(hand, rel=1e-6)
    fake_hand = (ce(rows[0][:3], 2) + ce(rows[1][:3], 2)) / 2 + (ce(rows[0][3:], 3) + ce(rows[1][3:], 3)) / 2
    assert fake_slot_loss(logits, (2, 3)).item() == pytest.approx(fake_hand, rel=1e-6)
    overrides = ["model.discriminator.condition=aux", "model.discriminator.aux_fake_class=true", "model.aux_weight=0.5"]
    model, dm, _ = build(make_cfg("model=stackgan", *TINY, *overrides))
    d = model.discriminator
    assert d.head_widths == (6, 9, 4, 10) and d.aux.out_features == 29
    torch.manual_seed(0)
    real, emb = torch.rand(4, 3, 16, 16) * 2 - 1, torch.randn(4, dm.embedding_dim)
    draw = model.draw(model.generator, torch.randn(4, 8), emb).detach()
    reals = Reals(real, emb, torch.tensor([0, 13, 39, 1079]))
    model.noise = torch.Generator().manual_seed(1)
    _, logs = model.discriminator_loss(reals, draw)
    real_classes, fake_classes = d.judge(real, emb)[1], d.judge(draw.images, emb)[1]
    aux = class_aux_loss(real_classes, reals.classes, d.aux_classes, True) + fake_slot_loss(fake_classes, d.aux_classes)
    assert logs["d_aux_loss"].item() == pytest.approx(aux.item(), rel=1e-5)
    _, g_logs = model.generator_loss(draw, reals)
    g_aux = class_aux_loss(fake_classes, reals.classes, d.aux_classes, True)
    assert g_logs["g_aux_loss"].item() == pytest.approx(g_aux.item(), rel=1e-5)


@pytest.mark.parametrize("condition", ["projection", "aux", "projection_aux"])
def test_each_condition_fits(make_cfg, condition):
    train(make_cfg("model=stackgan", *TINY, f"model.discriminator.condition={condition}"))


def test_attribute_callback_logs_a_curve_without_changing_the_run(make_cfg, tmp_path):
    from gan_lab.callbacks import AttributeEvaluation

    steps = ["trainer.max_steps=3", "data.n_test=40"]
    plain = make_cfg("model=stackgan", *TINY, *steps, f"paths.output_dir={tmp_path}/plain")
    L.seed_everything(0)
    model_plain, dm, trainer = build(plain)
    trainer.fit(model_plain, datamodule=dm)
    cfg = make_cfg(
        "model=stackgan",
        *TINY,
        *steps,
        "callbacks=attributes",
        "callbacks.attributes.every_n_steps=2",
        "callbacks.attributes.n_samples=40",
        "callbacks.attributes.metrics=[attributes,swap]",
    )
    L.seed_everything(0)
    model, dm, trainer = build(cfg)
    trainer.fit(model, datamodule=dm)
    callback = next(c for c in trainer.callbacks if isinstance(c, AttributeEvaluation))
    assert [step for step, _ in callback.history] == [2, 3]  # every 2 generator steps and at the end
    assert {"attributes/colour", "attributes/shape", "swap/colour_follows"} <= set(callback.history[-1][1])
    assert "val/attributes/colour" in trainer.logged_metrics
    lines = (Path(cfg.paths.output_dir) / "attributes.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 3]
    same = all(
        torch.equal(a, b)
        for a, b in zip(model.generator.state_dict().values(), model_plain.generator.state_dict().values())
    )
    assert same  # the evaluations draw from their own random streams
    with pytest.raises(ConfigError, match="takes attributes, swap"):
        AttributeEvaluation(metrics=["fid"])
    with pytest.raises(Exception, match="scores text-to-image models"):
        train(make_cfg("callbacks=attributes", "trainer.max_steps=1", f"paths.output_dir={tmp_path}/dcgan"))


LEARNS_COLOUR = [
    "data=shapes",
    "data.n_train=5000",
    "data.n_test=500",
    "trainer.max_steps=1000",
    "trainer.max_epochs=-1",
    "callbacks.samples=null",
]


@pytest.mark.slow
def test_stage1_learns_colour_from_text(make_cfg, tmp_path):
    """The user's flow on a smaller budget: the text encoder (3 epochs on 5,000 images), then Stage-I with the CPU
    preset (projection_aux, the class head over shape, colour, size and position) for 1,000 generator steps,
    judged on 500 test captions by the noise-robust attribute classifier: colour at least twice chance (0.125),
    position at least 3.6× chance (0.111). Measured on the full flow (10,000 images, 6 encoder epochs;
    benchmarks/results/stackgan.md, 2026-12-05): colour 0.52 and position 0.77 at 1,000 steps."""
    from gan_lab.checkpoints import load_run
    from gan_lab.metrics import FeatureCache, evaluate_generator
    from gan_lab.text_encoder import train_text_encoder
    from tests.test_text import _encoder_cfg

    train_text_encoder(_encoder_cfg(tmp_path, "data.n_train=5000", "data.n_test=500", "epochs=3"))
    cfg = make_cfg("model=stackgan", *LEARNS_COLOUR, f"data.text_encoder={tmp_path / 'enc.ckpt'}")
    train(cfg)
    model, dm, _ = load_run(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    results, _ = evaluate_generator(
        model, dm, None, ["attributes"], n_samples=500, batch_size=250, cache=FeatureCache(str(tmp_path / "cache"))
    )
    assert results["attributes/colour"] >= 0.25 and results["attributes/position"] >= 0.4, results


def test_the_head_diagnostic_reads_each_group_of_real_and_generated_images(make_cfg, tmp_path):
    """benchmarks/stackgan_head.py: the share of images whose head digit is their class digit, per group (by hand
    on rigged logits), and its table on a real Stage-I checkpoint."""
    import subprocess
    import sys
    from types import SimpleNamespace

    from gan_lab.models import Critique

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from stackgan_head import head_accuracy

    logits = torch.tensor([[1.0, 0.0, 0.0, 0.0, 2.0], [0.0, 1.0, 3.0, 0.0, 0.0], [1.0, 0.0, 0.0, 5.0, 0.0]])
    rigged = SimpleNamespace(
        real_images=lambda x: x,
        judge=lambda x, e: Critique(torch.zeros(3), logits),
        discriminator=SimpleNamespace(aux_classes=(2, 3), head_widths=(2, 3)),
    )
    classes = torch.tensor([0 * 3 + 2, 1 * 3 + 1, 0 * 3 + 1])  # the heads read (0, 2), (1, 0), (0, 1)
    assert head_accuracy(rigged, torch.zeros(3), None, classes) == pytest.approx([1.0, 2 / 3])
    cfg = make_cfg("model=stackgan", *TINY, "model.discriminator.condition=projection_aux")
    train(cfg)
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "stackgan_head.py"
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    out = subprocess.run([sys.executable, str(script), str(ckpt), "--n", "16"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "| images | shape | colour | size | position |" in out.stdout
    rows = [line for line in out.stdout.splitlines() if line.startswith(("| real", "| G's"))]
    assert len(rows) == 2 and all(0 <= float(v) <= 1 for row in rows for v in row.split("|")[2:-1])
