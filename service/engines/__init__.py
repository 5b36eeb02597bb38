"""Run the encoder: numpy windows (``encoder``), the engine choice (``backend``), PyTorch (``pytorch``),
ONNX Runtime (``onnx``) and the exporter that writes ONNX graphs (``export``)."""
