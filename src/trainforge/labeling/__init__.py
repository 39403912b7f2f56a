"""Labeling projects: items to label, several annotators, agreement, the active learning
that orders the queue, and the labels' way in and out (Label Studio, CSV, a dataset version to
train on)."""
