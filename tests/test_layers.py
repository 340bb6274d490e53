"""Imports flow one way: every gan_lab module imports only its own layer and the layers below, and no two packages
import each other (directly or round a circle). Read from the source with ``ast``, function-level imports included.

The layers, bottom first (a module's layer is its package's, or its own name's for top-level modules):

| layer | modules |
|---|---|
| 0 bottom | errors, kinds, steps, losses, images, augment, checkpoints, cli, resolvers (helpers every layer uses) |
| 1 parts | nets, data, text |
| 2 models and metrics | models, metrics |
| 3 callbacks | callbacks, console, loggers, sweep |
| 4 commands | training, evaluate, generate, latent, progress, classifier, text_encoder, api, help, ``gan_lab`` itself |
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gan_lab"
LAYERS = [
    {
        "errors",
        "kinds",
        "steps",
        "losses",
        "images",
        "augment",
        "checkpoints",
        "cli",
        "resolvers",
        "legacy",
        "topk",
        "threads",
        "sampling",
    },
    {"nets", "data", "text"},
    {"models", "metrics"},
    {"callbacks", "console", "loggers", "sweep"},
    {
        "training",
        "evaluate",
        "generate",
        "latent",
        "progress",
        "classifier",
        "text_encoder",
        "api",
        "help",
        "__init__",
        "__main__",
    },
]


def unit(module: str) -> str:
    """``gan_lab.metrics.image`` -> ``metrics``; ``gan_lab`` (the package's __init__) -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer(module: str) -> int:
    name = unit(module)
    found = [i for i, units in enumerate(LAYERS) if name in units]
    assert found, f"{module}: {name!r} is in no layer of tests/test_layers.py: add it to the table"
    return found[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolves(name: str) -> bool:
    """Whether ``gan_lab.x.y`` names a module or package of gan_lab (not a function or class in one)."""
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    """The gan_lab modules ``path`` imports, at module level or inside functions (not the names imported only for
    type annotations, under ``if TYPE_CHECKING:``, which never run)."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):  # drop the annotation-only imports
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "gan_lab"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "gan_lab":
                continue
            for alias in node.names:  # `from gan_lab import losses` imports the module gan_lab.losses
                found.add(f"{base}.{alias.name}" if resolves(f"{base}.{alias.name}") else base)
    return found - {here}


GRAPH = {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer():
    for module in GRAPH:
        layer(module)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_down_or_sideways_never_up(module):
    upward = sorted(m for m in GRAPH[module] if layer(m) > layer(module))
    assert not upward, (
        f"{module} (layer {layer(module)}) imports {upward} from a higher layer: move the shared "
        "piece down (gan_lab/images.py, kinds.py, ...) or the importer up"
    )


def package_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {unit(m): set() for m in GRAPH}
    for module, targets in GRAPH.items():
        edges[unit(module)] |= {unit(t) for t in targets if unit(t) != unit(module)}
    return edges


def test_no_two_packages_import_each_other_directly_or_round_a_circle():
    edges = package_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail(f"import cycle between packages: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_no_cycle_between_the_modules_of_a_package():
    """Inside a package too (e.g. metrics.evaluation -> image -> text_image -> evaluation): one way."""
    for package, group in itertools.groupby(sorted(GRAPH), key=unit):
        members = set(group)
        inner = {m: {t for t in GRAPH[m] if t in members} for m in members}
        state: dict[str, int] = {}

        def visit(node: str, path: list[str]) -> None:
            state[node] = 1
            for nxt in sorted(inner[node]):
                if state.get(nxt) == 1:
                    pytest.fail(f"import cycle in {package}: {' -> '.join(path[path.index(nxt) :] + [nxt])}")
                if nxt not in state:
                    visit(nxt, path + [nxt])
            state[node] = 2

        for node in sorted(members):
            if node not in state:
                visit(node, [node])


def test_the_checker_sees_function_level_and_relative_imports(tmp_path):
    source = tmp_path / "gan_lab" / "fake"
    source.mkdir(parents=True)
    (source / "mod.py").write_text("def f():\n    from gan_lab.training import train\n")
    tree = ast.parse((source / "mod.py").read_text())
    found = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert found == ["gan_lab.training"]  # ast.walk reaches imports inside functions
    assert layer("gan_lab.training") > layer("gan_lab.nets.dcgan")  # so nets importing training would fail above
