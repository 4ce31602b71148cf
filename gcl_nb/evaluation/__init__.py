"""Evaluation: its settings (`config.EvalConfig`), the official Marqo-GS protocol (`protocol`), its run against a
model per split (`split_evaluation`), batched encoding (`encoding`), the document-embedding cache (`embedding_cache`),
TREC files (`trec`), significance tests (`significance`) and field ablations (`fusion`)."""

from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.embedding_cache import EmbeddingCache, encode_corpus
from gcl_nb.evaluation.encoding import encode_products, encode_queries
from gcl_nb.evaluation.protocol import build_qrels, grade_scores, load_ground_truth, query_ids, sample_eval_queries
from gcl_nb.evaluation.split_evaluation import (
    SUMMARY_COLUMNS,
    SplitResult,
    evaluate,
    evaluate_split,
    per_query_table,
    run_protocol,
    summary_table,
)

__all__ = [
    "SUMMARY_COLUMNS",
    "EmbeddingCache",
    "EvalConfig",
    "SplitResult",
    "build_qrels",
    "encode_corpus",
    "encode_products",
    "encode_queries",
    "evaluate",
    "evaluate_split",
    "grade_scores",
    "load_ground_truth",
    "per_query_table",
    "query_ids",
    "run_protocol",
    "sample_eval_queries",
    "summary_table",
]
