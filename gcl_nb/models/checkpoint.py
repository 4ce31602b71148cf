"""Checkpoints in open_clip's format: `checkpoint.pt` (a plain open_clip state_dict) + `config.json` beside it.

`config.json` = {"encoder": EncoderConfig as a dict, ...extra (e.g. the training config)}. Files are
written atomically (gcl_nb.data.atomic_files: temporary file + rename), loaded with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from gcl_nb.data.atomic_files import atomic_torch_save, atomic_write_json
from gcl_nb.data.schema import DataError
from gcl_nb.models.factory import build_encoder
from gcl_nb.models.multifield import EncoderConfig, MultiFieldEncoder

CHECKPOINT_NAME = "checkpoint.pt"
CONFIG_NAME = "config.json"


def checkpoint_file(path: str | Path) -> Path:
    """`path` itself if it names a file, else `path/checkpoint.pt` (a run directory)."""
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() or not path.suffix else path


def save_checkpoint(encoder: MultiFieldEncoder, path: str | Path, extra: Optional[dict] = None) -> Path:
    """Write `encoder.clip.state_dict()` to `path` (file or run dir) and config.json beside it; returns the file."""
    file = checkpoint_file(path)
    state = {k: v.detach().cpu() for k, v in encoder.clip.state_dict().items()}
    atomic_torch_save(state, file)
    atomic_write_json({"encoder": encoder.config.to_dict(), **(extra or {})}, file.parent / CONFIG_NAME)
    return file


def read_config(path: str | Path) -> dict:
    """The config.json beside a checkpoint (file or run dir)."""
    config_path = checkpoint_file(path).parent / CONFIG_NAME
    if not config_path.is_file():
        raise DataError(
            f"{config_path} is missing: a checkpoint needs the config.json written beside it by "
            "save_checkpoint (or pass config=EncoderConfig(...) to load_encoder)"
        )
    try:
        return json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{config_path} is not valid JSON ({err}); re-save the checkpoint") from err


def load_encoder(
    path: str | Path, config: Optional[EncoderConfig] = None, device: str | torch.device = "cpu"
) -> MultiFieldEncoder:
    """Rebuild the encoder saved at `path` (checkpoint file or run dir); `config` overrides config.json's.
    A missing, unreadable or mismatching checkpoint raises DataError naming the file."""
    file = checkpoint_file(path)
    if not file.is_file():
        raise DataError(
            f"no checkpoint at {file}: give a run directory written by `gcl-nb train` or its {CHECKPOINT_NAME}"
        )
    if config is None:
        saved = read_config(file).get("encoder")
        try:
            config = EncoderConfig.from_dict(saved)
        except (TypeError, ValueError) as err:
            raise DataError(
                f"{file.parent / CONFIG_NAME}: its 'encoder' entry is not an EncoderConfig ({err}); "
                "re-save the checkpoint with save_checkpoint"
            ) from None
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, random bytes, pickled objects beyond tensors
        raise DataError(
            f"{file} is not a readable checkpoint (corrupt, truncated, or not saved by "
            f"save_checkpoint): {type(err).__name__}: {str(err)[:200]}"
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"{file} does not hold a state_dict of tensors; re-save it with save_checkpoint")
    encoder = build_encoder(config.replace(pretrained=None), device=device)
    try:
        encoder.clip.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise DataError(
            f"{file} does not fit architecture {config.arch!r} (text tower {config.text_tower!r}, "
            f"image size {config.image_size}): {str(err)[:300]}"
        ) from err
    encoder.config = config
    return encoder
