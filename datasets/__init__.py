"""Fetchers, readers and simulated data sets with known ground truth.

Installed as :mod:`neurosim.datasets`; never as a top-level ``datasets`` package, which would shadow
Hugging Face's package of the same name.
"""

from ._base import get_data_home

__all__ = ["get_data_home"]
