"""How many CPU threads a run's PyTorch ops use (``trainer.threads``).

PyTorch starts as many intra-op threads as the machine has cores. Two runs side by side on a 2-core machine then
run four busy threads on two cores and both crawl (a measured cgan step went from 1.5 to 0.29 steps/s beside one
other job). The policy: ``trainer.threads`` when set; else ``OMP_NUM_THREADS`` when the environment sets it; else
the cores this process may use divided by the runs launched together, at least 1. The runs launched together are
``GAN_LAB_RUNS_TOGETHER`` (the benchmark scripts set it for their workers), or the ``n_jobs`` of a Hydra launcher
that runs trials in parallel (joblib's; -1: one per core), else 1.
"""

from __future__ import annotations

import os

import torch

from gan_lab.errors import ConfigError

RUNS_TOGETHER = "GAN_LAB_RUNS_TOGETHER"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a SLURM allocation, ``taskset``), else all."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _whole(value: object, name: str, allow: tuple = ()) -> int:
    if value in allow:
        return value  # type: ignore[return-value]
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1 or isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number ≥ 1, got {value!r}")
    return number


def runs_together(
    environ: dict[str, str] | None = None, launcher_jobs: int | None = None, cores: int | None = None
) -> int:
    """The runs launched together with this one: ``GAN_LAB_RUNS_TOGETHER``, else a parallel launcher's
    ``n_jobs`` (-1: one per core), else 1."""
    environ = os.environ if environ is None else environ
    if environ.get(RUNS_TOGETHER):
        return _whole(environ[RUNS_TOGETHER], RUNS_TOGETHER)
    if launcher_jobs is not None and launcher_jobs != 1:
        return cores or usable_cores() if launcher_jobs < 0 else _whole(launcher_jobs, "hydra.launcher.n_jobs")
    return 1


def choose_threads(
    requested: int | None, cores: int, together: int, environ: dict[str, str] | None = None
) -> tuple[int, str]:
    """(threads, why): the number of intra-op threads for this run and the reason, for the log."""
    environ = os.environ if environ is None else environ
    if requested is not None:
        return _whole(requested, "trainer.threads"), "trainer.threads"
    if environ.get("OMP_NUM_THREADS"):
        return _whole(environ["OMP_NUM_THREADS"], "OMP_NUM_THREADS"), "OMP_NUM_THREADS"
    threads = max(1, cores // together)
    return threads, f"{cores} usable cores / {together} run{'s' if together > 1 else ''} launched together"


def hydra_launcher_jobs() -> int | None:
    """``hydra.launcher.n_jobs`` of the running Hydra job (joblib's parallel trials), else None."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    jobs = HydraConfig.get().launcher.get("n_jobs")
    return int(jobs) if jobs is not None else None


def apply_thread_policy(requested: int | None) -> str:
    """Set PyTorch's intra-op threads by the policy; the line to log ("threads: 1 (OMP_NUM_THREADS)")."""
    cores = usable_cores()
    threads, why = choose_threads(requested, cores, runs_together(launcher_jobs=hydra_launcher_jobs(), cores=cores))
    torch.set_num_threads(threads)
    return f"threads: {threads} ({why})"
