"""Regenerate every figure the README, the model cards and the data card quote: ``make report``.

    python -m training.report [--steps data topics summaries parity speed scale cards readme] [--dry-run]

Each step is a committed command, run in this order in fresh processes (``--steps`` picks some):

- ``data``: ``training.build_data`` (when build/data is missing) and ``training.data_card`` (docs/data.md);
- ``topics``: ``training.evaluate_classifier`` on the serving default backend (a scoring of the
  development test, logged in models/topic-classifier/scorings.jsonl) and the classifier card;
- ``summaries``: ``training.evaluate_summarizer --cv`` (cv.json) and without (eval.json), the card;
- ``parity``: ``training.evaluate_backends`` (models/backend-parity.json);
- ``speed``: ``training.benchmark_service --compare`` (models/benchmark.json);
- ``scale``: ``training.benchmark_scale`` (models/benchmark-scale.json: CLI memory, Ray Data);
- ``cards``: ``training.model_card``, both model cards once more (the parity step adds scorings);
- ``readme``: the README's measured blocks (between ``<!-- report:NAME -->`` markers) from those files.

The README's measured figures live only inside those blocks, so a stale number cannot survive a report.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import subprocess
import sys

from training.config import PROJECT_ROOT, project_path

logger = logging.getLogger(__name__)
README = PROJECT_ROOT / "README.md"
STEPS = {
    "data": [["training.build_data"], ["training.data_card"]],
    "topics": [["training.evaluate_classifier"]],
    "summaries": [
        ["training.evaluate_summarizer", "--cv"],
        ["training.evaluate_summarizer", "--raw", "../shared/data/raw/indonews2025/labelled/berita_detik.csv"],
    ],
    "parity": [["training.evaluate_backends"]],
    "speed": [["training.benchmark_service", "--compare", "--out", "models/benchmark.json"]],
    "scale": [["training.benchmark_scale", "--out", "models/benchmark-scale.json"]],
    "cards": [["training.model_card"]],
    "readme": [],
}


def _read(name: str) -> dict:
    path = project_path(name)
    return json.loads(path.read_text()) if path.exists() else {}


def speed_block(benchmark: dict) -> str:
    """The side-by-side table of ``training.benchmark_service --compare``."""
    if not benchmark:
        return "_Not measured yet: run `make report`._"
    cli_rows = next((e["cli"]["rows"] for e in benchmark["backends"].values() if e.get("cli")), 0)
    rows = [
        "| backend | cold start | p50 / p95 single article | articles/s, batch 16 / 32 "
        f"| CLI {cli_rows:,} rows: art/s, peak RSS | p50 vs reference | throughput vs reference (16) |",
        "|---|---|---|---|---|---|---|",
    ]
    chosen = benchmark.get("choice", {}).get("engine")
    for name, entry in benchmark["backends"].items():
        cold, cli, ratio = entry.get("cold_start"), entry.get("cli"), entry.get("vs_reference", {})
        label = "plain transformers fp32, 512 tokens" if name == "transformers-fp32-512" else name
        label = f"**{label}** (`auto`'s choice)" if name == chosen else label
        cold_text = f"{cold['process_seconds']:.2f} s" if cold else ""
        cli_text = f"{cli['articles_per_second']}, {cli['peak_rss_mb']:.0f} MB" if cli else ""
        rows.append(
            f"| {label} | {cold_text} "
            f"| {entry['single_article_ms']['p50']} / {entry['single_article_ms']['p95']} ms "
            f"| {entry['articles_per_second_batch_16']} / {entry['articles_per_second_batch_32']} "
            f"| {cli_text} | {ratio.get('p50_ratio', 1.0):.2f} | {ratio.get('throughput_ratio_batch_16', 1.0):.2f} |"
        )
    default = benchmark["backends"][chosen or next(iter(benchmark["backends"]))]  # older files: the first row
    lines = [f"Measured on {benchmark['cpu']}, {benchmark['article_words']}-word articles:", "", *rows]
    if default and default.get("cold_start"):
        cold = default["cold_start"]
        lines += [
            "",
            f"Cold start of the default (median of {cold['runs']}): interpreter to first answer "
            f"{cold['process_seconds']:.2f} s, of which importing the service {cold['import_seconds']:.2f} s, "
            f"loading the models {cold['load_seconds']:.2f} s, the first answer {cold['first_answer_seconds']:.2f} s.",
        ]
    choice = benchmark.get("choice")
    if choice and choice.get("timings"):
        from service.engines.backend import EngineChoice
        from service.engines.measure import table

        lines += [
            "",
            f"`auto` chose {choice['engine']} on this CPU by its own measurement (`python -m service engines`, "
            "each engine in its own process on the fixed batch of eight articles, once per CPU, package versions "
            "and models):",
            "",
            table(EngineChoice.from_dict(choice)),
        ]
    return "\n".join(lines)


def scale_block(scale: dict) -> str:
    """CLI memory over a long file and Ray Data against the CLI (``training.benchmark_scale``)."""
    if not scale:
        return "_Not measured yet: run `make report`._"
    memory = scale["cli_memory"]
    short, long = (memory[k] for k in sorted(memory, key=int))
    ray = scale["distributed"]
    parts = [
        f"Measured on {scale['cpu']}.",
        "",
        f"Streaming: the CLI's peak RSS over {long['rows']:,} rows was {long['peak_rss_mb']:.0f} MB against "
        f"{short['peak_rss_mb']:.0f} MB over {short['rows']:,} rows ({long['article_words']}-word cuts of real "
        f"articles, {long.get('engine', 'the default engine')}).",
        "",
        f"Ray Data, the same {ray['rows']:,} real articles (held-out splits, full text), wall time from the command "
        f"line including Ray's start, engine {ray['cli'].get('engine', 'the default')}: "
        f"the CLI {ray['cli']['seconds']} s ({ray['cli']['articles_per_second']} "
        f"articles/s); `service.distributed --workers 1` {ray['workers_1']['seconds']} s "
        f"({ray['workers_1']['articles_per_second']}/s); `--workers 2` {ray['workers_2']['seconds']} s "
        f"({ray['workers_2']['articles_per_second']}/s). Ray's lines equal the CLI's: "
        f"{'yes' if ray['workers_1']['lines_equal_cli'] and ray['workers_2']['lines_equal_cli'] else 'NO'}.",
    ]
    return "\n".join(parts)


def parity_block(parity: dict) -> str:
    """Each backend against PyTorch fp32 (``training.evaluate_backends``)."""
    if not parity:
        return "_Not measured yet: run `make report`._"
    rows = [
        "| | top-1 agreement | max / mean max prob. difference | macro-F1 (fp32) | identical summaries |",
        "|---|---|---|---|---|",
    ]
    for set_name, backends in parity["sets"].items():
        for name, r in backends.items():
            summaries = (
                f"{100 * r['identical_summaries']:.1f} % of {r['summaries_compared']}"
                if "identical_summaries" in r
                else ""
            )
            rows.append(
                f"| {name}, {set_name.replace('_', ' ')} ({r['articles']:,}) | {100 * r['top1_agreement']:.2f} % "
                f"| {r['max_probability_difference']:.3f} / {r['mean_max_probability_difference']:.4f} "
                f"| {r['macro_f1']:.4f} ({r['macro_f1_reference']:.4f}) | {summaries} |"
            )
    gate = parity["gate"]
    return "\n".join(
        [
            f"Measured on {parity['cpu']}.",
            "",
            *rows,
            "",
            f"Gate: {gate['rule']}: "
            + ", ".join(f"{name} {'passed' if ok else 'FAILED'}" for name, ok in gate.get("engines", {}).items())
            + ("." if gate.get("engines") else f"{'passed' if gate['passed'] else 'FAILED'}."),
        ]
    )


BLOCKS = {
    "speed": lambda: speed_block(_read("models/benchmark.json")),
    "scale": lambda: scale_block(_read("models/benchmark-scale.json")),
    "parity": lambda: parity_block(_read("models/backend-parity.json")),
}


def render_readme(text: str) -> str:
    """``text`` with every ``<!-- report:NAME -->`` ... ``<!-- /report:NAME -->`` block rendered anew."""
    for name, render in BLOCKS.items():
        pattern = re.compile(rf"(<!-- report:{name} -->\n)(?:.*?\n)?(<!-- /report:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README has no report:{name} block")
        body = render()
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", nargs="+", choices=list(STEPS), default=list(STEPS))
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for step in args.steps:
        for module, *options in STEPS[step]:
            if module == "training.build_data" and project_path("build/data/topics").exists():
                continue
            command = [sys.executable, "-m", module, *options]
            logger.info("%s: %s", step, " ".join(command[1:]))
            if not args.dry_run:
                subprocess.run(command, cwd=PROJECT_ROOT, check=True)
    if "readme" in args.steps and not args.dry_run:
        README.write_text(render_readme(README.read_text(encoding="utf-8")), encoding="utf-8")
        logger.info("README's measured blocks rendered")


if __name__ == "__main__":
    main()
