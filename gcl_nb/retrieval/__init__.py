"""Retrieval: exact chunked top-k over dense embeddings, optional faiss (`dense`), and BM25 over titles (`bm25`)."""

from gcl_nb.retrieval.bm25 import BM25Retriever
from gcl_nb.retrieval.dense import build_faiss_index, exact_topk, faiss_topk

__all__ = ["BM25Retriever", "exact_topk", "build_faiss_index", "faiss_topk"]
