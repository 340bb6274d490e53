"""gan_lab: GAN variants on PyTorch Lightning + Hydra."""

from gan_lab.resolvers import resume_dir, run_name  # registers the config resolvers

__version__ = "0.1.0"

# The Python API (gan_lab/api.py), imported on first use so that `python -m gan_lab --help` stays fast.
API = ("Run", "config", "load_model", "sample", "score", "train")
__all__ = [*API, "resume_dir", "run_name"]


def __getattr__(name: str):
    if name in API:
        from gan_lab import api

        return getattr(api, name)
    raise AttributeError(f"module 'gan_lab' has no attribute {name!r}")
