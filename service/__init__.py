"""Warta inference: backbone loading, text handling, classifier, summariser, analyzer API."""
