"""Model configs stored by checkpoints written before the parts existed, read as today's.

Until then GANModule took every optional piece as a flat argument (``gradient_penalty``/``gp_weight``,
``r1_weight``, ``ortho_weight``, ``ema_decay``/``ema_start``, ``lr_scheduler``, ``pack``, ``augment``,
``minibatch``, ``unroll_*``, ``seed``, ``d_probability``, ``channels_last``, ``torch_compile``,
``collapse_patience``). :func:`upgrade_model_config` moves them into ``stabilizers``, ``remedies`` and ``runtime``;
the weights' names did not change, so such a checkpoint loads as it was trained.
"""

from __future__ import annotations

from typing import Any

STABILIZERS = "gan_lab.models.stabilizers"
REMEDIES = "gan_lab.models.remedies"
RUNTIME = ("seed", "d_probability", "channels_last", "torch_compile", "collapse_patience")
FLAT = (
    "gradient_penalty",
    "gp_weight",
    "r1_weight",
    "ortho_weight",
    "ema_decay",
    "ema_start",
    "lr_scheduler",
    "pack",
    "augment",
    "minibatch",
    "unroll_steps",
    "unroll_lr",
    "unroll_rule",
) + RUNTIME


def upgrade_model_config(model: dict[str, Any]) -> dict[str, Any]:
    """``model`` (a plain dict) with the flat arguments of older checkpoints moved into their groups; a config
    already in today's layout is returned as it is."""
    if not any(key in model for key in FLAT):
        return model
    old = {key: model[key] for key in FLAT if key in model}
    model = {key: value for key, value in model.items() if key not in FLAT}
    if model.get("_target_") in (
        "gan_lab.models.StackGAN",
        "gan_lab.models.StackGANStageII",
        "gan_lab.models.StackGANv2",
    ):
        model.pop("d_loss", None)  # never used: the matching-aware critic
    stabilizers, remedies = dict(model.get("stabilizers") or {}), dict(model.get("remedies") or {})
    if old.get("gradient_penalty") is not None:
        stabilizers["gp"] = {
            "_target_": f"{STABILIZERS}.GradientPenalty",
            "penalty": old["gradient_penalty"],
            "weight": old.get("gp_weight", 10.0),
        }
    if old.get("r1_weight"):
        stabilizers["r1"] = {"_target_": f"{STABILIZERS}.R1", "gamma": old["r1_weight"]}
    if old.get("ortho_weight"):
        stabilizers["ortho"] = {"_target_": f"{STABILIZERS}.Orthogonal", "beta": old["ortho_weight"]}
    if old.get("ema_decay"):
        stabilizers["ema"] = {
            "_target_": f"{STABILIZERS}.EMA",
            "decay": old["ema_decay"],
            "start": old.get("ema_start", 0),
        }
    if old.get("lr_scheduler") is not None:
        stabilizers["lr_schedule"] = {"_target_": f"{STABILIZERS}.LRSchedule", "schedule": old["lr_scheduler"]}
    if (old.get("pack") or 1) > 1:
        remedies["pack"] = {"_target_": f"{REMEDIES}.Pack", "m": old["pack"]}
    if old.get("augment"):
        remedies["diffaugment"] = {"_target_": f"{REMEDIES}.DiffAugment", "policy": old["augment"]}
    if old.get("minibatch"):
        remedies["minibatch"] = {"_target_": f"{REMEDIES}.Minibatch", "kind": old["minibatch"]}
    if old.get("unroll_steps"):
        remedies["unrolled"] = {
            "_target_": f"{REMEDIES}.Unrolled",
            "steps": old["unroll_steps"],
            "lr": old.get("unroll_lr"),
            "rule": old.get("unroll_rule", "adam"),
        }
    runtime = {"_target_": "gan_lab.models.Runtime", **{key: old[key] for key in RUNTIME if key in old}}
    return model | {"stabilizers": stabilizers, "remedies": remedies, "runtime": runtime}
