"""``python -m service engines [--again]``: which engine runs here and why, with the timing table; and the probe
that times one engine in a process of its own (``service.engines.measure`` starts it)."""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time

from service.engines.backend import cpu_description
from service.engines.measure import table

SINGLE_RUNS = 5  # one-article timings per engine (the median is kept)


def fixed_batch() -> list[dict]:
    """Eight articles of 100-400 words built from the app's examples (written for Warta): the same every time."""
    from service.frontends.examples import EXAMPLES

    bodies = [body for _, body in EXAMPLES]
    return [
        {
            "id": str(i),
            "title": EXAMPLES[i % 3][0],
            "text": " ".join(bodies[(i + j) % 3] for j in range(1 + i % 4)),
        }
        for i in range(8)
    ]


def probe(engine: str, config: str | None, model_dirs: tuple[str | None, str | None], threads: int | None) -> dict:
    """Run in the engine's own process: load, time, record probabilities and batch invariance."""
    import numpy as np

    from service.analyzer import Analyzer

    analyzer = Analyzer.load(*model_dirs, config_path=config, threads=threads, batching="fixed")
    if analyzer.backend != engine:
        raise RuntimeError(f"asked for {engine}, loaded {analyzer.backend}")
    items = fixed_batch()
    analyzer.analyze(items[:1])  # warm-up: first calls allocate and pick kernels
    analyzer.analyze(items, batch_size=len(items))
    single = []
    for _ in range(SINGLE_RUNS):
        started = time.perf_counter()
        analyzer.analyze(items[3:4])
        single.append(1000 * (time.perf_counter() - started))
    batch = []
    for _ in range(2):
        started = time.perf_counter()
        results = analyzer.analyze(items, batch_size=len(items))
        batch.append(1000 * (time.perf_counter() - started) / len(items))
    labels = analyzer.classifier.config.labels
    probabilities = [[{s.label: s.score for s in r.topics}[label] for label in labels] for r in results]
    texts = [f"{item['title']}\n{item['text']}" for item in items]
    invariant = True
    for model in (analyzer.classifier, analyzer.summarizer):
        together = model.encode(texts)
        for text, doc in zip(texts, together, strict=True):
            alone = model.encode([text])[0]
            invariant &= all(np.array_equal(a, b) for a, b in zip(alone.states, doc.states, strict=True))
    return {
        "engine": engine,
        "single_ms": round(statistics.median(single), 2),
        "batch_ms": round(min(batch), 2),
        "batch_invariant": bool(invariant),
        "probabilities": probabilities,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # internal: one engine, in its own process
    parser.add_argument("--config", help="service config (default configs/service.yaml)")
    parser.add_argument("--classifier-dir", help=argparse.SUPPRESS)
    parser.add_argument("--summarizer-dir", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--again", action="store_true", help="measure anew instead of reading the cached choice")
    args = parser.parse_args(argv)
    if args.probe:
        logging.basicConfig(level=logging.WARNING)
        print(json.dumps(probe(args.probe, args.config, (args.classifier_dir, args.summarizer_dir), args.threads)))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from service.analyzer import engine_for

    choice = engine_for(args.config, again=args.again)  # the choice alone: no model is loaded here
    print(f"CPU: {cpu_description()}")
    print(f"engine: {choice.engine}: {choice.reason}")
    if choice.timings:
        print(table(choice))
    return 0


if __name__ == "__main__":
    sys.exit(main())
