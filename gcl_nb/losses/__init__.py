"""Losses: score-to-weight functions and batch rescalings (`weights`) and the GCL loss (`gcl_loss`)."""

from gcl_nb.losses.gcl_loss import GCLLoss, gcl_loss
from gcl_nb.losses.weights import RESCALINGS, STW_PRESETS, get_rescaling, get_stw

__all__ = ["GCLLoss", "gcl_loss", "get_stw", "get_rescaling", "STW_PRESETS", "RESCALINGS"]
