"""One conditional batch norm (class-conditional cBN and BigGAN's): labels as a forward argument, a hand-computed
output, and checkpoints of the earlier per-class layout (embeddings (num_classes, C)) still load."""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from gan_lab.nets import ConditionalGenerator, DCGANGenerator
from gan_lab.nets.biggan import BigGANGenerator
from gan_lab.nets.layers import ConditionalBatchNorm

NET = partial(DCGANGenerator, latent_dim=8, channels=1, image_size=8, width=8)


def test_per_class_gain_and_bias_by_hand():
    torch.manual_seed(0)
    layer = ConditionalBatchNorm.per_class(nn.BatchNorm2d(4), num_classes=3, scale=2.0).eval()
    nn.init.normal_(layer.gain.weight), nn.init.normal_(layer.bias.weight)
    layer.norm.running_mean.normal_(), layer.norm.running_var.uniform_(0.5, 2)
    x, y = torch.randn(2, 4, 3, 3), torch.tensor([0, 2])
    normed = (x - layer.norm.running_mean[:, None, None]) / (layer.norm.running_var[:, None, None] + 1e-5).sqrt()
    gain = 1 + 2 * layer.gain.weight[:, y].T  # class y's column: (B, C)
    bias = 2 * layer.bias.weight[:, y].T
    torch.testing.assert_close(layer(x, y), normed * gain[:, :, None, None] + bias[:, :, None, None])
    torch.testing.assert_close(layer(x, nn.functional.one_hot(y, 3).float()), layer(x, y))  # one-hot weights: same


def test_the_labels_travel_as_an_argument_and_nothing_stays_on_the_layers():
    g = ConditionalGenerator(NET, latent_dim=8, num_classes=10, conditioning="cbn").eval()
    before = {id(layer): set(vars(layer)) for layer in g.cbns}
    g(torch.randn(2, 8), torch.tensor([1, 2]))
    for layer in g.cbns:
        assert set(vars(layer)) == before[id(layer)]  # no attribute added (the labels are not kept)
        assert not layer._forward_pre_hooks  # the hook that passes them lives for the call only


class OldConditionalBatchNorm(nn.Module):
    """The per-class layer as checkpoints before the merge hold it: embeddings (num_classes, C), labels set on it."""

    def __init__(self, norm, num_classes: int, scale: float = 1.0):
        super().__init__()
        self.norm = type(norm)(norm.num_features, eps=norm.eps, momentum=norm.momentum, affine=False)
        self.gain, self.bias = (
            nn.Embedding(num_classes, norm.num_features),
            nn.Embedding(num_classes, norm.num_features),
        )
        self.scale, self.labels = scale, None

    def forward(self, x):
        gain, bias = 1 + self.scale * self.gain(self.labels), self.scale * self.bias(self.labels)
        return self.norm(x) * gain[:, :, None, None] + bias[:, :, None, None]


def old_generator(num_classes: int = 10) -> tuple[nn.Module, list[OldConditionalBatchNorm]]:
    net, old = NET(latent_dim=8 + num_classes), []
    for name, child in list(net.net.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            layer = OldConditionalBatchNorm(child, num_classes, scale=3.0)
            nn.init.normal_(layer.gain.weight), nn.init.normal_(layer.bias.weight)
            setattr(net.net, name, layer)
            old.append(layer)
    return net, old


def test_a_checkpoint_of_the_earlier_per_class_layout_loads_and_draws_the_same_images(tmp_path):
    torch.manual_seed(0)
    net, old = old_generator()
    net.eval()
    z, y = torch.randn(3, 8), torch.tensor([2, 5, 9])
    for layer in old:
        layer.labels = y
    expected = net(torch.cat([z, nn.functional.one_hot(y, 10).float()], 1))
    torch.save({"net." + k: v for k, v in net.state_dict().items()}, tmp_path / "old.pt")  # as ConditionalGenerator
    g = ConditionalGenerator(NET, latent_dim=8, num_classes=10, conditioning="cbn", cbn_scale=3.0, cbn_input=True)
    g.load_state_dict(torch.load(tmp_path / "old.pt", weights_only=True))
    torch.testing.assert_close(g.eval()(z, y), expected)
    assert g.cbns[0].gain.weight.shape == (g.cbns[0].norm.num_features, 10)  # (C, num_classes): a column per class


def test_biggan_keeps_its_parameter_names():
    g = BigGANGenerator(latent_dim=40, channels=3, image_size=32, num_classes=10, ch=4)
    names = set(g.state_dict())
    assert {
        "blocks.0.norm1.gain.parametrizations.weight.original",
        "blocks.0.norm1.bias.parametrizations.weight.original",
        "blocks.0.norm1.norm.running_mean",
        "blocks.2.norm2.gain.parametrizations.weight.0._u",
    } <= names
    assert isinstance(g.blocks[0].norm1, ConditionalBatchNorm) and not g.blocks[0].norm1.classes
