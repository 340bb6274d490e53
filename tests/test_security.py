"""Nothing runs from a file gan_lab reads: the CUB / Oxford-102 pickles, checkpoints and the configs stored in them.

Every hostile file here is written by the test and would create ``marker`` if anything in it ran.
"""

from __future__ import annotations

import io
import pathlib
import pickle
import re
import zipfile

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from gan_lab.checkpoints import allowed_target, load_model, load_weights
from gan_lab.data.safe_pickle import load_data_pickle
from gan_lab.errors import CheckpointError, DatasetError
from tests.cli_helpers import run_cli
from tests.conftest import ROOT
from tests.test_cub import NAMES, write_layout

CUB_FILES = ("char-CNN-RNN-embeddings.pickle", "filenames.pickle", "class_info.pickle")


class Payload:
    """Unpickling this creates ``marker`` (what a crafted file would do with a shell command), then returns
    ``value`` (so the file still holds what the reader expects). Only builtins are named: it runs in any process."""

    def __init__(self, marker: pathlib.Path, value=None):
        self.marker, self.value = marker, value

    def __reduce__(self):
        code = (
            f"__import__('pathlib').Path({str(self.marker)!r}).touch() or __import__('pickle').loads("
            f"{pickle.dumps(self.value)!r})"
        )
        return eval, (code,)


def hostile_pickle(marker: pathlib.Path, value, protocol: int = 2) -> bytes:
    return pickle.dumps(Payload(marker, value), protocol=protocol)  # plain pickle runs it (test below)


def test_the_payload_runs_under_plain_pickle(tmp_path):  # what the tests below must prevent
    marker = tmp_path / "pwned"
    assert pickle.loads(hostile_pickle(marker, [1, 2])) == [1, 2] and marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_the_data_unpickler_reads_arrays_lists_strings_and_numbers_of_every_protocol(tmp_path, protocol):
    data = [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.int64(7),
        "a",
        b"",
        b"xy",
        1,
        2.5,
        (True, None),
        {"k": [np.array(["s", "tt"])]},
    ]
    path = tmp_path / "data.pickle"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    read = load_data_pickle(path)
    assert np.array_equal(read[0], data[0]) and read[1] == 7 and read[2:8] == data[2:8]
    assert list(read[8]["k"][0]) == ["s", "tt"]


def test_python2_pickles_are_read_as_the_release_wrote_them(tmp_path):
    path = tmp_path / "py2.pickle"  # protocol 0, as Python 2 writes: __builtin__.unicode / long, latin-1 strings
    path.write_bytes(b"(lp0\nc__builtin__\nunicode\np1\n(S'caf\\xe9'\np2\ntp3\nRp4\naL5L\na.")
    assert load_data_pickle(path) == ["café", 5]


@pytest.mark.parametrize(
    "global_",
    [
        b"posix\nsystem",
        b"os\nsystem",
        b"builtins\neval",
        b"subprocess\nPopen",
        b"numpy\nload",
        b"numpy.lib.npyio\nload",
        b"gan_lab.data.cub\nread_names",
        b"copyreg\n_reconstructor",
        b"torch\nload",
    ],
)
def test_the_data_unpickler_refuses_every_other_global_before_importing_it(tmp_path, global_):
    path = tmp_path / "evil.pickle"
    path.write_bytes(b"\x80\x02c" + global_ + b"\n(X\x01\x00\x00\x00xtR.")
    module, name = global_.decode().split("\n")
    with pytest.raises(
        DatasetError, match=f"refused to read {re.escape(str(path))}: it asks to import {re.escape(module)}.{name}"
    ):
        load_data_pickle(path)


@pytest.mark.parametrize("file", CUB_FILES)
def test_a_hostile_cub_pickle_is_refused_and_runs_nothing(make_cfg, tmp_path, file):
    root, marker = tmp_path / "birds", tmp_path / "pwned"
    written = write_layout(root)
    valid = {
        CUB_FILES[0]: written["train"][0],
        CUB_FILES[1]: NAMES["train"],
        CUB_FILES[2]: [int(n[:3]) for n in NAMES["train"]],
    }[file]
    (root / "train" / file).write_bytes(hostile_pickle(marker, valid))  # would run, then read as valid data
    cfg = make_cfg("data=cub", f"data.root={root}", "data.embedding_dim=16", "data.image_size=16")
    with pytest.raises(DatasetError, match=f"refused to read .*{file}: it asks to import builtins.eval"):
        instantiate(cfg.data).setup("fit")
    assert not marker.exists()


def test_training_on_a_hostile_cub_layout_is_one_line_and_runs_nothing(tmp_path):
    root, marker = tmp_path / "birds", tmp_path / "pwned"
    write_layout(root)
    (root / "train" / CUB_FILES[1]).write_bytes(hostile_pickle(marker, NAMES["train"]))
    result = run_cli(
        tmp_path,
        "model=stackgan",
        "data=cub",
        f"data.root={root}",
        "data.embedding_dim=16",
        "data.image_size=16",
        "data.batch_size=2",
        "trainer.max_steps=1",
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("gan_lab: error:")]
    assert len(errors) == 1 and "refused to read" in errors[0] and "filenames.pickle" in errors[0]
    assert not marker.exists()


def shipped_targets() -> set[str]:
    targets = set()
    for path in (ROOT / "conf").rglob("*.yaml"):
        if "hparams_search" not in path.parts:  # the sweeper's (Hydra's own config, never stored in a run)
            targets |= set(re.findall(r"_target_[:=] *([A-Za-z0-9_.]+)", path.read_text()))
    return targets


def test_every_target_the_shipped_configs_name_is_allowed():
    targets = shipped_targets()
    assert len(targets) > 50 and "gan_lab.data.sources.mnist_5k" in targets
    assert [t for t in sorted(targets) if not allowed_target(t)] == []


@pytest.mark.parametrize(
    "target",
    [
        "gan_lab.cli.os.system",  # reached through a module gan_lab imports
        "gan_lab.data.cub.np.load",  # the same, inside an allowed package
        "gan_lab.losses.torch",  # a module, not a class or function
        "gan_lab.data.cub.read_names",  # a helper function in a data module
        "gan_lab.data.safe_pickle.load_data_pickle",
        "gan_lab.sweep.write_atomically",  # writes any file it is given
        "gan_lab.checkpoints.load_model",  # outside the allowed modules
        "gan_lab.data.cub._crop",  # private
        "gan_lab.models.base.torch.load",
        "torch.load",
        "torch.nn.functional.relu",
        "os.system",
        "builtins.eval",
        "shutil.copyfile",
        "lightning.pytorch.utilities.rank_zero_info",
        "tests.test_security.Payload",
        "gan_lab..models",
        "",
        3,
    ],
)
def test_the_allowlist_checks_what_a_name_resolves_to(target):
    assert not allowed_target(target)


def _save_config(path: pathlib.Path, model: dict) -> pathlib.Path:
    torch.save({"state_dict": {}, "global_step": 0, "gan_lab_config": {"model": model}}, path)
    return path


def test_a_stored_config_naming_a_helper_function_is_refused_also_through_stage1_ckpt(tmp_path):
    marker = tmp_path / "pwned"
    evil = _save_config(
        tmp_path / "evil.ckpt", {"_target_": "gan_lab.sweep.write_atomically", "path": str(marker), "text": "x"}
    )
    with pytest.raises(CheckpointError, match=r"model._target_ is 'gan_lab.sweep.write_atomically'"):
        load_model(evil)
    stage2 = _save_config(
        tmp_path / "stage2.ckpt",
        {
            "_target_": "gan_lab.models.StackGANStageII",
            "stage1_ckpt": str(evil),
            "embedding_dim": 4,
            "generator": {"_target_": "torch.nn.Identity"},
            "discriminator": {"_target_": "torch.nn.Identity"},
        },
    )
    with pytest.raises(CheckpointError, match=r"evil.ckpt: model._target_ is 'gan_lab.sweep.write_atomically'"):
        load_model(stage2)
    assert not marker.exists()


def test_a_stage2_checkpoint_that_names_itself_as_its_stage1_is_one_line(tmp_path):
    path = tmp_path / "loop.ckpt"
    _save_config(
        path,
        {
            "_target_": "gan_lab.models.StackGANStageII",
            "stage1_ckpt": str(path),
            "embedding_dim": 4,
            "generator": {"_target_": "torch.nn.Identity"},
            "discriminator": {"_target_": "torch.nn.Identity"},
        },
    )
    with pytest.raises(CheckpointError, match="names itself"):
        load_model(path)


def torch_zip_with(data_pkl: bytes) -> bytes:
    """A PyTorch zip checkpoint whose pickle is replaced by ``data_pkl``."""
    buffer = io.BytesIO()
    torch.save({"a": 1}, buffer)
    source, out = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, data_pkl if info.filename.endswith("data.pkl") else source.read(info.filename))
    return out.getvalue()


@pytest.mark.parametrize(
    "data_pkl, reason",
    [
        (b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueR.", "Trying to load unsupported GLOBAL posix.system"),
        (b"(cposix\nsystem\nX\x04\x00\x00\x00trueo.", "Trying to load unsupported GLOBAL posix.system"),
        (b"\x80\x02}q\x00}b.", "Can only build Tensor"),
        (b"\x80\x02\x82\x01.", "Unsupported operand 130"),
    ],
)
def test_a_crafted_torch_zip_is_refused_not_called_corrupt(tmp_path, data_pkl, reason):
    path = tmp_path / "crafted.ckpt"
    path.write_bytes(torch_zip_with(data_pkl))
    with pytest.raises(
        CheckpointError, match=f"refused to open .*: it is not a weights-only checkpoint \\({reason}"
    ) as raised:
        load_weights(path)
    assert "\n" not in str(raised.value)


def test_a_truncated_checkpoint_is_called_corrupt(tmp_path):
    path = tmp_path / "cut.ckpt"
    buffer = io.BytesIO()
    torch.save({"state_dict": {"w": torch.ones(100)}}, buffer)
    path.write_bytes(buffer.getvalue()[:300])
    with pytest.raises(CheckpointError, match="is corrupt or not a PyTorch checkpoint"):
        load_weights(path)
