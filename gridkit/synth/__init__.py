"""Realistic synthetic counties for demos, tests and benchmarks."""

from gridkit.synth.county import *
from gridkit.synth.county import __all__  # noqa: F401
