"""The methods an experiment compares: named TrainConfig overrides, and the untrained references."""

from __future__ import annotations

from gcl_nb.data.schema import SettingError
from gcl_nb.models.multifield import PAPER_RHS_WEIGHTS

#: method name -> TrainConfig overrides. The first four are the paper comparison; the rest are ablations.
METHODS: dict[str, dict] = {
    "clip": {"stw": "constant"},
    "gcl-linear": {"stw": "linear"},
    "gcl-reciprocal": {"stw": "reciprocal"},
    "gcl-multipos": {"stw": "linear", "target": "multipos"},
    # same-query collisions (the presets sample batches of distinct queries): the paper's random batches, where
    # a batch's other rows of the query are negatives, and masking them out of the softmax instead
    "gcl-linear-random-batches": {"stw": "linear", "same_query": "none"},
    "gcl-linear-mask": {"stw": "linear", "same_query": "mask"},
    "clip-multipos": {"stw": "constant", "target": "multipos"},  # multi-positive without grades
    # document fields and their fusion (default: image and title, equal weights)
    "gcl-linear-image-only": {"stw": "linear", "rhs": ["image"]},
    "gcl-linear-title-only": {"stw": "linear", "rhs": ["title"]},
    "gcl-linear-fusion-paper": {"stw": "linear", "rhs_weights": list(PAPER_RHS_WEIGHTS)},
    # the title dropped from 5% (10%) of each batch's rows, so the image alone finds a product without title
    # (rates from a probe over 0.05 / 0.15 / 0.3 / 0.5: results/missing_fields_cpu.md)
    "gcl-linear-title-dropout": {"stw": "linear", "field_dropout": {"title": 0.05}},
    "gcl-linear-title-dropout-0.1": {"stw": "linear", "field_dropout": {"title": 0.1}},
    "gcl-linear-title-dropout-0.075": {"stw": "linear", "field_dropout": {"title": 0.075}},  # between the two
    # the image tower: the first default's vision transformer instead of the small ResNet
    "gcl-linear-vit": {"stw": "linear", "arch": "gcl-tiny", "image_size": 64},
    # text only, pretrained MiniLM text tower (the paper's e5 table), fine-tuned at a pretrained model's lr
    "minilm-clip": {"stw": "constant", "text_tower": "minilm", "rhs": ["title"], "lr": 1e-4},
    "minilm-gcl-linear": {"stw": "linear", "text_tower": "minilm", "rhs": ["title"], "lr": 1e-4},
    "minilm-gcl-multipos": {
        "stw": "linear",
        "target": "multipos",
        "text_tower": "minilm",
        "rhs": ["title"],
        "lr": 1e-4,
    },
}
#: untrained encoders (evaluated as built: the architecture of the named method) and BM25 over titles.
#: `pretrained` is where every fine-tune starts (the experiment's arch and pretrained weights; without pretrained
#: weights, the same random init as `random-init`), so a fine-tune is shown against its start; `random-init` is
#: the architecture with random weights whatever the start (chance level).
UNTRAINED_ENCODERS = {"pretrained": "clip", "random-init": "clip", "minilm-zeroshot": "minilm-clip"}
UNTRAINED = ("bm25", *UNTRAINED_ENCODERS)
PAPER_METHODS = ("clip", "gcl-linear", "gcl-reciprocal", "gcl-multipos")


def check_methods(methods) -> None:
    """SettingError naming the methods that are neither trained (METHODS) nor untrained (UNTRAINED)."""
    unknown = [m for m in methods if m not in METHODS and m not in UNTRAINED]
    if unknown:
        raise SettingError(f"unknown method(s) {unknown}: choose from {', '.join([*METHODS, *UNTRAINED])}")
