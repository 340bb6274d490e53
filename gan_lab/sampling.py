"""Sampling refined by the trained discriminator, reported apart from plain sampling.

- Discriminator rejection sampling (DRS; Azadi et al., ICLR 2019). For a BCE discriminator near its optimum
  the logit D̃(x) = log p_data(x)/p_g(x), so accepting a sample with probability exp(D̃(x) − D̃*) (D̃* the
  largest logit) turns p_g into p_data. DRS accepts with σ(F(x)),
  F(x) = D̃(x) − D̃* − log(1 − exp(D̃(x) − D̃* − ε)) − γ:
  with ε = γ = 0 that is exactly exp(D̃(x) − D̃*); γ shifts it (γ = the q-th percentile of F over a burn-in draw
  accepts more) and ε keeps the log finite. D̃* is estimated from the burn-in and raised whenever a larger logit
  appears.
- Discriminator optimal transport (DOT; Tanaka, NeurIPS 2019): each sample y = G(z) moves to the minimiser of
  ‖x − y + δ‖₂ − D(x)/K over x (K the critic's Lipschitz constant, estimated on real/fake pairs), by a few
  gradient steps from x = y.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def drs_acceptance(logits: Tensor, max_logit: float | Tensor, eps: float = 1e-6, gamma: float | Tensor = 0.0) -> Tensor:
    """σ(F(x)) of each logit, F = Δ − log(1 − exp(Δ − ε)) − γ with Δ = D̃(x) − D̃* (≤ 0)."""
    delta = (logits - max_logit).clamp(max=0.0)
    return torch.sigmoid(delta - torch.log1p(-torch.exp(delta - eps)) - gamma)


def drs_gamma(logits: Tensor, max_logit: float | Tensor, percentile: float, eps: float = 1e-6) -> Tensor:
    """γ as the ``percentile``-th percentile of F(x) over ``logits`` (the paper's dynamic shift: 95 → most
    samples of the burn-in are accepted with probability ≥ ½)."""
    delta = (logits - max_logit).clamp(max=0.0)
    return torch.quantile(delta - torch.log1p(-torch.exp(delta - eps)), percentile / 100)


@torch.no_grad()
def rejection_sample(
    draw: Callable[[int], Tensor],
    critic: Callable[[Tensor], Tensor],
    n: int,
    batch: int = 1000,
    burn_in: int = 10_000,
    percentile: float | None = None,
    eps: float = 1e-6,
    generator: torch.Generator | None = None,
    max_draws: int = 200,
) -> tuple[Tensor, float]:
    """``n`` samples kept by DRS from ``draw(batch)`` (G's samples) and ``critic`` (raw logits); (samples, the
    share of drawn samples accepted). ``percentile``: γ from the burn-in (None: γ = 0, plain rejection)."""
    logits = torch.cat([critic(draw(batch)).flatten() for _ in range(max(1, -(-burn_in // batch)))])
    max_logit = logits.max()
    gamma = drs_gamma(logits, max_logit, percentile, eps) if percentile is not None else 0.0
    kept, drawn = [], 0
    for _ in range(max_draws):
        x = draw(batch)
        out = critic(x).flatten()
        max_logit = torch.maximum(max_logit, out.max())
        p = drs_acceptance(out, max_logit, eps, gamma)
        u = torch.rand(p.shape, generator=generator, device=p.device)
        kept.append(x[u < p])
        drawn += len(x)
        if sum(len(k) for k in kept) >= n:
            break
    samples = torch.cat(kept)
    if len(samples) < n:
        raise RuntimeError(
            f"rejection sampling accepted {len(samples)} of {drawn} samples, fewer than {n}: "
            "raise max_draws or the percentile"
        )
    return samples[:n], len(samples) / drawn


@torch.no_grad()
def lipschitz_estimate(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, min_distance: float = 1e-3
) -> Tensor:
    """K = max over pairs |D(x) − D(y)| / ‖x − y‖₂ of a real and a fake batch (DOT's K_eff); pairs closer than
    ``min_distance`` are left out (on 2-D data a fake can land on a real point, and the ratio is then noise)."""
    d_real, d_fake = critic(real).flatten(), critic(fake).flatten()
    # exact differences, not the matmul shortcut, whose cancellation error inflates the ratio of close pairs
    distance = torch.cdist(real.flatten(1), fake.flatten(1), compute_mode="donot_use_mm_for_euclid_dist")
    ratio = (d_real[:, None] - d_fake[None, :]).abs() / distance.clamp_min(min_distance)
    return ratio[distance >= min_distance].max()


def dot_refine(
    critic: Callable[[Tensor], Tensor],
    y: Tensor,
    k: float | Tensor,
    steps: int = 30,
    lr: float = 0.01,
    delta: float = 1e-3,
    optimizer: str = "adam",
) -> Tensor:
    """Each sample moved to argmin_x ‖x − y + δ‖₂ − D(x)/K by ``steps`` steps of Adam (the paper's) or SGD, from
    x = y; D's parameters get no gradient."""
    y = y.detach()
    x = y.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr) if optimizer == "adam" else torch.optim.SGD([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        objective = (x - y + delta).flatten(1).norm(dim=1) - critic(x).flatten() / k
        (grad,) = torch.autograd.grad(objective.sum(), x)
        x.grad = grad
        opt.step()
    return x.detach()
