"""Named training presets, matching the SynthShop data presets of the same name.

Each preset is a dict of TrainConfig fields; `TrainConfig.from_preset(name, **overrides)` applies one.
- `smoke`: seconds on a laptop core, for CI and notebook tests (gcl-rn-tiny, 32 px, a dozen steps).
- `cpu`:   the default, a few minutes per run on 2 cores: gcl-rn-tiny (a small ResNet image tower; the vision
           transformer of `gcl-tiny` barely learns at this size, results/image_tower_diagnosis.md), 64 px,
           batch 64 of distinct queries, 800 steps (3 epochs).
- `gpu`:   ViT-B-32 towers at 224 px, batch 512, bf16 autocast, data-loader workers (one GPU or torchrun).
Batches hold distinct queries (`same_query="sampler"`) in every preset: a batch's other rows of the same query
would otherwise be pushed away as negatives (the paper's form keeps them: `same_query="none"`).
"""
from __future__ import annotations

PRESETS: dict[str, dict] = {
    "smoke": dict(arch="gcl-rn-tiny", image_size=32, batch_size=16, steps=12, warmup=2, lr=1e-3,
                  weight_decay=0.1, same_query="sampler", num_workers=0),
    "cpu": dict(arch="gcl-rn-tiny", image_size=64, batch_size=64, steps=800, warmup=50, lr=1e-3,
                weight_decay=0.1, same_query="sampler", num_workers=0),
    "gpu": dict(arch="ViT-B-32", image_size=224, batch_size=512, steps=3000, warmup=200, lr=5e-4,
                weight_decay=0.2, same_query="sampler", num_workers=8, image_cache=False, checkpoint_every=500),
}


def preset(name: str) -> dict:
    """The TrainConfig fields of preset `name` (a copy)."""
    if name not in PRESETS:
        raise ValueError(f"unknown training preset {name!r}: choose one of {', '.join(PRESETS)}")
    return dict(PRESETS[name])
