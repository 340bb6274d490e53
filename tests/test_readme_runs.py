"""Every README and docs command *runs* as written, with tiny sizes appended, in a fresh working folder.

``tests/test_readme.py`` checks that each command composes; here each one is executed the way a new user would
type it, in an empty folder (``outputs/`` and ``data/`` relative to it, as on a fresh clone): the config the
command composes, plus size overrides appended after it (``TINY``: 2 generator steps, small evaluations, one
epoch), is handed to the function behind the command (``train``, ``evaluate``, ``generate``, the latent tools,
the classifier and text-encoder trainers). The placeholders (``<run>``, ``…``, ``/path/to/images``) name
artefacts made once per module by README commands themselves: a trained run, a conditional run, a StackGAN
Stage-I run, the default-data classifier, an encoder, a text encoder, a CSV of attributes, an image folder and
the MNIST files in ``data/``. A command that asks for GPUs must stop with gan_lab's one-line error on this CPU
machine; sweeps (``-m``) run their first trial (``tests/test_sweeps.py`` runs whole sweeps).
"""

from __future__ import annotations

import json
import shutil

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict
from PIL import Image

from tests.conftest import QUIET, SHARED_DATA
from tests.test_readme import COMMANDS, NOT_COMPOSED, ROOT, SOURCES, command_overrides

NOT_RUN = {  # besides NOT_COMPOSED and the make targets
    "python -m gan_lab --help": "gan_lab's own help, run in tests/test_console.py",
    "python -m gan_lab --cfg job": "prints the config (Hydra's flag); composed in tests/test_readme.py",
}
TINY = {  # size overrides per command, applied only where the composed config has the key
    "train": {
        "trainer.max_steps": 2,
        "data.batch_size": 2,
        "data.n_train": 64,
        "data.n_test": 32,
        "callbacks.evaluation.n_samples": 16,
        "callbacks.samples.n_samples": 16,
        "trainer.log_every_n_steps": 1,
    },
    "classifier": {"epochs": 1, "max_steps": 3, "progress_bar": False, "accelerator": "cpu"},
    "text_encoder": {
        "epochs": 1,
        "batch_size": 16,
        "data.n_train": 64,
        "data.n_test": 32,
        "n_candidates": 10,
        "progress_bar": False,
        "accelerator": "cpu",
    },
    "evaluate": {"n_samples": 16, "n_real": 16, "batch_size": 16},
    "generate": {"n": 8},
    "latent/interpolate": {"walks": 2, "steps": 3},
    "latent/progress": {},
    "latent/encoder": {"max_epochs": 1, "max_steps": 3, "n_eval": 16, "progress_bar": False},
    "latent/arithmetic": {"n": 2, "n_vector": 8},
    "latent/features": {"n_train": 64, "n_test": 32},
}
FUNCTIONS = {
    "train": "gan_lab.training:train",
    "classifier": "gan_lab.classifier:train_classifier",
    "text_encoder": "gan_lab.text_encoder:train_text_encoder",
    "evaluate": "gan_lab.evaluate:evaluate",
    "generate": "gan_lab.generate:generate",
    "latent/interpolate": "gan_lab.latent.tools:interpolate",
    "latent/progress": "gan_lab.progress:progress",
    "latent/encoder": "gan_lab.latent.tools:train_encoder",
    "latent/arithmetic": "gan_lab.latent.tools:arithmetic",
    "latent/features": "gan_lab.latent.tools:probe_features",
}
RUN, CGAN, STAGE1 = "outputs/run", "outputs/cgan", "outputs/stackgan"  # the artefacts' folders in the working folder
CONDITIONAL = ("classes=", "metrics=[accuracy]")  # commands that need the conditional run
PACKED = ("experiment=stacked_mnist_best", "+remedy=pack")  # D judges packs of 4: batches of 4 (CUB's tiny set: 2)
# the ```python examples that use gan_lab, each distinct one once
EXAMPLES = list(
    dict.fromkeys(
        block.split("```", 1)[0]
        for path in SOURCES
        for block in path.read_text().split("```python\n")[1:]
        if "from gan_lab import" in block
    )
)


def parse(command: str) -> tuple[str, list[str]]:
    """(config name, overrides) of a README command with its placeholders naming this module's artefacts."""
    ckpt = f"{CGAN if any(c in command for c in CONDITIONAL) else RUN}/checkpoints/last.ckpt"
    text_model = "data=shapes" in command or "data=cub" in command
    return command_overrides(
        command,
        {
            "model=…": "model=stackgan" if text_model else "model=cgan",
            "encoder=…": f"encoder={RUN}/encoder/encoder.ckpt",
            "…": ckpt,
            "<stage-I run>": STAGE1,
            "<run>": RUN,
            "outputs/outputs": "outputs",
            "/path/to/images": "images",
        },
    )


def run(config: str, overrides: list[str], output_dir: str | None = None, tiny: dict | None = None):
    """Compose ``config`` with ``overrides`` (+ TINY, updated by ``tiny``, where the keys exist) and call the
    command's function."""
    import importlib

    base = [*QUIET, f"paths.output_dir={output_dir}"] if config == "train" else []
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config, overrides=[*overrides, *base], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        for key, value in {**TINY[config], **(tiny or {})}.items():
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if node is not None and leaf in node:
                OmegaConf.update(cfg, key, value)
        cfg.pop("hydra")
    module, name = FUNCTIONS[config].split(":")
    try:
        return getattr(importlib.import_module(module), name)(cfg)
    finally:
        HydraConfig.instance().cfg = None  # as after a command: no Hydra run state leaks into other tests


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, cifar_folder):
    """A fresh working folder holding what the README's placeholders name, made by README commands."""
    from tests.test_cub import write_layout

    root = tmp_path_factory.mktemp("readme")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    if (SHARED_DATA / "MNIST").is_dir():  # "put the four *-ubyte.gz files of MNIST in data/MNIST/raw/"
        shutil.copytree(SHARED_DATA / "MNIST", root / "data" / "MNIST")
    shutil.copytree(cifar_folder, root / "images")
    write_layout(root / "data" / "birds", dim=1024)
    run("train", ["trainer.max_steps=4"], RUN)
    run("train", ["model=cgan", "trainer.max_steps=4"], CGAN)
    run("train", ["model=stackgan", "data=shapes", "trainer.max_steps=2"], STAGE1)
    run(*parse("python -m gan_lab.classifier"))
    run(*parse("python -m gan_lab.latent encoder ckpt=…"))
    run(*parse("python -m gan_lab.text_encoder data=shapes"))
    (root / "faces").mkdir()  # `attributes=faces.csv`: file -> attribute, paths relative to the CSV's folder
    rows = ["file,Eyeglasses"]
    for i in range(16):
        Image.new("L", (28, 28), 255 * (i % 2)).save(root / "faces" / f"{i}.png")
        rows.append(f"faces/{i}.png,{1 if i % 2 else -1}")
    (root / "faces.csv").write_text("\n".join(rows) + "\n")
    yield root
    mp.undo()


RUNNABLE = [c for c in COMMANDS if c not in NOT_COMPOSED and c not in NOT_RUN and not c.startswith("make ")]


def test_every_command_is_run_or_has_a_reason():
    assert len(RUNNABLE) >= 55, RUNNABLE
    assert set(NOT_RUN) <= set(COMMANDS), "NOT_RUN lists a command the README no longer shows"


@pytest.mark.parametrize("command", RUNNABLE)
def test_readme_command_runs(command, workdir):
    from gan_lab.errors import GanLabError

    config, overrides = parse(command)
    output_dir = f"outputs/readme/{COMMANDS.index(command)}"
    if any(o.startswith(("trainer=gpu", "trainer=ddp")) for o in overrides):  # a CPU machine: gan_lab's one line
        with pytest.raises(GanLabError, match="GPU"):
            run(config, overrides, output_dir)
        return
    result = run(config, overrides, output_dir, {"data.batch_size": 4} if any(p in command for p in PACKED) else None)
    assert result is not None
    if config == "evaluate" and "features=classifier" in command:  # the protocol names the classifier file used
        run_dir = CGAN if any(c in command for c in CONDITIONAL) else RUN
        protocol = json.loads((workdir / run_dir / "eval" / "eval_classifier.json").read_text())["protocol"]
        assert (workdir / protocol["feature_weights"].split(" (trained on")[0]).is_file()
    if config == "train" and "debug=fdr" not in command:  # fast_dev_run writes no files by design
        run_dir = RUN if "ckpt_path=" in command else output_dir  # resumed past its 2 steps: RUN's files stand
        assert (workdir / run_dir / "checkpoints" / "last.ckpt").is_file()
        assert (workdir / run_dir / "metrics.json").is_file()


@pytest.mark.parametrize("example", EXAMPLES)
def test_readme_python_api_example_runs(example, workdir):
    """A ```python example of the README or the docs, executed with tiny sizes (2 steps, 16 images scored)."""
    tiny = example.replace('"trainer.max_steps=200"', '"trainer.max_steps=2", "data.batch_size=8", *QUIET')
    tiny = tiny.replace('"metrics=[fid,kid]"', '"metrics=[fid,kid]", "n_samples=16", "n_real=16"')
    assert tiny.count("QUIET") == 1 and tiny.count("n_samples=16") == 1, "the API example changed"
    namespace = {"QUIET": QUIET}
    exec(tiny, namespace)  # noqa: S102 - the documentation's own example
    assert namespace["images"].shape[0] == 16 and namespace["scores"]["fid"] > 0
    assert namespace["run"].checkpoint.is_file()
