"""What several subcommands share: the data-source flags, the model-naming flags and NAME=VALUE arguments."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gcl_nb.data.options import HELP, DataOptions
from gcl_nb.data.schema import CHECK_IMAGES, CORPUS_SCOPES, ON_BAD_IMAGE, SPLITS
from gcl_nb.evaluation.config import GROUND_TRUTH_FILES, EvalConfig
from gcl_nb.models.checkpoint import load_encoder
from gcl_nb.models.multifield import PAPER_RHS_WEIGHTS


def add_data_options(parser: argparse.ArgumentParser, corpus: bool = False) -> None:
    """Add --image-root, --on-bad-image, --check-images (and --corpus when the command evaluates)."""
    group = parser.add_argument_group("data source")
    group.add_argument("--image-root", help=HELP["image_root"])
    group.add_argument("--on-bad-image", choices=ON_BAD_IMAGE, default="error", help=HELP["on_bad_image"])
    group.add_argument("--check-images", choices=CHECK_IMAGES, default="exists", help=HELP["check_images"])
    if corpus:
        group.add_argument("--corpus", choices=CORPUS_SCOPES, default="half", help=HELP["corpus"] + " (default half)")


def data_options(args: argparse.Namespace) -> DataOptions:
    """The DataOptions given by the flags of add_data_options."""
    return DataOptions(args.image_root, args.on_bad_image, args.check_images)


def add_model_options(parser: argparse.ArgumentParser, model_required: bool = False) -> None:
    """Add --model, --arch, --pretrained, --rhs, --rhs-weights, --model-cache-dir, --allow-partial: one way to name a
    model (gcl_nb.models.load_encoder)."""
    group = parser.add_argument_group("model (gcl_nb.models.load_encoder)")
    if model_required:
        group.add_argument("model", help="run folder, exported folder, checkpoint file (--arch), hf-hub:, local-dir:")
    group.add_argument(
        "--arch",
        help="architecture of an open_clip checkpoint file given as the model (e.g. ViT-B-32), or of the model "
        "itself with --pretrained",
    )
    group.add_argument(
        "--pretrained",
        help="with --arch and no model: an open_clip pretrained tag (laion2b_s34b_b79k) or checkpoint file",
    )
    group.add_argument(
        "--rhs",
        type=lambda text: [f for f in text.split(",") if f],
        help="document fields, name[:kind],... (default: the model's own; for a model without this project's "
        "config the official evaluator's image,title)",
    )
    group.add_argument(
        "--rhs-weights",
        type=lambda text: [float(w) for w in text.split(",") if w],
        help="their fusion weights (default: the model's own; else the official evaluator's "
        f"{','.join(map(str, PAPER_RHS_WEIGHTS))} for image,title, equal weights for other fields)",
    )
    group.add_argument(
        "--model-cache-dir", help="Hugging Face cache for hub models and pretrained tags (default: the usual one)"
    )
    group.add_argument(
        "--image-size",
        type=int,
        help="image side an open_clip checkpoint file was trained at, when not its architecture's own",
    )
    group.add_argument(
        "--allow-partial",
        action="store_true",
        help="load a training run that stopped before its last step (its last checkpoint; tables say so)",
    )


def load_model(args: argparse.Namespace, device="cpu"):
    """The encoder the flags of add_model_options name, on `device`."""
    return load_encoder(
        args.model,
        device=device,
        arch=args.arch,
        pretrained=args.pretrained,
        rhs=args.rhs,
        rhs_weights=args.rhs_weights,
        cache_dir=args.model_cache_dir,
        allow_partial=args.allow_partial,
        image_size=args.image_size,
    )


def add_eval_options(parser: argparse.ArgumentParser) -> None:
    """Add the EvalConfig flags: --splits, --top-q, --top-k, --ground-truth, --batch-size, --cache-dir."""
    default = EvalConfig()
    group = parser.add_argument_group("evaluation (gcl_nb.evaluation.EvalConfig)")
    group.add_argument("--splits", nargs="+", default=list(default.splits), choices=SPLITS)
    group.add_argument("--top-q", type=int, default=default.top_q, help="sampled queries per split (-1: all)")
    group.add_argument("--top-k", type=int, default=default.top_k, help="documents retrieved per query")
    group.add_argument(
        "--ground-truth",
        choices=GROUND_TRUTH_FILES,
        help="use the tarball's <split>_gt_<which>.json files instead of sampling queries",
    )
    group.add_argument("--batch-size", type=int, default=default.batch_size, help="texts / products per forward pass")
    group.add_argument("--cache-dir", help="cache document embeddings here")


def eval_config(args: argparse.Namespace) -> EvalConfig:
    """The EvalConfig given by the flags of add_eval_options (and --progress)."""
    return EvalConfig(
        splits=tuple(args.splits),
        top_q=args.top_q,
        top_k=args.top_k,
        ground_truth=args.ground_truth,
        batch_size=args.batch_size,
        cache_dir=args.cache_dir,
        progress=args.progress,
    )


def parse_assignment(text: str) -> tuple[str, Any]:
    """`NAME=VALUE` -> (NAME, VALUE), VALUE read as JSON when it parses (numbers, true/false, null, lists), else
    kept as a string. argparse reports a malformed item as a usage error."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r}: write it as NAME=VALUE")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def field_shares(text: str) -> dict[str, float]:
    """`title:0.3,image:0.1` -> {field: share}; argparse reports a malformed item as a usage error."""
    shares = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, share = item.partition(":")
        try:
            shares[name] = float(share)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise argparse.ArgumentTypeError(
                f"{item!r}: write NAME:NUMBER pairs (NAME:SHARE for field shares), e.g. title:0.3 or top:1000"
            )
    return shares
