"""The extractive summariser: sentence features, the trained scorer, selection."""
