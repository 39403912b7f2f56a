"""Hostile input: the standing fuzz of every documented route (issue #10)."""
