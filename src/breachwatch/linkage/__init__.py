"""Linkage (C2, C3): the affected population and identities across leaks."""

# Defaults the CLI shows without importing the linkage modules (Splink and DuckDB are slow to
# import): the lowest probability of the pair that attaches a record left alone to its only
# candidate cluster (identity.py).
ATTACH_THRESHOLD = 0.5
