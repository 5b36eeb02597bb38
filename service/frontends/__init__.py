"""Front ends over the Analyzer: the batch CLI, the Gradio app, Ray Data, and the row readers they share."""
