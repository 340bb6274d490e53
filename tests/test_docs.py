"""The documentation: a short README, a site that builds offline with ``mkdocs build --strict``, pictures that
exist, gan_lab's help naming every config group, and pages that speak of the project alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.test_readme import README, ROOT, SOURCES

RESULTS = sorted((ROOT / "benchmarks" / "results").glob("*.md"))
# how the work was organised is no part of a measurement: its date, command and machine are
ORGANISATION = re.compile(r"\bsessions?\b|work periods?|\bbefore this\b|this CPU allowed", re.I)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def test_readme_is_short():
    assert README.stat().st_size <= 15_000, f"README.md is {README.stat().st_size:,} bytes: move detail into docs/"


def test_readme_docs_and_results_speak_of_the_project_alone():
    for path in [*SOURCES, *RESULTS]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not ORGANISATION.search(line), f"{path.relative_to(ROOT)}:{number}: {line}"


def test_every_picture_the_readme_and_docs_show_exists():
    for path in SOURCES:
        for match in IMAGE.finditer(path.read_text()):
            target = path.parent / (match.group(1) or match.group(2))
            assert target.is_file(), f"{path.relative_to(ROOT)} shows {target.relative_to(ROOT)}, which is missing"


def test_every_readme_link_names_a_file_of_the_repository():  # the docs' own links: mkdocs --strict below
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text()):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).is_file(), f"README.md links to {target}, which is missing"


def test_help_lists_every_config_group_and_points_to_the_docs():
    from gan_lab.help import help_text

    text = help_text()
    groups = [p.name for p in (ROOT / "conf").iterdir() if p.is_dir() and p.name not in {"hydra", "paths", "latent"}]
    for group in [*groups, "model/net"]:  # hydra/paths: internal; latent/: the latent tools' own configs
        assert f"\n  {group}:\n" in text, f"python -m gan_lab --help does not list the {group} group"
    assert "make docs" in text


def test_docs_site_builds_offline_with_strict(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason="the docs extra is not installed: pip install -e '.[docs]' (make install)")
    site = tmp_path / "site"
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert run.returncode == 0, run.stderr[-4000:]
    for page in site.rglob("*.html"):  # nothing fetched when a reader opens a page: no web fonts, no CDN
        assert not re.search(r"<(?:script|link)[^>]+(?:src|href)=\"(?:https?:)?//", page.read_text()), page
    api = (site / "api" / "index.html").read_text()
    assert "d_hinge" in api and "GANModule" in api and "evaluate_generator" in api  # docstrings were rendered
