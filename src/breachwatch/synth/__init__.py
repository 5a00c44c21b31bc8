"""Synthetic breach data: a registry, the agency's leak, earlier leaks, and the truth about them.

Only synthetic people: names and places come from Faker's fr_FR lists, e-mail domains are
reserved ones (``.test``, ``example.org``…), IP addresses come from reserved ranges.
"""

from breachwatch.synth.pipeline import SynthManifest, generate

__all__ = ["SynthManifest", "generate"]
