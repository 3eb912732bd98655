"""Synthetic population and sources with ground truth (``miglink synth``)."""

from synthetic.generate import synthesise

__all__ = ["synthesise"]
