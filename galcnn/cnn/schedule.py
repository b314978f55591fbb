"""The paper's two-stage learning-rate schedule, step by step (docs/paper.md, "Model and training").

Stage 1: body frozen, the head trained ``stage1.epochs`` at a constant
``stage1.lr`` (fastai 0.7 ``fit`` without ``cycle_len``). Stage 2: everything
trained with one learning rate per layer group (``stage2.lrs``), first
``stage2.epochs`` at constant rates, then SGDR: ``cycles`` cosine annealings
per mini-batch from the full rates towards 0, the first ``cycle_len`` epochs
long and each next ``cycle_mult`` times longer (1 + 2 + 4 epochs in the paper).

Each of the three phases was a separate fastai ``fit`` call, which builds a new
optimiser; :meth:`Schedule.phase` lets the trainer reset momentum at the same
points. fastai 0.7's cosine annealing also spends the first 5 % of the first
cycle at 1/100 of the rates (``CosAnneal``: ``iteration < nb/20``), the cosine's
clock running on meanwhile; ``stage2.warmup`` is that fraction (0.05 as the
authors trained, 0 to start every cycle at the full rates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STAGE1, CONSTANT, SGDR = "stage1", "stage2", "sgdr"


@dataclass(frozen=True)
class Schedule:
    steps_per_epoch: int
    stage1_epochs: int
    stage1_lr: float
    lrs: tuple[float, float, float]
    stage2_epochs: int
    cycles: int
    cycle_len: int
    cycle_mult: int
    warmup: float = 0.0

    def __post_init__(self):
        if not 0 <= self.warmup < 1:
            raise ValueError(
                f"stage2.warmup is {self.warmup}; it is a fraction of the first SGDR cycle, 0 <= warmup < 1"
            )
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"steps_per_epoch is {self.steps_per_epoch}; need at least one batch per epoch"
            )
        if len(self.lrs) != 3:
            raise ValueError(f"stage2.lrs needs one rate per layer group (3), got {list(self.lrs)}")
        if self.n_epochs < 1:
            raise ValueError(
                "the schedule has no epochs; set train.stage1.epochs or train.stage2 epochs/cycles"
            )

    @classmethod
    def from_settings(cls, train: dict, steps_per_epoch: int) -> Schedule:
        """From the config's ``train`` mapping (keys ``stage1`` and ``stage2``)."""
        s1, s2 = train["stage1"], train["stage2"]
        return cls(
            steps_per_epoch=int(steps_per_epoch),
            stage1_epochs=int(s1["epochs"]),
            stage1_lr=float(s1["lr"]),
            lrs=tuple(float(v) for v in s2["lrs"]),
            stage2_epochs=int(s2["epochs"]),
            cycles=int(s2["cycles"]),
            cycle_len=int(s2["cycle_len"]),
            cycle_mult=int(s2["cycle_mult"]),
            warmup=float(s2.get("warmup", 0.0)),  # absent in schedules that predate the key
        )

    @property
    def cycle_epochs(self) -> list[int]:
        return [self.cycle_len * self.cycle_mult**c for c in range(self.cycles)]

    @property
    def n_epochs(self) -> int:
        return self.stage1_epochs + self.stage2_epochs + sum(self.cycle_epochs)

    @property
    def n_steps(self) -> int:
        return self.n_epochs * self.steps_per_epoch

    def phase(self, epoch: int) -> str:
        """``stage1`` (body frozen), ``stage2`` (constant rates) or ``sgdr``."""
        if not 0 <= epoch < self.n_epochs:
            raise ValueError(f"epoch {epoch} is outside the schedule's 0..{self.n_epochs - 1}")
        if epoch < self.stage1_epochs:
            return STAGE1
        if epoch < self.stage1_epochs + self.stage2_epochs:
            return CONSTANT
        return SGDR

    def stage(self, epoch: int) -> int:
        return 1 if self.phase(epoch) == STAGE1 else 2

    def phase_starts(self, epoch: int) -> bool:
        return epoch == 0 or self.phase(epoch) != self.phase(epoch - 1)

    def cycle_bounds(self) -> list[tuple[int, int]]:
        """(first step, number of steps) of each SGDR cycle."""
        start = (self.stage1_epochs + self.stage2_epochs) * self.steps_per_epoch
        bounds = []
        for n in self.cycle_epochs:
            bounds.append((start, n * self.steps_per_epoch))
            start += n * self.steps_per_epoch
        return bounds

    def lrs_at(self, step: int) -> list[float]:
        """Learning rate of each layer group at global mini-batch ``step``.
        In stage 1 the frozen groups get 0 (they have no gradients anyway)."""
        epoch = step // self.steps_per_epoch
        phase = self.phase(epoch)
        if phase == STAGE1:
            return [0.0, 0.0, self.stage1_lr]
        if phase == CONSTANT:
            return list(self.lrs)
        bounds = self.cycle_bounds()
        if step - bounds[0][0] < self.warmup * bounds[0][1]:
            return [lr / 100.0 for lr in self.lrs]
        for first, length in bounds:
            if first <= step < first + length:
                # fastai 0.7 CosAnneal: lr/2 · (1 + cos(π t / T)), t = 0..T−1.
                factor = 0.5 * (1.0 + math.cos(math.pi * (step - first) / length))
                return [lr * factor for lr in self.lrs]
        raise AssertionError(f"step {step} is in no SGDR cycle")
