"""Unrolled GAN (Metz et al. 2017): the generator's loss through k look-ahead updates of the discriminator.

    θ_D^0 = θ_D,   θ_D^{i+1} = θ_D^i − η ∇_θ L_D(θ_D^i; x, G(z))      (k differentiable SGD steps, create_graph)
    G's loss  L_G(D(G(z); θ_D^k)),  differentiated *through* the k updates (they depend on G via G(z)).

The look-ahead runs on copies of D's parameters and buffers with :func:`torch.func.functional_call`, so D itself
(weights, batch-norm and spectral-norm buffers) is exactly as it was; D's own update is the ordinary D step.
L_D is the model's full ``discriminator_loss`` (penalties and ACGAN's class loss included) on the critic step's
last real batch. k = 0 is the plain rule. Switch on with ``model.unroll_steps=k`` (``+remedy=unrolled``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call


class _Call(nn.Module):
    """Owns D (so functional_call can swap its tensors) and runs ``fn`` while they are swapped."""

    def __init__(self, discriminator: nn.Module, fn: Callable):
        super().__init__()
        self.d, self.fn = discriminator, fn

    def forward(self, *args):
        return self.fn(*args)


def unrolled_critic(model, real: Tensor, fake: Tensor, labels: Tensor, steps: int, lr: float) -> Tensor:
    """D(fake) with D's weights after ``steps`` differentiable SGD steps of lr ``lr`` on the model's D loss."""
    d = model.discriminator
    params = {f"d.{n}": p.detach().requires_grad_(True) for n, p in d.named_parameters()}
    buffers = {f"d.{n}": b.clone() for n, b in d.named_buffers()}
    loss_of = _Call(d, lambda r, f, y: model.discriminator_loss(r, f, y)[0])
    with torch.enable_grad():
        for _ in range(steps):
            loss = functional_call(loss_of, params | buffers, (real, fake, labels))
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True, allow_unused=True)
            params = {n: p if g is None else p - lr * g for (n, p), g in zip(params.items(), grads)}
        return functional_call(_Call(d, model.critic), params | buffers, (fake, labels))
