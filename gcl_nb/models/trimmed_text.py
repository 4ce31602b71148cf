"""open_clip's text tower on a batch cut to its longest row: the same embeddings, less compute.

The tokenizer pads every text to the tower's context length (32 for the packaged configs), while SynthShop's
queries and titles are 6 and 9 tokens on average. open_clip's own text tower is causal and pools the
end-of-text token (the highest id), so no position after a row's end-of-text token reaches its embedding: the
padding columns that every row of a batch shares can be cut before the tower runs. That cut is exact (equal to
`CLIP.encode_text` up to float rounding; tests/test_models.py checks it) and makes the text tower about 2x faster
on the CPU at these lengths (benchmarks/results.md).

Towers where the cut is not exact (an HF text tower, a non-causal mask, another pooling) use `encode_text`
unchanged.
"""

from __future__ import annotations

import open_clip
import torch.nn.functional as F
from open_clip.transformer import text_global_pool
from torch import Tensor, nn


def can_trim(clip: nn.Module) -> bool:
    """True when `clip` is open_clip's CLIP with a causal text tower pooled at the end-of-text token."""
    return (
        isinstance(clip, open_clip.CLIP)
        and getattr(clip, "attn_mask", None) is not None
        and clip.text_pool_type == "argmax"
    )


def used_length(tokens: Tensor) -> int:
    """Columns up to the batch's last non-padding token (padding is token id 0; at least 1)."""
    used = (tokens != 0).any(dim=0).nonzero()
    return int(used[-1]) + 1 if len(used) else 1


def encode_text(clip: nn.Module, tokens: Tensor, normalize: bool = True) -> Tensor:
    """`clip.encode_text(tokens, normalize)`, with the padding columns after the batch's longest row cut first
    (where `can_trim(clip)`). Padding is token id 0; a row's last nonzero token is its end-of-text token."""
    if not can_trim(clip):
        return clip.encode_text(tokens, normalize=normalize)
    length = used_length(tokens)
    tokens = tokens[:, :length]
    cast_dtype = clip.transformer.get_cast_dtype()
    x = clip.token_embedding(tokens).to(cast_dtype) + clip.positional_embedding[:length].to(cast_dtype)
    x = clip.transformer(x, attn_mask=clip.attn_mask[:length, :length])
    x = clip.ln_final(x)
    x = text_global_pool(x, tokens, clip.text_pool_type, eos_token_id=getattr(clip, "text_eos_id", None))
    if clip.text_projection is not None:
        x = clip.text_projection(x) if isinstance(clip.text_projection, nn.Linear) else x @ clip.text_projection
    return F.normalize(x, dim=-1) if normalize else x
