"""Operator dashboard (C9): accounts, sessions, pages over a snapshot of the aggregates."""
