"""Labeling projects: items, labels, annotators, and the active learning that orders them."""
