"""Training that diverges stops at once, saying so, instead of failing later in the metrics.

Checked during each epoch: the unscaled training loss of every step, and the validation
predictions. With fp16 the gradient scaler skips the steps whose *scaled* gradients
overflow and lowers its scale; those steps leave the weights as they were and are not
divergence. An unscaled loss that is itself NaN or infinite is beyond the scaler: the
weights or the activations have already blown up, and every later epoch would only burn
time (a GPU job on a cluster). The checkpoint of the last finite epoch is left in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


class TrainingDiverged(RuntimeError):
    """Non-finite training loss or validation predictions; the message says where and what to change."""


@dataclass(frozen=True)
class EpochGuard:
    """Where training is (epoch, stage, phase), to stop it there when a value is not finite."""

    epoch: int
    stage: int
    phase: str
    fp16: bool
    checkpoint: Path | None

    def check(
        self,
        what: str,
        values: torch.Tensor | np.ndarray | float,
        optimizer: torch.optim.Optimizer,
        step: int | None = None,
    ) -> None:
        """Raise :class:`TrainingDiverged` unless every value of ``values`` is finite."""
        finite = (
            torch.isfinite(values).all()
            if isinstance(values, torch.Tensor)
            else np.isfinite(values).all()
        )
        if not bool(finite):
            raise TrainingDiverged(
                self.message(what, [group["lr"] for group in optimizer.param_groups], step)
            )

    def message(self, what: str, lrs: list[float], step: int | None) -> str:
        where = f"epoch {self.epoch}" + (f", step {step}" if step is not None else "")
        # Stage 1 trains the head alone at stage1.lr; stage 2 every layer group at stage2.lrs.
        rate_key = "train.stage1.lr" if self.stage == 1 else "train.stage2.lrs"
        fixes = [
            f"lower the learning rate ({rate_key})",
            "a larger train.batch_size (less noisy steps)",
        ]
        if self.fp16:
            fixes.append("train.amp: false (fp16 overflow; bf16 or fp32 instead)")
        if self.checkpoint is not None and self.checkpoint.exists():
            kept = (
                f"the checkpoint of the last finite epoch is kept for inspection: {self.checkpoint}"
            )
        else:
            kept = "no epoch finished with finite values, so there is no checkpoint"
        rates = ", ".join(f"{lr:.3g}" for lr in lrs)
        return (
            f"training diverged: non-finite {what} (NaN or inf) in {where}, stage {self.stage} ({self.phase}), "
            f"learning rates in force {rates} (layer groups, body to head). "
            f"Change: {'; or '.join(fixes)}. Then rerun; {kept}."
        )
