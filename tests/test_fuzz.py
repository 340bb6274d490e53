"""Every file reader gan_lab has, fed truncated, random and hostile inputs: each ends in exactly one
``gan_lab: error:`` line (the command-line wrapper's output, here called in-process) and nothing in any file runs.

Readers: the checkpoint loaders (training, model, run, weights-only, domain classifier, latent encoder, text
encoder), the CUB / Oxford-102 pickles and caption files, image folders. Inputs are seeded: the same cases every run.
"""

from __future__ import annotations

import io
import pathlib
import pickle
import random
import struct
import zlib

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from gan_lab.cli import reports_user_errors
from tests.test_cub import NAMES, write_layout
from tests.test_reliability import LOADERS  # every checkpoint reader gan_lab has
from tests.test_security import Payload, torch_zip_with

pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the hostile protocol-5 pickle
CUB_FILES = ("char-CNN-RNN-embeddings.pickle", "filenames.pickle", "class_info.pickle")


def one_error_line(read) -> str:
    """What the command line prints when ``read()`` fails: exactly one ``gan_lab: error:`` line (a traceback, i.e.
    any exception that is not a GanLabError, fails the test)."""
    with pytest.raises(SystemExit) as stopped:
        reports_user_errors(read)()
    message = str(stopped.value.code)
    assert message.startswith("gan_lab: error: ") and "\n" not in message and len(message) < 1000, message
    return message


def fails_in_one_line_or_reads(read, must_fail: bool = True) -> None:
    """``read()`` succeeds (allowed only when not ``must_fail``: a flipped bit in a weight still reads) or fails
    with one ``gan_lab: error:`` line."""
    try:
        read()
    except Exception:
        one_error_line(read)
    else:
        assert not must_fail, f"read a file it should have refused: {read}"


def mangled(data: bytes, rng: random.Random) -> dict[str, bytes]:
    """Truncations, random bytes and byte flips of ``data``."""
    cases = {"empty": b"", "random": rng.randbytes(200), "random_long": rng.randbytes(5000)}
    for cut in (1, 2, 10, len(data) // 3, len(data) // 2, len(data) - 1):
        cases[f"cut{cut}"] = data[:cut]
    for i in range(4):
        flipped = bytearray(data)
        for _ in range(3):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        cases[f"flip{i}"] = bytes(flipped)
    return cases


def hostile(marker: pathlib.Path, value) -> dict[str, bytes]:
    buffer = io.BytesIO()
    torch.save({"state_dict": {}, "gan_lab_config": {"model": {}}, "x": Payload(marker, value)}, buffer)
    return {
        "pickle": pickle.dumps(Payload(marker, value), protocol=2),
        "pickle5": pickle.dumps(Payload(marker, value), protocol=5),
        "torch_zip": buffer.getvalue(),
        "zip_global": torch_zip_with(b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueR."),
    }


def test_every_checkpoint_reader(tmp_path):
    rng, marker = random.Random(0), tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save(
        {
            "state_dict": {"w": torch.randn(64)},
            "global_step": 4,
            "hyper_parameters": {"gan_checkpoint": "x"},
            "gan_lab_config": {"model": {"_target_": "gan_lab.models.GANModule"}},
        },
        buffer,
    )
    files = {**mangled(buffer.getvalue(), rng), **hostile(marker, {"state_dict": {}})}
    for kind, config in {
        "foreign_target": {"model": {"_target_": "gan_lab.cli.os.system", "_args_": ["true"]}},
        "broken_config": {"model": {"_target_": "gan_lab.models.GANModule", "n_critic": "x"}},
        "not_a_dict": ["a", "list"],
    }.items():
        torch.save({"state_dict": {}, "global_step": 1, "gan_lab_config": config}, tmp_path / "c.ckpt")
        files[kind] = (tmp_path / "c.ckpt").read_bytes()
    torch.save([1, 2, 3], tmp_path / "c.ckpt")
    files["a_list"] = (tmp_path / "c.ckpt").read_bytes()
    for name, data in files.items():
        path = tmp_path / f"{name}.ckpt"
        path.write_bytes(data)
        for read in LOADERS.values():
            # a flipped bit in a weight, or a well-formed file a weights-only reader does not instantiate, may read
            may_read = name.startswith("flip") or name in ("foreign_target", "broken_config", "not_a_dict")
            fails_in_one_line_or_reads(lambda: read(path), must_fail=not may_read)
    assert not marker.exists()


def _cub(tmp_path: pathlib.Path) -> tuple[pathlib.Path, object]:
    from tests.conftest import compose_config

    root = tmp_path / "birds"
    write_layout(root)
    cfg = compose_config(tmp_path, "data=cub", f"data.root={root}", "data.embedding_dim=16", "data.image_size=16")
    return root, cfg.data


def test_every_cub_file(tmp_path):
    rng, marker = random.Random(1), tmp_path / "pwned"
    root, data_cfg = _cub(tmp_path)
    originals = {f: (root / "train" / f).read_bytes() for f in CUB_FILES}
    emb = pickle.loads(originals[CUB_FILES[0]])
    wrong = {
        CUB_FILES[0]: {
            "4d": emb[:, :, :, None],
            "strings": [["a"] * 16] * 3,
            "nan": emb * np.nan,
            "ragged": [emb[0], emb[1][:3]],
            "empty": np.zeros((0, 10, 16)),
            "dict": {"a": 1},
        },
        CUB_FILES[1]: {
            "ints": [1, 2, 3],
            "escape": ["../../../etc/passwd"] * 3,
            "empty": [],
            "absolute": ["/etc/passwd"] * 3,
            "none": None,
        },
        CUB_FILES[2]: {
            "zero_based": [0, 0, 1],
            "strings": ["a", "b", "c"],
            "floats": [1.5, 2, 3],
            "negative": [-5, 1, 1],
            "nested": [[1, 2], [3]],
        },
    }
    seen = set()
    for file in CUB_FILES:
        cases = {
            **mangled(originals[file], rng),
            **hostile(marker, pickle.loads(originals[file])),
            **{k: pickle.dumps(v, protocol=2) for k, v in wrong[file].items()},
        }
        for name, data in cases.items():
            (root / "train" / file).write_bytes(data)
            seen.add(one_error_line(lambda: instantiate(data_cfg).setup("fit")).split(":")[2].strip()[:40])
        (root / "train" / file).write_bytes(originals[file])
    assert not marker.exists()
    assert len(seen) > 5  # the messages say different things


def test_cub_images_captions_and_boxes(tmp_path):
    rng = random.Random(2)
    root, data_cfg = _cub(tmp_path)
    image = root / "CUB_200_2011" / "images" / f"{NAMES['train'][1]}.jpg"
    text = root / "text_c10" / f"{NAMES['train'][1]}.txt"
    boxes = root / "CUB_200_2011" / "bounding_boxes.txt"
    for path in (image, text, boxes):
        original = path.read_bytes()
        cases = mangled(original, rng)
        if path == boxes:
            cases |= {"outside": b"1 900 900 5 5\n", "nan": b"1 nan 0 5 5\n", "short": b"1 2 3\n"}
        for name, data in cases.items():
            path.write_bytes(data)
            try:
                instantiate(data_cfg).setup("fit")  # some mangled files still read (a flipped JPEG pixel)
            except Exception:
                one_error_line(lambda: instantiate(data_cfg).setup("fit"))
        path.write_bytes(original)


REFUSED = ("empty", "random", "random_long", "cut1", "cut2", "cut10", "bomb", "huge_claim")  # never an image


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width``×``height`` pixels (no pixel data): a decompression bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: (
        struct.pack(">I", len(data))
        + kind
        + data  # noqa: E731
        + struct.pack(">I", zlib.crc32(kind + data))
    )
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_image_folders(make_cfg, tmp_path):
    rng = random.Random(3)
    png = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 0, 0)).save(png, format="PNG")
    cases = {**mangled(png.getvalue(), rng), "bomb": png_header(30000, 30000), "huge_claim": png_header(2**31 - 1, 1)}
    cfg = make_cfg("data=folder", f"data.root={tmp_path}", "data.image_size=16")
    for name, data in cases.items():
        root = tmp_path / name / "cls"
        root.mkdir(parents=True)
        Image.new("RGB", (16, 16)).save(root / "good.png")
        (root / "bad.png").write_bytes(data)
        cfg.data.root = str(root.parent)
        fails_in_one_line_or_reads(lambda: instantiate(cfg.data).split(train=True), must_fail=name in REFUSED)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "x.png").write_bytes(png.getvalue())
    for root in (flat, tmp_path / "missing", flat / "x.png"):
        cfg.data.root = str(root)
        one_error_line(lambda: instantiate(cfg.data).split(train=True))


def test_caption_lists():
    from gan_lab.text import Vocabulary

    rng = random.Random(4)
    vocabulary = Vocabulary(["a", "large", "red", "circle"])
    alphabet = "a red circle crème 赤い \x00\t\n-_,.!?🙂" + "".join(map(chr, range(0x300, 0x310)))
    for _ in range(300):
        caption = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
        try:
            vocabulary.encode([caption])
        except Exception:
            one_error_line(lambda: vocabulary.encode([caption]))
