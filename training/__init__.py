"""Warta training: corpus building, model training, evaluation and baselines."""
