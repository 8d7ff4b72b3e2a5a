"""Figures of amf: one module per figure, each a function that only plots from saved results (reports)."""
