"""Training: the configuration (`TrainConfig`), the loop (`train`, `train_step`) and the run directory it writes."""
from gcl_nb.training.config import TrainConfig
from gcl_nb.training.loop import epoch_batches, lr_at, make_optimizer, train, train_step

__all__ = ["TrainConfig", "train", "train_step", "make_optimizer", "lr_at", "epoch_batches"]
