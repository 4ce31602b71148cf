"""Training: the configuration (`TrainConfig`), what a step needs (`build_training`), the loop (`train`,
`train_step`) and the run directory it writes."""

from gcl_nb.training.config import TrainConfig
from gcl_nb.training.loop import (
    TrainingSetup,
    build_training,
    epoch_batches,
    lr_at,
    make_loss,
    make_optimizer,
    train,
    train_step,
)

__all__ = [
    "TrainConfig",
    "TrainingSetup",
    "build_training",
    "make_loss",
    "train",
    "train_step",
    "make_optimizer",
    "lr_at",
    "epoch_batches",
]
