"""Where an open_clip model's architecture and starting weights come from, resolved as open_clip resolves them.

An architecture (`arch`) is a packaged config (`gcl-rn-tiny`, ...), an open_clip name (`ViT-B-32`), or one of
open_clip's schemas: `hf-hub:ORG/NAME` (config and weights from the Hugging Face hub, through its cache) and
`local-dir:PATH` (a folder in open_clip's hub layout, e.g. one written by `gcl-nb export`). Weights
(`pretrained`, for an architecture without schema) are None (random init), a local checkpoint file (a state_dict
or an open_clip training checkpoint, such as the paper's released "full states" files), or an open_clip
pretrained tag (`laion2b_s34b_b79k`). Downloads go through open_clip's own code into `cache_dir` (None: the usual
Hugging Face cache); with HF_HUB_OFFLINE set, only what is cached is found. Every failure is a SettingError
naming the model and what to do.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

import open_clip
from huggingface_hub import constants as hf_constants
from open_clip.factory import _find_checkpoint_in_dir, parse_model_name
from open_clip.pretrained import download_pretrained, download_pretrained_from_hf

from gcl_nb.data.schema import SettingError

HUB_CONFIG_NAME = "open_clip_config.json"
#: the key of open_clip_config.json under which an exported model keeps its fields and fusion weights
WORKBENCH_KEY = "gcl_nb"


def _not_available(name: str, cache_dir: Optional[str], err: Exception) -> SettingError:
    """The one-line error for a hub file that could not be found or downloaded."""
    cache = cache_dir or hf_constants.HF_HUB_CACHE
    if hf_constants.HF_HUB_OFFLINE:
        return SettingError(
            f"model {name}: not in the Hugging Face cache {cache} and HF_HUB_OFFLINE is set, so nothing is "
            "downloaded; pass a local checkpoint file (--model FILE --arch ARCH), point --model-cache-dir at a "
            "cache holding it, or unset HF_HUB_OFFLINE on a machine with a network"
        )
    first_line = (str(err).splitlines() or [type(err).__name__])[0][:200]
    return SettingError(
        f"model {name}: could not be downloaded into {cache} ({first_line}); check the name and the network, "
        "or pass a local checkpoint file (--model FILE --arch ARCH)"
    )


def hub_config(arch: str, cache_dir: Optional[str] = None) -> Optional[dict]:
    """The whole open_clip_config.json of a `hf-hub:` or `local-dir:` architecture (None for other names)."""
    schema, identifier = parse_model_name(arch)
    if schema == "local-dir":
        path = Path(identifier) / HUB_CONFIG_NAME
        if not path.is_file():
            raise SettingError(
                f"model {arch}: {path} not found; a local-dir: folder needs open_clip's hub layout "
                f"({HUB_CONFIG_NAME} and the weights, as `gcl-nb export` writes it)"
            )
    elif schema == "hf-hub":
        try:
            path = Path(download_pretrained_from_hf(identifier, filename=HUB_CONFIG_NAME, cache_dir=cache_dir))
        except Exception as err:  # huggingface_hub's errors for offline, unknown repo, network
            raise _not_available(arch, cache_dir, err) from None
    else:
        return None
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SettingError(f"model {arch}: {path} is not readable JSON ({err})") from None
    if not isinstance(config, dict) or "model_cfg" not in config:
        raise SettingError(f"model {arch}: {path} has no 'model_cfg'; it is not an open_clip model config")
    return config


def model_config(arch: str, cache_dir: Optional[str] = None) -> dict:
    """open_clip's model config (embed_dim, vision_cfg, text_cfg) of `arch`; SettingError for an unknown name."""
    config = hub_config(arch, cache_dir)
    if config is not None:
        return config["model_cfg"]
    model_cfg = open_clip.get_model_config(arch)
    if model_cfg is None:
        raise SettingError(
            f"arch={arch!r}: unknown architecture; use a packaged config (gcl-rn-tiny, gcl-tiny, gcl-small), an "
            "open_clip name such as ViT-B-32 (open_clip.list_models()), hf-hub:ORG/NAME or local-dir:PATH"
        )
    return model_cfg


def check_pretrained(arch: str, pretrained: Optional[str]) -> None:
    """SettingError unless `pretrained` is None, an existing file or an open_clip tag of `arch`."""
    if pretrained is None or Path(pretrained).is_file():
        return
    if parse_model_name(arch)[0] is not None:
        raise SettingError(
            f"pretrained={pretrained!r}: {arch} brings its own weights; leave pretrained unset for a hub model"
        )
    if not open_clip.get_pretrained_cfg(arch, pretrained):
        tags = open_clip.list_pretrained_tags_by_model(arch)
        known = f"its open_clip tags: {', '.join(tags)}" if tags else "open_clip has no pretrained tags for it"
        raise SettingError(
            f"pretrained={pretrained!r}: neither a file nor an open_clip pretrained tag of {arch} ({known}); "
            "pass a local checkpoint file, a tag, or nothing for random init"
        )


def weights_file(arch: str, pretrained: Optional[str], cache_dir: Optional[str] = None) -> Optional[Path]:
    """The local file holding the weights `arch` + `pretrained` start from, downloaded as open_clip does when
    online (None: random init). SettingError when it is neither cached nor downloadable."""
    check_pretrained(arch, pretrained)
    schema, identifier = parse_model_name(arch)
    if schema == "local-dir":
        hub_config(arch)
        found = _find_checkpoint_in_dir(Path(identifier))
        if found is None:
            raise SettingError(f"model {arch}: no weights file (*.safetensors, *.bin, *.pth) in {identifier}")
        return Path(found)
    if schema == "hf-hub":
        hub_config(arch, cache_dir)
        try:
            return Path(download_pretrained_from_hf(identifier, cache_dir=cache_dir))
        except Exception as err:
            raise _not_available(arch, cache_dir, err) from None
    if pretrained is None:
        return None
    if Path(pretrained).is_file():
        return Path(pretrained)
    try:
        return Path(download_pretrained(open_clip.get_pretrained_cfg(arch, pretrained), cache_dir=cache_dir))
    except Exception as err:
        raise _not_available(f"{arch} {pretrained}", cache_dir, err) from None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe_start(arch: str, pretrained: Optional[str], cache_dir: Optional[str] = None) -> dict:
    """Where a model's starting weights came from, for the run record: the names, the file, its sha256 and, for a
    file from the Hugging Face cache, the hub revision (the snapshot's commit)."""
    file = weights_file(arch, pretrained, cache_dir)
    record = {"arch": arch, "pretrained": pretrained, "file": None, "sha256": None, "revision": None}
    if file is None:
        return {**record, "weights": "random init"}
    resolved = file.resolve()
    parts = Path(file).parts
    revision = parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None
    digest = file_sha256(resolved)
    return {**record, "weights": "pretrained", "file": str(resolved), "sha256": digest, "revision": revision}
