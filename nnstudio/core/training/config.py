"""Training settings: typed, with defaults and ranges, saved as the project's ``training`` object.

The same ``Param`` descriptions that layers use, so the GUI builds the training form from them and a bad value
is refused with a message naming the setting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from nnstudio.core.errors import TrainingError
from nnstudio.core.layers.base import Param

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("none", "step", "cosine", "plateau")
MONITORS = ("val_loss", "val_accuracy", "val_f1_macro", "val_mse", "val_mae", "val_r2", "train_loss")

# Every setting but ``device`` (a string: auto, cpu, cuda, cuda:N or mps; checked by training.device).
PARAMS: tuple[Param, ...] = (
    Param("optimizer", "choice", "adam", choices=OPTIMIZERS),
    Param("lr", "float", 1e-3, label="Learning rate", minimum=1e-8, maximum=10.0),
    Param("momentum", "float", 0.9, minimum=0.0, maximum=0.999, help="SGD and RMSprop"),
    Param("nesterov", "bool", False, label="Nesterov momentum", help="SGD only"),
    Param("batch_size", "int", 32, label="Batch size", minimum=1, maximum=65_536),
    Param("epochs", "int", 20, minimum=1, maximum=100_000),
    Param("l1", "float", 0.0, label="L1 penalty", minimum=0.0, maximum=1.0,
          help="Adds l1 * sum |w| over the weights to the loss"),
    Param("l2", "float", 0.0, label="L2 penalty (weight decay)", minimum=0.0, maximum=1.0,
          help="Weight decay; decoupled from the gradient with AdamW"),
    Param("grad_clip", "float", 0.0, label="Gradient clipping", minimum=0.0, maximum=1e6,
          help="Largest allowed gradient norm; 0 turns clipping off"),
    Param("schedule", "choice", "none", label="Learning-rate schedule", choices=SCHEDULES),
    Param("step_size", "int", 10, label="Step every (epochs)", minimum=1, maximum=100_000),
    Param("gamma", "float", 0.1, label="Step factor", minimum=1e-6, maximum=1.0),
    Param("plateau_patience", "int", 5, label="Plateau patience (epochs)", minimum=0, maximum=10_000),
    Param("plateau_factor", "float", 0.5, label="Plateau factor", minimum=1e-6, maximum=0.999),
    Param("early_stopping", "bool", False, label="Early stopping"),
    Param("monitor", "choice", "val_loss", choices=MONITORS),
    Param("patience", "int", 10, label="Patience (epochs)", minimum=0, maximum=100_000),
    Param("min_delta", "float", 0.0, label="Minimum change", minimum=0.0, maximum=1e6),
    Param("restore_best", "bool", True, label="Restore best weights"),
    Param("mixed_precision", "bool", False, label="Mixed precision (CUDA)"),
    Param("seed", "int", 0, minimum=0, maximum=2**31 - 1),
    Param("telemetry_every", "int", 20, label="Layer statistics every (steps)", minimum=1, maximum=1_000_000),
)


@dataclass
class TrainConfig:
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    batch_size: int = 32
    epochs: int = 20
    l1: float = 0.0
    l2: float = 0.0
    grad_clip: float = 0.0
    schedule: str = "none"
    step_size: int = 10
    gamma: float = 0.1
    plateau_patience: int = 5
    plateau_factor: float = 0.5
    early_stopping: bool = False
    monitor: str = "val_loss"
    patience: int = 10
    min_delta: float = 0.0
    restore_best: bool = True
    device: str = "auto"
    mixed_precision: bool = False
    seed: int = 0
    telemetry_every: int = 20

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "TrainConfig":
        """Settings from a project's ``training`` object; missing ones take defaults. Unknown names and bad
        values raise TrainingError naming the setting."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TrainingError(
                f"training setting {unknown[0]!r} is not known; known settings: {', '.join(sorted(known))}"
            )
        config = cls(**data)
        config.check()
        return config

    def check(self) -> None:
        if not isinstance(self.device, str) or not self.device:
            raise TrainingError(f"training setting 'device' must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}")
        for p in PARAMS:
            value = getattr(self, p.name)
            if p.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
                setattr(self, p.name, float(value))
                value = float(value)
            problem = p.check(value)
            if problem:
                raise TrainingError(f"training setting {p.name!r}: {problem}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, **changes: Any) -> "TrainConfig":
        """A copy with some settings changed (None values are ignored), checked."""
        data = self.to_dict()
        data.update({k: v for k, v in changes.items() if v is not None})
        return TrainConfig.from_dict(data)
