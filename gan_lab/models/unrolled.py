"""Unrolled GAN (Metz et al. 2017): the generator's loss through k look-ahead updates of the discriminator.

    θ_D^0 = θ_D,   θ_D^{i+1} = θ_D^i − step(∇_θ L_D(θ_D^i; x, G(z)))    (k differentiable steps)
    G's loss  L_G(D(G(z); θ_D^k)),  differentiated *through* the k updates (they depend on G via G(z)).

``step`` is Adam's update continuing from D's own optimiser state (its moments and step count, as the paper's
code unrolls D's Adam; β, ε from that optimiser), or plain SGD ``lr·g`` (``rule="sgd"``). The look-ahead runs on
copies of D's parameters and buffers with :func:`torch.func.functional_call`, so D itself (weights, batch-norm
and spectral-norm buffers, optimiser state) is exactly as it was; D's own update is the ordinary D step. L_D is
the model's full ``discriminator_loss`` (penalties, ACGAN's class loss) on the critic step's last real batch.
k = 0 is the plain rule. Switch on with ``+remedy=unrolled`` (``model.remedies.unrolled.steps=k``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from gan_lab.errors import ConfigError
from gan_lab.models.parts import Critique, Draw, Reals

RULES = ("adam", "sgd")


class _Call(nn.Module):
    """Owns D (so functional_call can swap its tensors) and runs ``fn`` while they are swapped."""

    def __init__(self, discriminator: nn.Module, fn: Callable):
        super().__init__()
        self.d, self.fn = discriminator, fn

    def forward(self, *args):
        return self.fn(*args)


def _adam_state(optimizer, params: list[Tensor]) -> tuple[list, float, float, float]:
    """(per parameter: (exp_avg, exp_avg_sq, steps taken) or None), β1, β2, ε of an Adam-family optimiser."""
    group = optimizer.param_groups[0]
    beta1, beta2 = group.get("betas", (0.9, 0.999))
    states = []
    for p in params:
        s = optimizer.state.get(p, {})
        states.append((s["exp_avg"], s["exp_avg_sq"], float(s["step"])) if "exp_avg" in s else None)
    return states, beta1, beta2, group.get("eps", 1e-8)


def unrolled_critic(
    model,
    real: Reals,
    fake: Draw,
    steps: int,
    lr: float,
    rule: str = "adam",
    optimizer: torch.optim.Optimizer | None = None,
) -> Critique:
    """D(fake) with D's weights after ``steps`` differentiable look-ahead steps on the model's D loss.

    ``optimizer``: D's optimiser, whose Adam state the ``adam`` rule continues (fresh moments when it has none).
    """
    if rule not in RULES:
        raise ConfigError(f"unknown unroll rule {rule!r}: use one of {RULES}")
    d = model.discriminator
    named = list(d.named_parameters())
    params = {f"d.{n}": p.detach().requires_grad_(True) for n, p in named}
    buffers = {f"d.{n}": b.clone() for n, b in d.named_buffers()}
    if rule == "adam":
        if optimizer is None:
            raise ConfigError("the adam unroll rule needs D's optimiser")
        states, beta1, beta2, eps = _adam_state(optimizer, [p for _, p in named])
        moments = [
            (s[0].detach(), s[1].detach(), s[2]) if s else (torch.zeros_like(p), torch.zeros_like(p), 0.0)
            for s, (_, p) in zip(states, named)
        ]
    loss_of = _Call(d, lambda r, f: model.discriminator_loss(r, f)[0])
    with torch.enable_grad():
        for _ in range(steps):
            loss = functional_call(loss_of, params | buffers, (real, fake))
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True, allow_unused=True)
            new = {}
            for i, ((n, p), g) in enumerate(zip(params.items(), grads)):
                if g is None:
                    new[n] = p
                elif rule == "sgd":
                    new[n] = p - lr * g
                else:
                    m, v, t = moments[i]
                    m, v, t = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g, t + 1
                    moments[i] = (m, v, t)
                    v_hat = v / (1 - beta2**t)
                    # √ with a floor: its derivative at v = 0 would be infinite
                    new[n] = p - lr * (m / (1 - beta1**t)) / ((v_hat + 1e-30).sqrt() + eps)
            params = new
        return functional_call(_Call(d, model.judge), params | buffers, (fake.images, fake.condition))
