"""The hyperparameter search space of `tuneloop tune`: ranges and choices, checked when made."""

import math
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:  # the settings import this module: keep `tuneloop --help` free of Optuna
    import optuna

# TRL's pairwise DPO losses that need no further option (exo_pair wants label smoothing, the
# aot losses a batch layout); "sft" is not here: it is the SFT term, weighted by sft_weight.
DpoLoss = Literal["sigmoid", "sigmoid_norm", "hinge", "ipo", "robust", "nca_pair", "apo_zero"]


class Range(BaseModel):
    """Numbers from `low` to `high`, sampled on a log scale when `log` is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scale range must start above 0, not at {self.low}")
        return self

    def grid(self, points: int, *, integer: bool = False) -> list[float] | list[int]:
        """`points` evenly spaced values from low to high (on a log scale when `log` is set)."""
        if self.log:
            ratio = math.log(self.high / self.low)
            values = [self.low * math.exp(ratio * i / (points - 1)) for i in range(points)]
        else:
            values = [self.low + (self.high - self.low) * i / (points - 1) for i in range(points)]
        return sorted({round(v) for v in values}) if integer else values


class SearchSpace(BaseModel):
    """The training knobs a study searches; LoRA rank and alpha only when training adapters."""

    model_config = ConfigDict(extra="forbid")

    learning_rate: Range = Field(
        default=Range(low=1e-6, high=1e-3, log=True), description="DPO learning rates to try."
    )
    beta: Range = Field(
        default=Range(low=0.02, high=2.0, log=True), description="DPO betas to try."
    )
    num_train_epochs: Range = Field(
        default=Range(low=1, high=3), description="Epochs to try (whole numbers)."
    )
    sft_weight: Range = Field(
        default=Range(low=0.0, high=1.0), description="Weights of the SFT term to try."
    )
    loss_type: list[DpoLoss] = Field(
        default_factory=lambda: ["sigmoid", "ipo"],
        min_length=1,
        description="TRL DPO loss types to try: sigmoid, sigmoid_norm, hinge, ipo, robust, "
        "nca_pair, apo_zero.",
    )
    lora_rank: list[int] = Field(
        default_factory=lambda: [8, 16, 32],
        min_length=1,
        description="LoRA ranks to try, when trainer.lora_rank > 0 (adapters).",
    )
    lora_alpha: list[int] = Field(
        default_factory=lambda: [16, 32, 64],
        min_length=1,
        description="LoRA alphas to try, when trainer.lora_rank > 0 (adapters).",
    )

    @model_validator(mode="after")
    def _sensible(self) -> Self:
        for name in ("learning_rate", "beta"):
            if getattr(self, name).low <= 0:
                raise ValueError(f"{name} must be positive: low is {getattr(self, name).low}")
        if self.sft_weight.low < 0:
            raise ValueError(f"sft_weight cannot be negative: low is {self.sft_weight.low}")
        epochs = self.num_train_epochs
        if epochs.low < 1 or math.ceil(epochs.low) > math.floor(epochs.high):
            raise ValueError(
                f"num_train_epochs must hold a whole number >= 1: {epochs.low}-{epochs.high}"
            )
        if min(self.lora_rank) < 1 or min(self.lora_alpha) < 1:
            raise ValueError("LoRA ranks and alphas must be at least 1")
        return self

    @property
    def max_epochs(self) -> int:
        return math.floor(self.num_train_epochs.high)

    def suggest(self, trial: "optuna.Trial", *, adapters: bool) -> dict[str, Any]:
        """One trial's values, as TrainingPlan fields."""
        values = {
            name: trial.suggest_float(name, space.low, space.high, log=space.log)
            for name, space in self._floats().items()
        }
        epochs = self.num_train_epochs
        values["num_train_epochs"] = trial.suggest_int(
            "num_train_epochs", math.ceil(epochs.low), math.floor(epochs.high), log=epochs.log
        )
        for name, choices in self._choices(adapters=adapters).items():
            values[name] = trial.suggest_categorical(name, choices)
        return values

    def within(self, values: dict[str, Any], *, adapters: bool) -> dict[str, Any]:
        """Those of `values` (TrainingPlan fields) that this space can suggest."""
        inside = {
            name: values[name]
            for name, space in self._floats().items()
            if space.low <= values[name] <= space.high
        }
        epochs = values["num_train_epochs"]
        if (
            epochs == int(epochs)
            and self.num_train_epochs.low <= epochs <= self.num_train_epochs.high
        ):
            inside["num_train_epochs"] = int(epochs)  # trials train whole epochs
        return inside | {
            name: values[name]
            for name, choices in self._choices(adapters=adapters).items()
            if values[name] in choices
        }

    def grid(self, points: int, *, adapters: bool) -> dict[str, list]:
        """Every knob's values for the grid sampler: `points` per range, every choice."""
        grid: dict[str, list] = {name: space.grid(points) for name, space in self._floats().items()}
        grid["num_train_epochs"] = self.num_train_epochs.grid(points, integer=True)
        return grid | self._choices(adapters=adapters)

    def _floats(self) -> dict[str, Range]:
        return {
            "learning_rate": self.learning_rate,
            "beta": self.beta,
            "sft_weight": self.sft_weight,
        }

    def _choices(self, *, adapters: bool) -> dict[str, list]:
        choices: dict[str, list] = {"loss_type": list(self.loss_type)}
        if adapters:
            choices |= {"lora_rank": list(self.lora_rank), "lora_alpha": list(self.lora_alpha)}
        return choices
