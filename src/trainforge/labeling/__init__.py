"""Labeling projects: items to label, several annotators, agreement, and the labels' way in
and out (Label Studio, CSV, a dataset version to train on)."""
