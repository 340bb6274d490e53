"""StackGAN checkpoints through the commands: generate text=..., evaluate metrics=[attributes,r_precision,...]."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image

from gan_lab.checkpoints import load_model
from gan_lab.errors import ConfigError
from gan_lab.metrics import FeatureNetworkError, evaluate_generator
from gan_lab.metrics.attributes import attribute_classifier, caption_agreement
from gan_lab.metrics.conditioning import spread
from gan_lab.metrics.text_image import caption_inputs, colour_swap
from gan_lab.training import train
from tests.conftest import ROOT, compose_config
from tests.test_stackgan import TINY
from tests.test_text import TINY_ENCODER

SHAPES = ["data.n_test=100" if o.startswith("data.n_test=") else o for o in TINY]  # R-precision needs ≥ 100


@pytest.fixture(scope="module")
def encoder_path(tmp_path_factory) -> Path:
    """An (untrained) GRU text encoder file over the caption grammar's words, as the text_encoder command writes."""
    from gan_lab.data.captions import grammar_texts
    from gan_lab.text import Vocabulary, save_sentence_encoder
    from gan_lab.text.sentence import build_networks

    vocab = Vocabulary.from_captions(grammar_texts())
    config = {"vocabulary": vocab.words, **TINY_ENCODER}
    torch.manual_seed(0)
    return save_sentence_encoder(tmp_path_factory.mktemp("enc") / "enc.ckpt", *build_networks(config), config)


@pytest.fixture(scope="module")
def stage1(tmp_path_factory, encoder_path) -> Path:
    """A Stage-I checkpoint of a 2-step run on tiny shapes, captions embedded by the encoder file."""
    cfg = compose_config(
        tmp_path_factory.mktemp("stage1"),
        "model=stackgan",
        *SHAPES,
        f"data.text_encoder={encoder_path}",
        "data.embedding_dim=16",
    )
    train(cfg)
    return Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"


def _cfg(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(name, overrides=list(overrides))


def test_generate_draws_one_row_per_caption_with_the_runs_text_encoder(stage1, tmp_path):
    from gan_lab.generate import generate

    captions = ["a large red circle at the top left", "a small blue square on white"]
    grid = generate(
        _cfg(
            "generate",
            f"ckpt={stage1}",
            f"text=[{captions[0]!r},{captions[1]!r}]",
            "n=3",
            f"out_dir={tmp_path}",
            "files=true",
            "seed=5",
        )
    )
    assert Image.open(grid).size == (2 + 3 * 18, 2 + 2 * 18)  # 16-px Stage-I images: 3 columns, a row per caption
    assert "text-a-large-red-circle-at-the-top-left+1" in grid.name
    assert Image.open(grid.with_name(grid.stem + "_captions.png")).size[0] > 2 + 3 * 18  # captions beside the rows
    assert sorted(p.name for p in tmp_path.glob("0*.png"))[::3] == ["00000_caption0.png", "00003_caption1.png"]
    # the images are G's for the captions' embeddings by the run's data module, with the seeded z
    model, run, _ = load_model(stage1)
    emb = instantiate(run.data).encode_text(captions).repeat_interleave(3, 0)
    torch.manual_seed(5)  # the command seeds the CA noise with seed= too
    z = model.sample_z(6, generator=torch.Generator().manual_seed(5))
    expected = ((model.generate(z, emb) + 1) / 2).clamp(0, 1)
    first = torch.tensor(list(Image.open(tmp_path / "00000_caption0.png").getdata()), dtype=torch.float32)
    assert torch.allclose(first.T.reshape(3, 16, 16) / 255, expected[0], atol=1 / 255 + 1e-6)
    one = generate(_cfg("generate", f"ckpt={stage1}", f"text={captions[0]!r}", "n=16", f"out_dir={tmp_path}"))
    assert Image.open(one).size == (2 + 16 * 18, 2 + 18)


@pytest.mark.parametrize(
    "text, message",
    [
        ("''", "empty caption ''"),
        ("'zorp blick'", "caption 'zorp blick' has no known word \\(unknown: zorp, blick\\)"),
        ("[]", "text=\\[\\] holds no caption"),
    ],
)
def test_generate_refuses_bad_captions_in_one_line(stage1, tmp_path, text, message):
    from gan_lab.generate import generate

    with pytest.raises(ConfigError, match=message):
        generate(_cfg("generate", f"ckpt={stage1}", f"text={text}", f"out_dir={tmp_path}"))


def test_generate_text_needs_a_text_model_and_a_text_model_needs_text(stage1, make_cfg, tmp_path):
    from gan_lab.generate import generate

    with pytest.raises(ConfigError, match="draws from text: pass text="):
        generate(_cfg("generate", f"ckpt={stage1}", "classes=[1]", "text='a red circle'", f"out_dir={tmp_path}"))
    with pytest.raises(ConfigError, match="generates from text: pass caption embeddings"):
        generate(_cfg("generate", f"ckpt={stage1}", f"out_dir={tmp_path}"))
    cfg = make_cfg("trainer.max_steps=1")
    train(cfg)
    with pytest.raises(ConfigError, match="text= is for text-to-image models .*\\(GANModule\\) does not read text"):
        generate(_cfg("generate", f"ckpt={cfg.paths.output_dir}/checkpoints/last.ckpt", "text='a red circle'"))


def test_caption_inputs_cycle_through_test_items_then_their_captions(stage1):
    _, run, _ = load_model(stage1)
    dm = instantiate(run.data)
    split = dm.split(train=False)
    items, captions, emb = caption_inputs(dm, 250)
    assert items[:3].tolist() == [0, 1, 2] and items[100].item() == 0 and items[249].item() == 49
    assert captions[0] == split.captions[0][0] and captions[100] == split.captions[0][1]
    assert captions[249] == split.captions[49][2]
    assert torch.equal(emb[249], split.embeddings[49, 2].float())


def test_evaluate_text_metrics_of_a_stackgan_checkpoint(stage1, tmp_path):
    from gan_lab.evaluate import evaluate

    results = evaluate(
        _cfg(
            "evaluate",
            f"ckpt={stage1}",
            "metrics=[attributes,r_precision,swap,diversity]",
            "n_samples=120",
            "batch_size=50",
            f"cache_dir={tmp_path}/cache",
            f"out_dir={tmp_path}",
        )
    )
    names = ("shape", "colour", "size", "position", "background", "pattern", "outline")
    swap = {"swap/colour_follows"} | {f"swap/{n}_kept" for n in names if n != "colour"}
    assert set(results) == {f"attributes/{n}" for n in names} | swap | {
        "r_precision",
        "r_precision_real",
        "diversity",
        "caption_effect",
    }
    assert all(0 <= results[k] <= 1 for k in results if k.startswith(("attributes", "r_precision", "swap")))
    assert results["diversity"] > 0 and results["caption_effect"] >= 0
    table = (tmp_path / "eval_text.md").read_text()
    assert "| attributes chance | shape 0.200, colour 0.125, size 0.333, position 0.111" in table
    assert "(chance 0.01)" in table and "16 captions × 16 z" in table
    # the real-image ceiling in the protocol is caption_agreement of the shared classifier on the same captions
    model, run, _ = load_model(stage1)
    dm = instantiate(run.data)
    items, captions, _ = caption_inputs(dm, 120)
    real, _, _ = dm.test_examples()
    clf = attribute_classifier(dm, f"{tmp_path}/cache")  # the cached one the evaluation trained
    by_hand = caption_agreement(clf, real[items], captions)
    assert f"shape {by_hand['shape']:.3f}, colour {by_hand['colour']:.3f}" in table


def test_evaluate_fid_of_stackgan_images_drawn_for_test_captions(stage1, tmp_path):
    model, run, _ = load_model(stage1)
    dm = instantiate(run.data)

    class Pooled(torch.nn.Module):  # a tiny feature network: 4×4 average colours
        name = "pooled"

        def forward(self, x):
            return torch.nn.functional.adaptive_avg_pool2d(x.float(), 4).flatten(1)

    results, protocol = evaluate_generator(model, dm, Pooled(), ["fid", "attributes"], n_samples=60, batch_size=30)
    assert results["fid"] > 0 and "attributes/colour" in results and protocol["feature_network"] == "pooled"


def test_text_metrics_refuse_what_they_cannot_score(stage1, make_cfg, tmp_path):
    model, run, _ = load_model(stage1)
    with pytest.raises(FeatureNetworkError, match="n_samples ≥ 100"):
        evaluate_generator(model, instantiate(run.data), None, ["r_precision"], n_samples=50)
    hashed = make_cfg("model=stackgan", *SHAPES)
    train(hashed)
    model, run, _ = load_model(f"{hashed.paths.output_dir}/checkpoints/last.ckpt")
    with pytest.raises(FeatureNetworkError, match="needs the trained text encoder"):
        evaluate_generator(model, instantiate(run.data), None, ["r_precision"], n_samples=100)
    plain = make_cfg("trainer.max_steps=1", f"paths.output_dir={tmp_path}/plain")
    train(plain)
    model, run, _ = load_model(f"{plain.paths.output_dir}/checkpoints/last.ckpt")
    with pytest.raises(FeatureNetworkError, match="score text-to-image models"):
        evaluate_generator(model, instantiate(run.data), None, ["attributes"], n_samples=10)


def test_spread_is_rms_pixel_distance_across_labels_and_across_z():
    class ByLabel:  # images depend on the label only: -1 everywhere for label 0, +1 for label 1
        device, latent_dim = torch.device("cpu"), 2

        def sample_z(self, n, generator=None):
            return torch.randn(n, 2, generator=generator)

        def generate(self, z, labels, ema=True):
            return (labels.float() * 2 - 1).view(-1, 1, 1, 1).expand(-1, 3, 4, 4)

    across_labels, across_z = spread(ByLabel(), torch.tensor([0, 1]), n_z=5)
    assert across_labels == pytest.approx(2.0) and across_z == 0.0  # RMS of a difference of 2 at every pixel


class _Captions:
    """Stand-ins for the swap check: text 'embeds' to the attribute values its caption names (parse_caption), G
    'draws' that vector (``render`` decides how), the classifier 'reads' it back."""

    attributes = {"shape": 5, "colour": 8, "size": 3, "position": 9, "background": 3, "pattern": 4, "outline": 2}
    device = torch.device("cpu")

    def __init__(self, render):
        self.render = render

    def encode_text(self, texts):
        from gan_lab.data.captions import parse_captions

        return parse_captions(texts).clamp(min=0).float()

    def sample_z(self, n, generator):
        return torch.randn(n, 2, generator=generator)

    def generate(self, z, embedding, ema=True):
        return self.render(embedding.clone())

    def predict(self, images):
        return images.long()


def test_colour_swap_scores_a_model_that_follows_one_that_ignores_and_one_that_leaks():
    captions = [
        "a red circle at the top left",
        "a big blue square",
        "a small green cross, striped",
        "a triangle at the bottom",
        "a red circle at the top left",
    ]  # no colour / a repeat: left out
    perfect = _Captions(lambda e: e)
    assert colour_swap(perfect, perfect, perfect, captions) == {
        "swap/colour_follows": 1.0,
        **{f"swap/{n}_kept": 1.0 for n in _Captions.attributes if n != "colour"},
    }
    ignores = _Captions(lambda e: torch.zeros_like(e))  # always colour 0 (red)
    out = colour_swap(ignores, ignores, ignores, captions)
    g = torch.Generator().manual_seed(0)
    new = (torch.tensor([0, 5, 3]) + torch.randint(1, 8, (3,), generator=g)) % 8  # the rule's draw, by hand
    assert out["swap/colour_follows"] == pytest.approx((new == 0).float().mean().item())
    assert out["swap/shape_kept"] == 1.0

    def leaks(e):  # the colour word also moves the shape
        e[:, 0] = e[:, 1] % 5
        return e

    leaky = _Captions(leaks)
    out = colour_swap(leaky, leaky, leaky, captions)
    assert out["swap/colour_follows"] == 1.0 and out["swap/size_kept"] == 1.0
    assert out["swap/shape_kept"] == pytest.approx(((torch.tensor([0, 5, 3]) % 5) == new % 5).float().mean().item())
    with pytest.raises(FeatureNetworkError, match="name a colour"):
        colour_swap(perfect, perfect, perfect, ["a triangle at the bottom"])
