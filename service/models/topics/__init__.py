"""The topic classifier: encoder head, lexical model, calibrated probabilities."""
