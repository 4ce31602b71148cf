"""Named presets: one name (smoke / cpu / gpu) picks a SynthShop size and a training budget that fit together.

A preset is data: the TrainConfig fields it changes from TrainConfig's defaults, which are the `cpu` preset
(the default every user gets): TRAIN_PRESETS. The SynthShop sizes of the same names are SYNTHSHOP_PRESETS
(gcl_nb.data.synthshop.presets), in the same style.
- `smoke`: seconds on a laptop core, for CI and notebook tests (32 px, a dozen steps).
- `cpu`:   the default, a few minutes per run on 2 cores: gcl-rn-tiny (a small ResNet image tower; the vision
           transformer of `gcl-tiny` barely learns at this size, results/image_tower_diagnosis.md), 64 px,
           batch 128 of distinct queries, 600 steps (5 epochs; batch 128 over 64 lifts ERR above BM25's,
           results/default_budget_cpu.md).
- `gpu`:   ViT-B-32 towers at 224 px, batch 512, bf16 autocast, data-loader workers (one GPU or torchrun).
CI mode runs the `smoke` preset whatever preset is asked for (`effective_preset`, the one place of that rule).
"""

from __future__ import annotations

from dataclasses import fields

from gcl_nb.data.schema import SettingError, check_choice
from gcl_nb.training.config import TrainConfig

#: preset name -> the TrainConfig fields it changes from the defaults (`cpu`)
TRAIN_PRESETS: dict[str, dict] = {
    "smoke": dict(image_size=32, batch_size=16, steps=12, warmup=2),
    "cpu": {},
    "gpu": dict(
        arch="ViT-B-32",
        image_size=224,
        batch_size=512,
        steps=3000,
        warmup=200,
        lr=5e-4,
        weight_decay=0.2,
        num_workers=8,
        image_cache=False,
        checkpoint_every=500,
    ),
}


def effective_preset(preset: str, ci: bool = False) -> str:
    """The preset a run uses: `smoke` in CI mode, else `preset`."""
    return "smoke" if ci else preset


def train_config(preset: str = "cpu", **overrides) -> TrainConfig:
    """TrainConfig of the named preset with `overrides` applied (SettingError for an unknown preset, field or
    value)."""
    check_choice("preset", preset, tuple(TRAIN_PRESETS))
    unknown = sorted(set(overrides) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise SettingError(
            f"unknown training setting(s) {unknown}: TrainConfig has {', '.join(f.name for f in fields(TrainConfig))}"
        )
    return TrainConfig(**{**TRAIN_PRESETS[preset], "preset": preset, **overrides})
