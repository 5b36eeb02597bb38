"""The trained heads: ``topics`` (classifier) and ``summaries`` (summariser), and ``onnx``, which
exports both into the cache and loads them back on ONNX Runtime."""
