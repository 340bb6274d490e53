"""The run's console: the config tree printed and saved, framework noise off unless verbose=true."""

from __future__ import annotations

import warnings
from pathlib import Path

from gan_lab import console
from gan_lab.train import train


def test_run_prints_and_saves_config_tree(make_cfg, capsys):
    cfg = make_cfg("trainer.max_steps=2", "logger=csv")
    train(cfg)
    saved = (Path(cfg.paths.output_dir) / "config_tree.log").read_text()
    printed = capsys.readouterr().out
    assert saved.startswith("CONFIG")
    for group in ("model", "data", "trainer"):
        assert f"── {group}" in saved
    assert "_target_: gan_lab.models" in saved  # the model's own values, not just the group name
    assert saved in printed


def test_quiet_hides_noise_and_verbose_shows_it():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        console.quiet(verbose=True)
        warnings.warn("The dataloader does not have many workers", UserWarning)
        assert len(seen) == 1
        console.quiet(verbose=False)
        warnings.warn("The dataloader does not have many workers", UserWarning)
        warnings.warn("old API", DeprecationWarning)
        warnings.warn("a real problem", UserWarning)
        assert [str(w.message) for w in seen] == ["The dataloader does not have many workers", "a real problem"]
