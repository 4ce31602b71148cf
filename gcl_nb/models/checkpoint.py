"""Checkpoints in open_clip's format: `checkpoint.pt` (a plain open_clip state_dict) + `config.json` beside it.

`config.json` = {"encoder": EncoderConfig as a dict, ...extra (e.g. the training config)}. Files are
written atomically (gcl_nb.data.atomic_files: temporary file + rename), loaded with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import torch

from gcl_nb.data.atomic_files import atomic_torch_save, atomic_write_json
from gcl_nb.data.schema import DataError, SettingError
from gcl_nb.models.factory import build_encoder
from gcl_nb.models.multifield import PAPER_RHS_WEIGHTS, EncoderConfig, FieldSpec, MultiFieldEncoder
from gcl_nb.models.sources import HUB_CONFIG_NAME, WORKBENCH_KEY, hub_config

CHECKPOINT_NAME = "checkpoint.pt"
CONFIG_NAME = "config.json"
#: written by train() at the end of a run: a run folder without it stopped early
SUMMARY_NAME = "summary.json"
#: the official evaluator's document fields (right keys image_local, title; weights PAPER_RHS_WEIGHTS), the
#: default for a model without this project's config
OFFICIAL_RHS = ("image", "title")


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


def _run_encoder(file: Path, config: Optional[EncoderConfig], device, cache_dir, allow_partial: bool):
    """The encoder saved by save_checkpoint at `file` (config.json beside it; `config` overrides it)."""
    saved = read_config(file) if config is None or (file.parent / CONFIG_NAME).is_file() else {}
    if config is None:
        try:
            config = EncoderConfig.from_dict(saved.get("encoder"))
        except (TypeError, ValueError) as err:
            raise DataError(
                f"{file.parent / CONFIG_NAME}: its 'encoder' entry is not an EncoderConfig ({err}); "
                "re-save the checkpoint with save_checkpoint"
            ) from None
    steps = saved.get("train", {}).get("steps")
    partial = not (file.parent / SUMMARY_NAME).is_file() and None not in (steps, saved.get("step"))
    partial = partial and saved["step"] < steps  # train() saved its weights before the last step
    if partial and not allow_partial:
        raise DataError(
            f"{file.parent} is a training run that stopped at step {saved['step']} of {steps} (no "
            f"{SUMMARY_NAME}): finish it with `gcl-nb train --resume` and its "
            "settings, or load its last checkpoint on purpose (--allow-partial, load_encoder(allow_partial=True))"
        )
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, random bytes, pickled objects beyond tensors
        raise DataError(
            f"{file} is not a readable checkpoint (corrupt, truncated, or not saved by "
            f"save_checkpoint): {type(err).__name__}: {str(err)[:200]}"
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"{file} does not hold a state_dict of tensors; re-save it with save_checkpoint")
    encoder = build_encoder(config.replace(pretrained=None), device=device, cache_dir=cache_dir, load_weights=False)
    try:
        encoder.clip.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise DataError(
            f"{file} does not fit architecture {config.arch!r} (text tower {config.text_tower!r}, "
            f"image size {config.image_size}): {str(err)[:300]}"
        ) from err
    encoder.config = config
    encoder.source = {"name": str(file.parent), "kind": "run", "start": saved.get("start")}
    if partial:
        encoder.source["partial"] = f"stopped at step {saved['step']} of {steps}"
    return encoder


def load_encoder(
    model: str | Path | None = None,
    config: Optional[EncoderConfig] = None,
    device: str | torch.device = "cpu",
    *,
    arch: Optional[str] = None,
    pretrained: Optional[str] = None,
    rhs: Optional[Sequence[str]] = None,
    rhs_weights: Optional[Sequence[float]] = None,
    cache_dir: Optional[str] = None,
    allow_partial: bool = False,
    image_size: Optional[int] = None,
) -> MultiFieldEncoder:
    """The encoder `model` names, with its fields and fusion weights (`encoder.source` says where it came from).

    Args:
        model: a run folder written by `gcl-nb train` (or its checkpoint.pt); a folder in open_clip's hub layout
            (as `gcl-nb export` writes it), also as `local-dir:PATH`; `hf-hub:ORG/NAME`; an open_clip
            checkpoint file of architecture `arch` (a state_dict or open_clip's training checkpoint, keys
            possibly prefixed `module.`, as the paper's released "full states" files); or None with `arch`
            (and `pretrained`, a tag or file; none: random init).
        config: replaces a run folder's saved EncoderConfig.
        rhs, rhs_weights: document fields ("name[:kind]") and their fusion weights; default the model's own
            (a run's, an exported model's), else the official evaluator's (OFFICIAL_RHS, PAPER_RHS_WEIGHTS).
        cache_dir: the Hugging Face / open_clip download cache (None: the usual one).
        allow_partial: load a training run that stopped early (its last checkpoint; `encoder.source["partial"]`).
        image_size: the image side an open_clip checkpoint file was trained at, when not its architecture's own
            (a run folder or a hub model brings its own).
    SettingError / DataError (one line) for a name that does not resolve, a file that does not fit `arch`, a hub
    model neither cached nor downloadable.
    """
    if model is not None and (arch is not None or pretrained is not None):
        path = Path(str(model))
        if not path.is_file() or (path.parent / CONFIG_NAME).is_file():
            raise SettingError(
                f"model {model}: --arch/--pretrained name the architecture of an open_clip checkpoint file or "
                "the model itself; a run folder, hub model or exported folder brings its own"
            )
    source = _resolve(model, arch, pretrained, config is not None)
    if image_size is not None and source[0] != "open_clip":
        raise SettingError(
            f"image_size={image_size}: {model} brings its own image size; it applies to an open_clip checkpoint "
            "file (with --arch) or an --arch / --pretrained model"
        )
    if source[0] == "run":
        encoder = _run_encoder(source[1], config, device, cache_dir, allow_partial)
        if rhs is not None or rhs_weights is not None:
            encoder = _with_fields(encoder, rhs, rhs_weights)
        return encoder
    hub = hub_config(source[1], cache_dir) if source[0] == "hub" else None
    saved = (hub or {}).get(WORKBENCH_KEY, {})
    fields = [FieldSpec.parse(f) for f in rhs] if rhs is not None else None
    if fields is None and "rhs" in saved:
        fields = [FieldSpec(**f) for f in saved["rhs"]]
    if rhs_weights is None:
        rhs_weights = saved.get("rhs_weights") if rhs is None else None
        if rhs_weights is None and fields is None:
            rhs_weights = list(PAPER_RHS_WEIGHTS)
    config = EncoderConfig(
        arch=source[1],
        pretrained=source[2],
        rhs=fields or [FieldSpec.parse(f) for f in OFFICIAL_RHS],
        rhs_weights=None if rhs_weights is None else list(rhs_weights),
        text_tower=saved.get("text_tower", "clip"),
        image_size=image_size,
    )
    encoder = build_encoder(config, device=device, cache_dir=cache_dir)
    encoder.source = {
        "name": str(model) if model is not None else f"{arch} {pretrained or '(random init)'}",
        "kind": source[0],
        "start": saved.get("start"),
    }
    return encoder


def _resolve(model, arch: Optional[str], pretrained: Optional[str], configured: bool = False):
    """("run", checkpoint file, None) | ("hub", open_clip arch name, None) | ("open_clip", arch, weights file or tag).
    `configured`: an EncoderConfig is given, so a checkpoint file needs no config.json beside it."""
    if model is None:
        if arch is None:
            raise SettingError(
                "no model named: give a run folder, checkpoint file, hf-hub:ORG/NAME or local-dir:PATH "
                "(--model), or an architecture (--arch, with --pretrained TAG_OR_FILE)"
            )
        return "open_clip", arch, pretrained
    name = str(model)
    if name.startswith(("hf-hub:", "local-dir:")):
        return "hub", name, None
    path = Path(name)
    if path.is_dir() and (path / HUB_CONFIG_NAME).is_file() and not (path / CONFIG_NAME).is_file():
        return "hub", f"local-dir:{path}", None
    file = checkpoint_file(path)
    if file.is_file() and (configured or (file.parent / CONFIG_NAME).is_file()):
        return "run", file, None
    if path.is_file():
        if arch is None:
            raise SettingError(
                f"model {name}: an open_clip checkpoint without this project's config.json beside it; name its "
                "architecture with --arch (e.g. ViT-B-32), or give the run folder `gcl-nb train` wrote"
            )
        return "open_clip", arch, str(path)
    if path.is_dir():
        raise DataError(
            f"no checkpoint at {file}: give a run directory written by `gcl-nb train` (config.json + "
            f"{CHECKPOINT_NAME}), a folder in open_clip's hub layout ({HUB_CONFIG_NAME}), or a checkpoint file"
        )
    raise DataError(
        f"model {name}: no such file or folder; name a run folder, a checkpoint file (with --arch), "
        "hf-hub:ORG/NAME or local-dir:PATH"
    )


def _with_fields(encoder: MultiFieldEncoder, rhs, rhs_weights) -> MultiFieldEncoder:
    """The same towers with other document fields and/or fusion weights."""
    fields = [FieldSpec.parse(f) for f in rhs] if rhs is not None else encoder.config.rhs
    weights = rhs_weights if rhs_weights is not None or rhs is not None else encoder.config.rhs_weights
    config = encoder.config.replace(rhs=fields, rhs_weights=None if weights is None else list(weights))
    if config.uses_images and encoder.transform_eval is None:
        raise SettingError(f"rhs={rhs}: the model was built without an image tower's preprocessing")
    out = MultiFieldEncoder(
        config, encoder.clip, encoder.tokenizer, encoder.transform_train, encoder.transform_eval, encoder.embed_dim
    ).to(encoder.device)
    out.source = encoder.source
    return out
