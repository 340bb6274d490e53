"""Network shapes for every architecture and size, and the size errors."""

from __future__ import annotations

import pytest
import torch

from gan_lab.errors import ConfigError
from gan_lab.nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
    SelfAttention,
)


@pytest.mark.parametrize(("size", "channels"), [(8, 1), (28, 1), (32, 3), (64, 3)])
@pytest.mark.parametrize("upsample", ["transposed", "nearest"])
def test_dcgan_shapes(size, channels, upsample):
    g = DCGANGenerator(16, channels, size, width=8, upsample=upsample)
    d = DCGANDiscriminator(channels, size, width=8)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, channels, size, size) and x.abs().max() <= 1
    assert d(x).shape == (3,)


@pytest.mark.parametrize("size", [16, 32, 64])
def test_resnet_shapes_with_attention(size):
    g = ResNetGenerator(16, 3, size, width=16, attention_at=16)
    d = ResNetDiscriminator(3, size, width=16, attention_at=16 if size > 16 else None)
    assert any(isinstance(m, SelfAttention) for m in g.modules())
    x = g(torch.randn(2, 16))
    assert x.shape == (2, 3, size, size) and d(x).shape == (2,) and d.features(x).shape == (2, 16)


def test_mlp_shapes_for_images_and_points():
    assert MLPGenerator(8, 1, 28)(torch.randn(4, 8)).shape == (4, 1, 28, 28)
    points = MLPGenerator(8, 2, 1, hidden=[16], output="linear")(torch.randn(4, 8))
    assert points.shape == (4, 2, 1, 1)
    assert MLPDiscriminator(2, 1, hidden=[16])(points).shape == (4,)


def test_self_attention_starts_as_identity():
    attention = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    torch.testing.assert_close(attention(x), x)  # γ = 0 at initialisation
    with torch.no_grad():
        attention.gamma.fill_(1.0)
    assert not torch.allclose(attention(x), x)


def test_impossible_image_sizes_list_the_valid_ones():
    with pytest.raises(ConfigError, match=r"cannot make 30×30 images.*28, 32"):
        DCGANGenerator(16, 1, 30)
    with pytest.raises(ConfigError, match=r"cannot make 28×28 images: image_size must be 4·2\^k"):
        ResNetGenerator(16, 1, 28)
    with pytest.raises(ConfigError, match=r"cannot place self-attention at 32×32: it can at 4, 8, 16"):
        DCGANGenerator(16, 3, 32, attention_at=32)
    with pytest.raises(ConfigError, match="unknown norm 'group'"):
        DCGANDiscriminator(1, 28, norm="group")


def test_mlp_generator_output_scale_multiplies_the_linear_output_only():
    torch.manual_seed(0)
    plain = MLPGenerator(2, 2, 1, hidden=[8], norm="none", output="linear")
    scaled = MLPGenerator(2, 2, 1, hidden=[8], norm="none", output="linear", output_scale=3.0)
    scaled.load_state_dict(plain.state_dict())
    z = torch.randn(5, 2)
    assert torch.allclose(scaled(z), 3.0 * plain(z))
    with pytest.raises(ValueError, match="linear output"):
        MLPGenerator(2, 2, 1, hidden=[8], output="tanh", output_scale=3.0)
