"""Linkage (C2, C3): the affected population and identities across leaks."""

# Defaults the CLI shows without importing the linkage modules (Splink and DuckDB are slow to
# import): the lowest probability of the pair that attaches a record left alone to its only
# candidate cluster (identity.py).
ATTACH_THRESHOLD = 0.5
# A record holding a birth year but no birth date (a forum account: full name, year, town)
# attaches through a weaker pair: such a record can never show the bits a full birth date gives
# (decision 0008).
YEAR_ATTACH_THRESHOLD = 0.1
