"""BigGAN: the shared embedding and hierarchical z, the released widths, gradient accumulation, its regulariser."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch
from torch import nn

from gan_lab import losses
from gan_lab.errors import ConfigError
from gan_lab.nets.biggan import BigGANDiscriminator, BigGANGenerator
from gan_lab.nets.conditional import ConditionalGenerator
from gan_lab.training import build


def test_every_block_gets_the_shared_embedding_and_its_own_z_chunk():
    g = BigGANGenerator(latent_dim=120, channels=3, image_size=32, num_classes=5, ch=2, shared_dim=16).eval()
    seen = []
    for block in g.blocks:
        block.register_forward_hook(lambda module, args, out: seen.append(args[1]))
    z, y = torch.randn(4, 120), torch.tensor([0, 3, 3, 4])
    assert g(z, y).shape == (4, 3, 32, 32)
    assert len(g.blocks) == 3 and len(seen) == 3  # 32 = 4·2³: three up-blocks, z in 4 chunks of 30
    for i, c in enumerate(seen):
        assert c.shape == (4, 16 + 30)
        torch.testing.assert_close(c[:, :16], g.shared(y))  # one table for every block
        torch.testing.assert_close(c[:, 16:], z[:, 30 * (i + 1) : 30 * (i + 2)])  # chunk 0 feeds the input layer
    # the input layer reads chunk 0 only: changing another chunk leaves its output alone, changes the image
    z2 = z.clone()
    z2[:, 30:60] += 1
    torch.testing.assert_close(g.project(z2[:, :30]), g.project(z[:, :30]))
    assert not torch.allclose(g(z2, y), g(z, y))


def test_embed_input_feeds_the_shared_embedding_to_the_input_layer_too():
    g = BigGANGenerator(
        latent_dim=60, channels=1, image_size=28, num_classes=10, ch=2, shared_dim=16, embed_input=True
    ).eval()
    seen = []
    g.project.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    z, y = torch.randn(2, 60), torch.tensor([1, 8])
    g(z, y)
    torch.testing.assert_close(seen[0], torch.cat([z[:, :20], g.shared(y)], 1))  # [z chunk 0, shared(y)]


def test_label_scale_multiplies_the_shared_embedding_wherever_it_is_read():
    net = partial(BigGANGenerator, channels=1, image_size=28, ch=2, shared_dim=16, embed_input=True)
    g = ConditionalGenerator(net, latent_dim=60, num_classes=10, conditioning="shared", label_scale=3.0).eval().net
    seen = []
    g.project.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    g.blocks[0].register_forward_hook(lambda module, args, out: seen.append(args[1]))
    z, y = torch.randn(2, 60), torch.tensor([1, 8])
    g(z, y)
    torch.testing.assert_close(seen[0][:, 20:], 3.0 * g.shared(y))  # the input layer's class code ...
    torch.testing.assert_close(seen[1][:, :16], 3.0 * g.shared(y))  # ... and every block's


def test_class_weights_blend_the_shared_embedding_and_one_hot_weights_give_the_class():
    g = BigGANGenerator(latent_dim=60, channels=1, image_size=28, num_classes=10, ch=2).eval()
    z, y = torch.randn(3, 60), torch.tensor([1, 7, 9])
    one_hot = nn.functional.one_hot(y, 10).float()
    torch.testing.assert_close(g(z, one_hot), g(z, y))
    half = (one_hot + nn.functional.one_hot(torch.tensor([2, 2, 2]), 10).float()) / 2
    torch.testing.assert_close(g.embed(half), (g.shared.weight[y] + g.shared.weight[2]) / 2)


@pytest.mark.parametrize(
    "size, g_out, d_out, downs",
    [
        (28, [4, 4], [4, 4, 4, 4], 2),
        (32, [4, 4, 4], [4, 4, 4, 4], 2),
        (64, [16, 8, 4, 2], [1, 2, 4, 8, 16], 4),
        (128, [16, 8, 4, 2, 1], [1, 2, 4, 8, 16, 16], 5),
    ],
)
def test_widths_follow_the_released_architectures(size, g_out, d_out, downs):
    ch = 2
    g = BigGANGenerator(latent_dim=(len(g_out) + 1) * 4, channels=3, image_size=size, num_classes=3, ch=ch)
    assert [b.conv2.out_channels for b in g.blocks] == [w * ch for w in g_out]
    assert g.blocks[0].conv1.in_channels == (16 if size >= 64 else 4) * ch
    d = BigGANDiscriminator(channels=3, image_size=size, ch=ch)
    blocks = [m for m in d.body if hasattr(m, "conv1")]
    assert [b.conv1.out_channels for b in blocks] == [w * ch for w in d_out]
    assert sum(b.down for b in blocks) == downs
    x = torch.randn(2, 3, size, size)
    assert g(torch.randn(2, g.chunk * (len(g_out) + 1)), torch.tensor([0, 2])).shape == x.shape
    assert d(x).shape == (2,) and d.features(x).shape == (2, d_out[-1] * ch)


def test_spectral_norm_everywhere_but_the_embeddings_and_attention_where_asked():
    g = BigGANGenerator(latent_dim=60, channels=1, image_size=28, num_classes=10, ch=2, attention_at=14)
    d = BigGANDiscriminator(channels=1, image_size=28, ch=2, attention_at=14)
    for net in (g, d):
        layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert layers and all(hasattr(m, "parametrizations") for m in layers)
        for m in layers:  # σ₀ of the normalised weight ≈ 1 (one power iteration per forward, after a few)
            net.train()
            for _ in range(20):
                _ = m.weight  # each read runs a power iteration
        sigma = torch.linalg.matrix_norm(layers[0].weight.flatten(1), ord=2)
        assert 0.9 < sigma < 1.1
    assert not hasattr(g.shared, "parametrizations")
    assert list(g.attention) == ["14"] and sum(m.__class__.__name__ == "SelfAttention" for m in d.body) == 1


def test_bad_latent_size_and_a_generator_without_labels_are_clear_errors():
    with pytest.raises(ConfigError, match="splits z into 4 equal chunks.*latent_dim=90.*multiple of 4"):
        BigGANGenerator(latent_dim=90, channels=3, image_size=32, num_classes=10)
    with pytest.raises(ConfigError, match="cannot place self-attention at 12"):
        BigGANGenerator(latent_dim=60, channels=1, image_size=28, num_classes=10, attention_at=12)
    from functools import partial

    from gan_lab.nets import DCGANGenerator

    with pytest.raises(ConfigError, match="g_conditioning=shared needs a generator that takes the labels"):
        ConditionalGenerator(partial(DCGANGenerator, channels=1, image_size=28), 100, 10, "shared")


def test_orthogonal_regularisation_leaves_embedding_tables_out():
    net = nn.Sequential(nn.Embedding(4, 3), nn.Linear(3, 2, bias=False))
    w = net[1].weight.detach()
    gram = w @ w.T
    expected = (gram * (1 - torch.eye(2))).pow(2).sum()  # hand computation on the linear layer alone
    torch.testing.assert_close(losses.orthogonal_regularization(net), expected)


class FirstStepGrads(L.Callback):
    """The gradients each optimiser is about to apply, for the first generator step."""

    def __init__(self):
        self.grads = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if len(self.grads) < 2:
            net = pl_module.discriminator if optimizer is trainer.optimizers[1] else pl_module.generator
            self.grads.append([p.grad.clone() for p in net.parameters()])


def test_accumulating_k_micro_batches_gives_the_gradients_of_one_big_batch(make_cfg):
    """WGAN-GP without batch norm: the D step (with its penalty) and the G step over 2 micro-batches of 8 give the
    gradients of one batch of 16 (same images, same z, same interpolation weights)."""
    grads = {}
    for k, batch in ((1, 16), (2, 8)):
        cfg = make_cfg(
            "model=wgan_gp",
            "model.n_critic=1",
            f"model.accumulate={k}",
            f"data.batch_size={batch}",
            "model.generator.norm=none",
            "trainer.max_steps=1",
            "callbacks.samples=null",
        )
        L.seed_everything(0)  # the same initial weights
        model, datamodule, trainer = build(cfg)
        assert datamodule.batch_size * datamodule.batches_per_step == 16
        recorder = FirstStepGrads()
        trainer.callbacks.append(recorder)
        trainer.fit(model, datamodule=datamodule)
        grads[k] = recorder.grads
    for big, accumulated in zip(grads[1], grads[2]):  # D's, then G's
        for a, b in zip(big, accumulated):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_biggan_fits_with_accumulation_and_logs_the_mean_losses(make_cfg):
    cfg = make_cfg("model=biggan", "model.accumulate=2", "data.batch_size=4", "trainer.max_steps=2")
    model, datamodule, trainer = build(cfg)
    calls = []
    d_loss = model.discriminator_loss
    model.discriminator_loss = lambda real, fake: calls.append(real.size) or d_loss(real, fake)
    trainer.fit(model, datamodule=datamodule)
    assert model.g_steps == 2 and calls == [4] * 2 * 2 * 2  # steps × n_critic × micro-batches of 4
    assert torch.isfinite(torch.tensor(trainer.callback_metrics["train/d_loss"].item()))
