"""The shared data layer on real data: ranges, shapes, labels, in-memory == streaming, resizing, errors."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch

from gan_lab.data import GaussianMixtureDataModule, ImageDataModule, InMemoryImages, sources
from gan_lab.data.toy import grid_centers, ring_centers
from gan_lab.errors import ConfigError, DatasetNotFoundError


def first_batch(dm: ImageDataModule):
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    return dm.on_after_batch_transfer(batch, 0)


def test_embedded_mnist_5k_is_real_split_and_scaled_to_tanh_range():
    train = sources.mnist_5k("unused", train=True, download=False)
    test = sources.mnist_5k("unused", train=False, download=False)
    assert (len(train), len(test)) == (4000, 1000)
    assert torch.bincount(test.targets).tolist() == [100] * 10
    assert len(set(test.targets[:50].tolist())) >= 8  # the file is sorted by class; the splits are not
    dm = ImageDataModule(partial(sources.mnist_5k), batch_size=32)
    images, labels = first_batch(dm)
    assert images.shape == (32, 1, 28, 28) and images.dtype == torch.float32
    assert images.min() == -1 and images.max() == 1  # digits have black background and white strokes
    assert labels.dtype == torch.int64 and labels.min() >= 0 and labels.max() <= 9


def test_full_mnist_from_the_raw_files_in_memory_equals_streaming(mnist_root):
    kwargs = dict(source=sources.mnist, root=str(mnist_root), download=True, batch_size=16, seed=3)
    fast, slow = ImageDataModule(in_memory=True, **kwargs), ImageDataModule(in_memory=False, **kwargs)
    assert isinstance(fast.train_set, InMemoryImages) and fast.train_set.images.shape == (60000, 1, 28, 28)
    for (a, y_a), (b, y_b) in zip([first_batch(fast)], [first_batch(slow)]):
        torch.testing.assert_close(a, b)
        assert torch.equal(y_a, y_b)


def test_resize_and_channel_conversion_of_real_jpegs(cifar_folder):
    src = partial(sources.image_folder)
    rgb = ImageDataModule(src, root=str(cifar_folder), image_size=32, channels=3, batch_size=8)
    images, labels = first_batch(rgb)
    assert images.shape == (8, 3, 32, 32) and set(labels.tolist()) <= {0, 1, 2}
    grey = ImageDataModule(src, root=str(cifar_folder), image_size=16, channels=1, batch_size=8)
    small, _ = first_batch(grey)
    assert small.shape == (8, 1, 16, 16) and small.min() >= -1 and small.max() <= 1
    # grey 28x28 MNIST-like digits become 3-channel 32x32 with equal channels
    up = ImageDataModule(partial(sources.digits), image_size=32, channels=3, batch_size=8)
    x, _ = first_batch(up)
    assert x.shape == (8, 3, 32, 32) and torch.equal(x[:, 0], x[:, 1])


def test_missing_dataset_names_the_folder_and_files(tmp_path):
    dm = ImageDataModule(sources.mnist, root=str(tmp_path), download=False)
    with pytest.raises(DatasetNotFoundError) as err:
        dm.setup("fit")
    message = str(err.value)
    assert str(tmp_path) in message and "MNIST/raw" in message and "train-images-idx3-ubyte.gz" in message
    with pytest.raises(DatasetNotFoundError, match="no test split"):
        sources.image_folder(str(tmp_path), train=False, download=False)


def test_epoch_order_is_seeded_so_a_resumed_run_sees_the_same_batches():
    def order(epoch: int) -> torch.Tensor:
        dm = ImageDataModule(partial(sources.digits), image_size=8, batch_size=64, seed=7)
        dm.setup("fit")
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(epoch)  # what Lightning does at each epoch start
        return next(iter(loader))[1]

    assert torch.equal(order(1), order(1)) and not torch.equal(order(0), order(1))


def test_toy_mixtures_have_the_literature_geometry():
    ring, grid = ring_centers(8, 2.0), grid_centers(5, 2.0)
    torch.testing.assert_close(ring.norm(dim=1), torch.full((8,), 2.0))
    assert grid.shape == (25, 2) and sorted(set(grid[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    dm = GaussianMixtureDataModule(ring, std=0.02, n_samples=4000, batch_size=100)
    points, modes = dm.train_set.images.flatten(1), dm.train_set.labels
    assert dm.train_set.images.shape == (4000, 2, 1, 1)
    distance = (points - ring[modes]).norm(dim=1)
    assert distance.max() < 6 * 0.02 and math.isclose(
        distance.pow(2).mean().sqrt().item() / math.sqrt(2), 0.02, rel_tol=0.1
    )
    test = dm.test_dataloader()  # an independent draw, served in order
    assert not torch.equal(next(iter(test))[0], dm.train_set.images[:100])
    assert torch.equal(next(iter(test))[0], dm.split(train=False).images[:100])
    with pytest.raises(ConfigError, match="the training set has 4000 images, fewer than one training step needs"):
        GaussianMixtureDataModule(ring, std=0.02, n_samples=4000, batch_size=1000, batches_per_step=5).setup("fit")
