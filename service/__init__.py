"""Warta inference: backbone loading, text handling, classifier, summariser, analyzer API."""

from __future__ import annotations


def __getattr__(name: str):
    # Lazy: `import service` stays cheap (no torch) for the CLI's --help and for tools.
    if name in {"Analyzer", "AnalysisResult", "InputError"}:
        from service import analyzer

        return getattr(analyzer, name)
    raise AttributeError(name)
