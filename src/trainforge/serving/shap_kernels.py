"""The compiled loops of ``tree_shap``: per-leaf weight tables, and one row's contributions.

A leaf with value v whose path asks about p distinct features (cover ratios r_k) adds, for a
row whose side at the path's splits makes the set B of features the row leaves the path at
(the rest, P, it follows),

    to j in B:  −v · R_B · ∫₀¹ Π_{k∈P} (t + r_k (1 − t)) · (1 − t)^(|B|−1) dt
    to i in P:  v · (1 − r_i) · R_B · ∫₀¹ Π_{k∈P∖{i}} (t + r_k (1 − t)) · (1 − t)^|B| dt

with R_B = Π_{k∈B} r_k (``tree_shap``'s formula with s_k = 0 on B, 1 on P). Both integrals
are one function of the pattern B alone: H(B) = v ∫ Π_{k∉B} (t + r_k (1 − t)) (1 − t)^(|B|−1)
dt, read at B for the features left and at B ∪ {i} for each feature i followed. So, as in
Fast TreeSHAP v2 (Yang 2021), H is tabulated once per leaf for all 2^p patterns, and a row
then costs O(p) per leaf (find B, one look-up per feature) instead of the O(p²) quadrature;
the tables are the same Gauss–Legendre sums the walk takes, so the figures agree to rounding.
A table holds 2^p floats: leaves deeper than a bound keep the quadrature (``table_start`` −1).

A tree with few distinct splits s (CatBoost's oblivious trees: s is the depth) goes further:
its leaves' summed contributions depend only on the row's sides at those s splits, so they are
tabulated for all 2^s patterns, and a row costs s bit tests and one look-up per feature of the
tree instead of a pass over its 2^s leaves.

numba compiles these at the first explanation (never to predict), cached on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_COMPILED: dict[str, Callable[..., Any]] = {}  # add_leaves returns nothing


def compiled(name: str) -> Callable[..., Any]:
    """``fill_tables``, ``fill_tree_tables`` or ``row_contributions``, compiled by numba on
    first use."""
    if not _COMPILED:
        import numba  # shap's dependency; ~1 s to compile once, then cached on disk

        # add_leaves first, and in this module's namespace, where its callers' compiled code
        # looks it up
        for function in (add_leaves, fill_tables, fill_tree_tables, row_contributions):
            jitted = numba.njit(cache=True, nogil=True)(function)
            globals()[function.__name__] = _COMPILED[function.__name__] = jitted
    return _COMPILED[name]


def table_layout(slot_start: np.ndarray, *, max_depth: int, only: np.ndarray) -> np.ndarray:
    """Per leaf, where its table of 2^p floats starts (−1: deeper than ``max_depth``, walked,
    or not one of the leaves ``only``); one more entry holds the tables' total length."""
    depth = np.diff(slot_start)
    tabulated = np.zeros(len(depth), dtype=bool)
    tabulated[only] = depth[only] <= max_depth
    sizes = np.where(tabulated, 2 ** np.minimum(depth, max_depth), 0)
    start = np.concatenate([[0], np.cumsum(sizes)])
    return np.where(np.append(tabulated, True), start, -1).astype(np.int64)


def fill_tables(table_start: np.ndarray, slot_start: np.ndarray, ratio: np.ndarray,
                value: np.ndarray, nodes: np.ndarray, node_weights: np.ndarray) -> np.ndarray:
    """Every tabulated leaf's H(B), at ``table_start[leaf] + B`` (B a bit mask over the
    leaf's slots; B = 0, the row reaching the leaf, is never read)."""
    table = np.zeros(table_start[-1])
    deepest = 0
    for leaf in range(len(value)):
        if table_start[leaf] >= 0:
            deepest = max(deepest, slot_start[leaf + 1] - slot_start[leaf])
    products = np.zeros(1 << deepest)
    for leaf in range(len(value)):
        at = table_start[leaf]
        if at < 0:
            continue
        first, p = slot_start[leaf], slot_start[leaf + 1] - slot_start[leaf]
        for q in range((p + 1) // 2):  # exact: the integrand has degree p − 1
            t, w = nodes[p, q], node_weights[p, q]
            # products[B] = Π_{k∉B} (t + r_k (1 − t)) · (1 − t)^|B|, one slot at a time
            products[0] = 1.0
            size = 1
            for k in range(p):
                follows = t + ratio[first + k] * (1.0 - t)
                for mask in range(size):
                    products[size + mask] = products[mask] * (1.0 - t)
                    products[mask] *= follows
                size *= 2
            for mask in range(1, size):
                table[at + mask] += value[leaf] * w * products[mask] / (1.0 - t)
    return table


def row_contributions(goes_left: np.ndarray, loose: np.ndarray, slot_start: np.ndarray,
                      node_start: np.ndarray, ratio: np.ndarray, feature: np.ndarray,
                      split: np.ndarray, left: np.ndarray, node_slot: np.ndarray,
                      value: np.ndarray,
                      output: np.ndarray, table_start: np.ndarray, table: np.ndarray,
                      nodes: np.ndarray, node_weights: np.ndarray, whole: np.ndarray,
                      n_outputs: int, n_features: int) -> np.ndarray:
    """One row's (outputs, features) margin contributions, ``goes_left`` its side at every
    split: the ``loose`` leaves one by one, then the trees tabulated whole (``whole``: their
    arrays, see ``fill_tree_tables``), one look-up per tree and feature."""
    phi = np.zeros((n_outputs, n_features))
    add_leaves(phi, goes_left, loose, slot_start, node_start, ratio, feature, split, left,
               node_slot, value, output, table_start, table, nodes, node_weights)
    split_start, tree_split, feature_start, tree_feature, tree_output, tree_start, \
        tree_table = whole
    for tree in range(len(tree_output)):
        pattern = 0  # bit i: the row goes left at the tree's i-th split
        first = split_start[tree]
        for i in range(first, split_start[tree + 1]):
            if goes_left[tree_split[i]]:
                pattern |= 1 << (i - first)
        lo, hi = feature_start[tree], feature_start[tree + 1]
        at = tree_start[tree] + pattern * (hi - lo)
        for f in range(lo, hi):
            phi[tree_output[tree], tree_feature[f]] += tree_table[at + f - lo]
    return phi


def fill_tree_tables(leaf_begin: np.ndarray, leaf_end: np.ndarray, split_start: np.ndarray, tree_split: np.ndarray,
                     feature_start: np.ndarray, tree_feature: np.ndarray,
                     tree_start: np.ndarray, n_splits: int, slot_start: np.ndarray,
                     node_start: np.ndarray, ratio: np.ndarray, feature: np.ndarray,
                     split: np.ndarray, left: np.ndarray, node_slot: np.ndarray,
                     value: np.ndarray, output: np.ndarray, nodes: np.ndarray,
                     node_weights: np.ndarray, n_outputs: int, n_features: int) -> np.ndarray:
    """Trees with few splits tabulated whole: for tree t (leaves ``leaf_begin[t]`` to
    ``leaf_end[t]``, splits ``tree_split[split_start[t]:split_start[t + 1]]``, distinct
    features ``tree_feature[feature_start[t]:feature_start[t + 1]]``), its leaves' summed
    contributions to each of those features for every pattern of sides at its splits, at
    ``tree_start[t] + pattern · (its feature count) + the feature's place``."""
    table = np.zeros(tree_start[-1])
    goes_left = np.zeros(n_splits, dtype=np.bool_)
    walked = np.full(len(value), -1, dtype=np.int64)  # no leaf tables: the quadrature
    no_table = np.zeros(1)
    phi = np.zeros((n_outputs, n_features))
    for tree in range(len(leaf_begin)):
        leaves = np.arange(leaf_begin[tree], leaf_end[tree])
        first, count = split_start[tree], split_start[tree + 1] - split_start[tree]
        lo, hi = feature_start[tree], feature_start[tree + 1]
        for pattern in range(1 << count):
            for i in range(count):
                goes_left[tree_split[first + i]] = (pattern >> i) & 1 == 1
            phi[:] = 0.0
            add_leaves(phi, goes_left, leaves, slot_start, node_start, ratio, feature, split,
                       left, node_slot, value, output, walked, no_table, nodes, node_weights)
            at = tree_start[tree] + pattern * (hi - lo)
            for f in range(lo, hi):
                table[at + f - lo] = phi[output[leaves[0]], tree_feature[f]]
    return table


def add_leaves(phi: np.ndarray, goes_left: np.ndarray, leaves: np.ndarray,
               slot_start: np.ndarray, node_start: np.ndarray, ratio: np.ndarray,
               feature: np.ndarray, split: np.ndarray, left: np.ndarray, node_slot: np.ndarray,
               value: np.ndarray, output: np.ndarray, table_start: np.ndarray,
               table: np.ndarray, nodes: np.ndarray, node_weights: np.ndarray) -> None:
    """Adds ``leaves``' margin contributions to ``phi`` (outputs, features): by table where
    the leaf has one, else by ``tree_shap``'s quadrature.

    The table branch has no branch on the row: whether the row leaves the path at a split is
    as likely as not, so an ``if`` on it is mispredicted half the time, and that, not the
    arithmetic, was most of its cost (2.5× on a LightGBM member, 1.5× on an XGBoost one)."""
    width = nodes.shape[0]
    follows = np.zeros(width)
    factor = np.zeros(width)
    prefix = np.zeros(width + 1)
    total = np.zeros(width)
    for leaf in leaves:
        first, last = slot_start[leaf], slot_start[leaf + 1]
        p = last - first
        at = table_start[leaf]
        out = output[leaf]
        if at >= 0:
            left_at = 0  # B, the features whose splits the row does not follow: a bit a slot
            for node in range(node_start[first], node_start[last]):
                left_at |= np.int64(goes_left[split[node]] != left[node]) << node_slot[node]
            reach = 1.0  # R_B (0 when a cover ratio on B is: then so is every term below)
            for k in range(p):
                reach *= 1.0 + ((left_at >> k) & 1) * (ratio[first + k] - 1.0)
            away = reach * table[at + left_at]  # what each feature of B loses
            for k in range(p):
                follow = (1.0 - ratio[first + k]) * reach * table[at + (left_at | (1 << k))]
                phi[out, feature[first + k]] += follow - ((left_at >> k) & 1) * (away + follow)
            continue
        for k in range(first, last):  # s_k: the row takes the path's side at every split on k
            taken = 1.0
            for node in range(node_start[k], node_start[k + 1]):
                if goes_left[split[node]] != left[node]:
                    taken = 0.0
            follows[k - first] = taken
        total[:p] = 0.0
        for q in range((p + 1) // 2):  # G_j = ∫ Π_{k≠j} (s_k t + r_k (1 − t)) dt
            t, w = nodes[p, q], node_weights[p, q]
            prefix[0] = 1.0
            for k in range(p):
                factor[k] = follows[k] * t + ratio[first + k] * (1.0 - t)
                prefix[k + 1] = prefix[k] * factor[k]
            suffix = w
            for j in range(p - 1, -1, -1):
                total[j] += prefix[j] * suffix
                suffix *= factor[j]
        for j in range(p):
            phi[out, feature[first + j]] += (
                value[leaf] * (follows[j] - ratio[first + j]) * total[j])
