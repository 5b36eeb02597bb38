"""Gradio entry point: ``python app.py [--host 127.0.0.1] [--port 7860]``.

``GRADIO_SERVER_NAME`` and ``GRADIO_SERVER_PORT`` are honoured when the flags are not given.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from service.analyzer import Analyzer, LoadError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument(
        "--queue-size", type=int, default=None, help="requests that may wait (default: queue_size in service.yaml)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        # Articles batched alone, as the CLI does: a Batch upload gives the CLI's lines for the same file.
        analyzer = Analyzer.load(independent_batches=True)
    except LoadError as error:
        print(f"Warta cannot start: {error}", file=sys.stderr)
        return 1
    from service.frontends.app import CSS, build_app

    app = build_app(analyzer)
    # One analysis at a time (both endpoints share one concurrency group, service.frontends.app): the
    # 2-core CPU is saturated by a single batch. A request beyond the waiting room is refused at once
    # (HTTP 503; gradio_client raises "Queue is full! Please try again.", the page shows the error).
    queue_size = args.queue_size if args.queue_size is not None else analyzer.settings.get("queue_size", 16)
    app.queue(default_concurrency_limit=1, max_size=queue_size)
    app.launch(server_name=args.host, server_port=args.port, max_file_size="20mb", footer_links=["api"], css=CSS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
