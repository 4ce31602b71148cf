"""Speed and memory benchmarks against the peers (open_clip, ranx, pytrec_eval, faiss, plain torch).

`python -m benchmarks` (`make bench`) runs every group; each group module defines `run(report, quick)`.
"""

GROUPS = ("loss", "train_step", "data", "prepare", "metrics", "retrieval", "scaling", "gpu")
