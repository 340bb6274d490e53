"""Step accounting. A training step is ``n_critic`` critic updates and one generator update, and Lightning's
``global_step`` counts every optimiser step, so it advances by ``n_critic + 1`` per generator step. gan_lab's
configs and logs count generator steps; these two functions convert, and are the only place that knows the rule."""

from __future__ import annotations


def optimizer_steps(g_steps: int, n_critic: int) -> int:
    """Lightning's step count after ``g_steps`` generator steps."""
    return int(g_steps) * (int(n_critic) + 1)


def generator_steps(global_step: int, n_critic: int) -> int:
    """Generator steps completed by Lightning's step ``global_step``."""
    return int(global_step) // (int(n_critic) + 1)
