"""A trained model out, in open_clip's hub layout: a folder plain open_clip (and the Hugging Face hub) loads.

    DIR/open_clip_config.json      {"model_cfg": ..., "preprocess_cfg": ..., "gcl_nb": fields, fusion, provenance}
    DIR/open_clip_model.safetensors  the open_clip state_dict (no pickle)
    DIR/README.md                  a model card: architecture, start, training, fusion, evaluation, how to load

`open_clip.create_model_and_transforms("local-dir:DIR")` loads it without this package (open_clip reads only
`model_cfg` and `preprocess_cfg`); `load_encoder(DIR)` / `--model local-dir:DIR` also restore the fields and fusion
weights. A model with the MiniLM text tower names it by its hub id (MINILM_HUB_ID) and carries its tokenizer files;
plain open_clip then reads the tower's Hugging Face config from the hub or the cache, as for any open_clip model
with a Hugging Face text tower. The folder is written under a temporary name and renamed: it is complete or absent.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Optional

import pandas as pd
from safetensors.torch import save_file

from gcl_nb.data.schema import SettingError
from gcl_nb.models.factory import MINILM_HUB_ID, minilm_text_cfg
from gcl_nb.models.multifield import MultiFieldEncoder
from gcl_nb.models.sources import HUB_CONFIG_NAME, WORKBENCH_KEY, model_config

WEIGHTS_NAME = "open_clip_model.safetensors"
CARD_NAME = "README.md"


def check_export_target(out_dir: str | Path) -> Path:
    """`out_dir` as a Path; SettingError when it exists and is not empty (nothing is overwritten)."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SettingError(f"--out {out}: exists and is not an empty folder; export into a new folder")
    return out


def hub_config_of(encoder: MultiFieldEncoder, training: Optional[dict] = None) -> dict:
    """The open_clip_config.json of `encoder`: its model and preprocess configs, and this project's entry (fields,
    fusion weights, where its weights came from, the training settings)."""
    config = encoder.config
    model_cfg = copy.deepcopy(model_config(config.arch))
    if config.image_size is not None:
        model_cfg["vision_cfg"]["image_size"] = config.image_size
    if config.text_tower == "minilm":  # named by its hub id; its tokenizer files go into the folder
        context_length = model_cfg["text_cfg"].get("context_length", 77)
        text_cfg = minilm_text_cfg(context_length, load_weights=False)
        model_cfg["text_cfg"] = {**text_cfg, "hf_model_name": MINILM_HUB_ID, "hf_tokenizer_name": MINILM_HUB_ID}
    source = getattr(encoder, "source", {}) or {}
    return {
        "model_cfg": model_cfg,
        "preprocess_cfg": dict(encoder.clip.visual.preprocess_cfg),
        WORKBENCH_KEY: {
            "lhs": [vars(f) for f in config.lhs],
            "rhs": [vars(f) for f in config.rhs],
            "lhs_weights": config.lhs_weights,
            "rhs_weights": config.rhs_weights,
            "text_tower": config.text_tower,
            "exported_from": source.get("name"),
            "start": source.get("start"),
            "train": training,
        },
    }


def model_card(name: str, hub_config: dict, results: Optional[pd.DataFrame]) -> str:
    """README.md of an exported model (Hugging Face model-card front matter, then the facts)."""
    entry, model_cfg = hub_config[WORKBENCH_KEY], hub_config["model_cfg"]
    train, start = entry.get("train") or {}, entry.get("start") or {}
    fields = ", ".join(f"{f['name']} ({f['kind']}) {w:g}" for f, w in zip(entry["rhs"], entry["rhs_weights"]))
    if start.get("weights") == "pretrained":
        started = f"{start['arch']} {start.get('pretrained') or ''}".strip() + f" (sha256 {start['sha256'][:16]}…"
        started += f", hub revision {start['revision']})" if start.get("revision") else ")"
    else:
        started = "random initialisation" if start else "not recorded"
    lines = [
        "---",
        "library_name: open_clip",
        "tags: [clip, generalized-contrastive-learning, gcl_nb, multi-modal-retrieval]",
        "---",
        f"# {name}",
        "",
        "A multi-modal retrieval model trained with Generalized Contrastive Learning (GCL: Zhu, Jung, Clark, "
        "[arXiv 2404.08535](https://arxiv.org/abs/2404.08535)) in the GCL workbench (`gcl_nb`), exported in "
        "open_clip's hub layout.",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | embed_dim {model_cfg['embed_dim']}, image size {model_cfg['vision_cfg'].get('image_size')}, "
        f"text context {model_cfg['text_cfg'].get('context_length')} |",
        f"| exported from | `{entry.get('exported_from')}` |",
        f"| starting weights | {started} |",
        f"| query fields | {', '.join(f['name'] for f in entry['lhs'])} |",
        f"| document fields, fusion weights | {fields} |",
    ]
    if train:
        settings = ("stw", "stw_rescale", "target", "same_query", "steps", "batch_size", "lr", "seed", "data", "split")
        lines.append("| training | " + ", ".join(f"{k}={train[k]}" for k in settings if k in train) + " |")
    lines += ["", "## Evaluation", ""]
    if results is None or results.empty:
        lines.append(
            "Not evaluated at export. `gcl-nb evaluate --model local-dir:DIR --data DATA` gives the Marqo-GS table."
        )
    else:
        rows = [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row] for row in results.to_numpy().tolist()]
        lines += ["| " + " | ".join(map(str, results.columns)) + " |", "|" + "---|" * len(results.columns)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += [
        "",
        "## Load it",
        "",
        "With open_clip alone (the document embedding is the weighted sum of the normalised field embeddings, "
        "renormalised):",
        "",
        "```python",
        "import open_clip",
        'model, _, preprocess = open_clip.create_model_and_transforms("local-dir:DIR")  # or hf-hub:ORG/NAME',
        'tokenizer = open_clip.get_tokenizer("local-dir:DIR")',
        "```",
        "",
        'With the workbench, fields and fusion weights included: `gcl_nb.models.load_encoder("DIR")`, or '
        "`gcl-nb evaluate --model local-dir:DIR --data DATA`.",
        "",
    ]
    return "\n".join(lines)


def export_model(
    encoder: MultiFieldEncoder,
    out_dir: str | Path,
    training: Optional[dict] = None,
    results: Optional[pd.DataFrame] = None,
) -> Path:
    """Write `encoder` into `out_dir` in open_clip's hub layout (see the module docstring); returns the folder.
    `training`: the run's TrainConfig as a dict; `results`: an evaluation table for the model card."""
    out = check_export_target(out_dir)
    config = hub_config_of(encoder, training)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        state = {k: v.detach().cpu().contiguous().clone() for k, v in encoder.clip.state_dict().items()}
        save_file(state, partial / WEIGHTS_NAME)
        (partial / HUB_CONFIG_NAME).write_text(json.dumps(config, indent=2, default=str) + "\n", encoding="utf-8")
        (partial / CARD_NAME).write_text(model_card(out.name, config, results), encoding="utf-8")
        if encoder.config.text_tower == "minilm":  # open_clip reads a local-dir: model's HF tokenizer from the folder
            encoder.tokenizer.tokenizer.tokenizer.save_pretrained(partial)
        if out.exists():
            out.rmdir()  # empty (check_export_target)
        partial.rename(out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out
