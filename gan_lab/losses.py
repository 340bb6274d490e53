"""GAN objectives and regularisers as small pure functions.

Discriminator losses take the critic's raw outputs (logits) on a real and a fake batch; generator losses
take them on a fake batch. Penalties take a critic output and the input it was computed from (which must
require grad), so the module decides where each is evaluated (interpolates for GP, real data for R1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# --- Objectives ------------------------------------------------------------------------------------------


def d_bce(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))] with D = sigmoid(logit): the original GAN discriminator."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_minimax(fake_logits: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))], minimised: the original minimax generator loss (saturates early in training)."""
    return -F.softplus(fake_logits).mean()


def g_nonsaturating(fake_logits: Tensor) -> Tensor:
    """-E[log D(G(z))]: the non-saturating generator loss of Goodfellow et al. (2014), used by DCGAN."""
    return F.softplus(-fake_logits).mean()


def d_wasserstein(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """E[D(G(z))] - E[D(x)]: the negated Wasserstein estimate, minimised by the critic."""
    return fake_out.mean() - real_out.mean()


def g_wasserstein(fake_out: Tensor) -> Tensor:
    return -fake_out.mean()


def d_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_hinge(fake_logits: Tensor) -> Tensor:
    return -fake_logits.mean()


def d_least_squares(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """LSGAN (Mao et al. 2017), targets b=1 for real and a=0 for fake: ½E[(D(x)-1)²] + ½E[D(G(z))²]."""
    return 0.5 * (real_out - 1).pow(2).mean() + 0.5 * fake_out.pow(2).mean()


def g_least_squares(fake_out: Tensor) -> Tensor:
    """½E[(D(G(z)) - c)²] with c = 1."""
    return 0.5 * (fake_out - 1).pow(2).mean()


# --- Penalties -------------------------------------------------------------------------------------------


def random_interpolates(real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """x̂ = α·x + (1-α)·x̃ with one α ~ U[0, 1] per sample (not per pixel), ready for an input gradient."""
    alpha = torch.rand((len(real),) + (1,) * (real.ndim - 1), device=real.device, dtype=real.dtype, generator=generator)
    return torch.lerp(fake.detach().to(real.dtype), real.detach(), alpha).requires_grad_(True)  # bf16 G: real dtype


def input_gradient_norm(outputs: Tensor, inputs: Tensor) -> Tensor:
    """‖∇ₓ D(x)‖₂ per sample, kept differentiable (create_graph) so a penalty on it trains the critic."""
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.flatten(1).norm(2, dim=1)


def gradient_penalty(outputs: Tensor, inputs: Tensor) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(‖∇D(x̂)‖₂ - 1)²] on interpolates x̂."""
    return (input_gradient_norm(outputs, inputs) - 1).pow(2).mean()


def one_sided_gradient_penalty(outputs: Tensor, inputs: Tensor) -> Tensor:
    """E[max(0, ‖∇D(x̂)‖₂ - 1)²]: penalises only gradients steeper than 1 (the Lipschitz bound itself)."""
    return F.relu(input_gradient_norm(outputs, inputs) - 1).pow(2).mean()


def r1_penalty(real_outputs: Tensor, real: Tensor | list[Tensor]) -> Tensor:
    """R1 (Mescheder et al. 2018): E[‖∇ₓ D(x)‖₂²] on real data; the module weighs it by γ/2. ``real`` may be one
    batch per stage (a multi-branch critic): ‖∇ₓ D‖² then sums over every stage's pixels."""
    inputs = real if isinstance(real, list) else [real]
    grads = torch.autograd.grad(real_outputs.sum(), inputs, create_graph=True)
    return sum(g.flatten(1).pow(2).sum(1) for g in grads).mean()


def orthogonal_regularization(module: nn.Module) -> Tensor:
    """BigGAN's orthogonal regulariser: Σ_W ‖W Wᵀ ⊙ (1 - I)‖²_F over every weight matrix/kernel of ``module``
    (each reshaped to (out, fan_in)); biases, normalisation parameters and embedding tables (BigGAN leaves its
    shared class embedding out; class gains and biases are tables too) are left out."""
    tables = {id(p) for m in module.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    total = None
    for name, w in module.named_parameters():
        if w.ndim < 2 or not name.endswith(("weight", "weight.original")) or id(w) in tables:  # .original: SN's W
            continue
        w = w.flatten(1)
        gram = w @ w.T
        term = (gram * (1 - torch.eye(len(gram), device=w.device, dtype=w.dtype))).pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("orthogonal_regularization: the module has no weight matrices")
    return total
