"""Losses: score-to-weight functions (`weights`) and the GCL loss (`gcl_loss`)."""
from gcl_nb.losses.gcl_loss import GCLLoss, gcl_loss
from gcl_nb.losses.weights import STW_FUNCTIONS, get_stw

__all__ = ["GCLLoss", "gcl_loss", "get_stw", "STW_FUNCTIONS"]
