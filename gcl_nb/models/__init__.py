"""Multi-field open_clip encoders: packaged configs, the factory, fusion, open_clip-format checkpoints."""

from gcl_nb.models.checkpoint import load_encoder, save_checkpoint
from gcl_nb.models.factory import PACKAGED_ARCHS, build_encoder
from gcl_nb.models.multifield import EncoderConfig, FieldSpec, MultiFieldEncoder

__all__ = [
    "build_encoder",
    "load_encoder",
    "save_checkpoint",
    "EncoderConfig",
    "FieldSpec",
    "MultiFieldEncoder",
    "PACKAGED_ARCHS",
]
