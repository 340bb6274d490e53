"""data=cub / data=oxford102: the released StackGAN layout, read from a small layout written here."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from gan_lab.errors import ConfigError, DatasetNotFoundError

NAMES = {
    "train": [
        "001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111",
        "001.Black_footed_Albatross/Black_Footed_Albatross_0002_55",
        "002.Laysan_Albatross/Laysan_Albatross_0001_545",
    ],
    "test": ["003.Sooty_Albatross/Sooty_Albatross_0001_1071", "003.Sooty_Albatross/Sooty_Albatross_0002_796"],
}


def write_layout(root, dim: int = 16, boxes: bool = True):
    """3 train / 2 test images (solid colours, 40×30 JPEGs), protocol-2 pickles as the release has them."""
    g = np.random.default_rng(0)
    lines, box_lines = [], []
    for split, names in NAMES.items():
        (root / split).mkdir(parents=True)
        emb = g.standard_normal((len(names), 10, dim)).astype(np.float32)
        classes = [int(n[:3]) for n in names]
        for obj, file in (
            (emb, "char-CNN-RNN-embeddings.pickle"),
            (names, "filenames.pickle"),
            (classes, "class_info.pickle"),
        ):
            (root / split / file).write_bytes(pickle.dumps(obj, protocol=2))
        for name in names:
            path = root / "CUB_200_2011" / "images" / f"{name}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            colour = (200, 30, 30) if name.startswith("001") else (30, 30, 200)
            image = Image.new("RGB", (40, 30), (255, 255, 255))
            image.paste(colour, (10, 5, 30, 25))  # the "bird": a 20×20 box at (10, 5)
            image.save(path)
            lines.append(f"{len(lines) + 1} {name}.jpg")
            box_lines.append(f"{len(box_lines) + 1} 10 5 20 20")
            text = root / "text_c10" / f"{name}.txt"
            text.parent.mkdir(parents=True, exist_ok=True)
            text.write_text("\n".join(f"this bird number {i} is colourful" for i in range(10)) + "\n")
    if boxes:
        (root / "CUB_200_2011" / "images.txt").write_text("\n".join(lines) + "\n")
        (root / "CUB_200_2011" / "bounding_boxes.txt").write_text("\n".join(box_lines) + "\n")
    return {split: (pickle.loads((root / split / "char-CNN-RNN-embeddings.pickle").read_bytes()),) for split in NAMES}


def test_reads_the_released_layout(make_cfg, tmp_path):
    root = tmp_path / "birds"
    written = write_layout(root)
    cfg = make_cfg("data=cub", f"data.root={root}", "data.embedding_dim=16", "data.image_size=16", "data.batch_size=2")
    dm = instantiate(cfg.data, batches_per_step=1)
    dm.setup("fit")
    train, test = dm.split(train=True), dm.split(train=False)
    assert train.images.shape == (3, 3, 16, 16) and len(test) == 2
    assert torch.equal(train.classes, torch.tensor([0, 0, 1])) and torch.equal(test.classes, torch.tensor([2, 2]))
    assert torch.equal(train.embeddings, torch.as_tensor(written["train"][0]))
    # cropped to 1.5× the box (30×30 around the 20×20 bird, clipped to the image): the bird fills the centre
    centre = train.images[0, :, 8, 8].float()
    assert torch.allclose(centre, torch.tensor([200.0, 30, 30]), atol=12)
    assert train.captions[0][3] == "this bird number 3 is colourful"
    images, classes, embeddings = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert images.shape == (2, 3, 16, 16) and images.min() >= -1 and embeddings.shape == (2, 16)
    for e, c in zip(embeddings, classes):
        own = (train.classes == c).nonzero().flatten()
        assert any(torch.allclose(e, train.embeddings[i, k]) for i in own for k in range(10))
    with pytest.raises(ConfigError, match="cannot be encoded"):
        dm.encode_text(["a red bird"])


def test_missing_files_and_wrong_sizes_are_clear_errors(make_cfg, tmp_path):
    cfg = make_cfg("data=cub", f"data.root={tmp_path / 'nothing'}")
    with pytest.raises(DatasetNotFoundError, match="char-CNN-RNN-embeddings.pickle, filenames.pickle"):
        instantiate(cfg.data).setup("fit")
    root = tmp_path / "birds"
    write_layout(root, boxes=False)
    cfg = make_cfg("data=cub", f"data.root={root}", "data.batch_size=2")  # embedding_dim 1024 != 16
    with pytest.raises(ConfigError, match="data.embedding_dim=16"):
        instantiate(cfg.data).setup("fit")
    (root / "CUB_200_2011" / "images" / f"{NAMES['train'][0]}.jpg").unlink()
    cfg = make_cfg("data=cub", f"data.root={root}", "data.embedding_dim=16")
    with pytest.raises(DatasetNotFoundError, match="Black_Footed_Albatross_0001_796111.jpg not found"):
        instantiate(cfg.data).setup("fit")
