"""TREC run and qrels files, so results can be checked with trec_eval, ranx or ir_measures.

run:   `query_id Q0 doc_id rank score tag` per line, ranks 1.. in the metrics' order (score descending,
       ties by document id descending), scores written with full float precision.
qrels: `query_id 0 doc_id grade` per line.
Ids must not contain whitespace. Reading rejects malformed lines and a document listed twice for a
query, naming the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gcl_nb.data.schema import DataError


def write_run(path: str | Path, run: Mapping[str, Mapping[str, float]], tag: str = "gcl_nb") -> Path:
    """Write {query_id: {doc_id: score}}; returns the path."""
    _check_ids([tag], "run tag")
    lines = []
    for qid, docs in run.items():
        _check_ids([qid, *docs], f"query {qid!r}")
        ranked = sorted(docs.items(), key=lambda item: (item[1], item[0]), reverse=True)
        lines += [f"{qid} Q0 {doc} {rank} {float(score)!r} {tag}" for rank, (doc, score) in enumerate(ranked, 1)]
    return _write(path, lines)


def write_qrels(path: str | Path, qrels: Mapping[str, Mapping[str, float]]) -> Path:
    """Write {query_id: {doc_id: grade}} (integral grades as integers); returns the path."""
    lines = []
    for qid, docs in qrels.items():
        _check_ids([qid, *docs], f"query {qid!r}")
        lines += [f"{qid} 0 {doc} {int(g) if float(g).is_integer() else g}" for doc, g in docs.items()]
    return _write(path, lines)


def read_run(path: str | Path) -> dict[str, dict[str, float]]:
    """{query_id: {doc_id: score}} from a TREC run file."""
    return _read(path, 6, lambda f: (f[0], f[2], f[4]), "query_id Q0 doc_id rank score tag")


def read_qrels(path: str | Path) -> dict[str, dict[str, float]]:
    """{query_id: {doc_id: grade}} from a TREC qrels file (grades as int when integral)."""
    qrels = _read(path, 4, lambda f: (f[0], f[2], f[3]), "query_id iteration doc_id grade")
    return {q: {d: int(g) if g.is_integer() else g for d, g in docs.items()} for q, docs in qrels.items()}


def _read(path, n_fields: int, pick, layout: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            where = f"{path}, line {line_no}"
            if len(fields) != n_fields:
                raise DataError(f"{where}: expected {n_fields} fields ({layout}), got {len(fields)}")
            qid, doc, value = pick(fields)
            try:
                number = float(value)
            except ValueError:
                raise DataError(f"{where}: {value!r} is not a number") from None
            docs = out.setdefault(qid, {})
            if doc in docs:
                raise DataError(f"{where}: document {doc!r} is listed twice for query {qid!r}")
            docs[doc] = number
    return out


def _check_ids(ids, where: str) -> None:
    for i in ids:
        if not str(i) or any(c.isspace() for c in str(i)):
            raise ValueError(f"{where}: id {str(i)!r} is empty or contains whitespace; TREC files split on it")


def _write(path, lines: list[str]) -> Path:
    path = Path(path)
    path.write_text("".join(line + "\n" for line in lines))
    return path
