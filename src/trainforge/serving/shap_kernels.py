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
then costs O(p) per leaf (one look-up per feature) instead of the O(p²) quadrature; the
tables are the same Gauss–Legendre sums the quadrature takes, so the figures agree to
rounding. A table holds 2^p floats: leaves deeper than a bound keep the quadrature
(``table_start`` −1).

A row's B and R_B at every leaf come from one pass over the trees' nodes in preorder, each
node's from its parent's (B gains the node's slot where the row leaves the path there; R_B
gains the edge's cover ratio, or the feature's whole product so far when the feature joins
B): O(1) a node, where reading each leaf's path again cost O(depth) a leaf. The pass reads
the node arrays in order, its parent's values from a few nodes back, and has no branch on
the row.

A tree with few distinct splits s (CatBoost's oblivious trees: s is the depth) goes further:
its leaves' summed contributions depend only on the row's sides at those s splits, so they are
tabulated for all 2^s patterns, and a row costs s bit tests and one look-up per feature of the
tree instead of a pass over its nodes.

numba compiles these at the first explanation (never to predict), cached on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_COMPILED: dict[str, Callable[..., Any]] = {}  # add_leaf, add_trees return nothing


def compiled(name: str) -> Callable[..., Any]:
    """``fill_tables``, ``fill_tree_tables``, ``row_contributions`` or ``fill_sides``,
    compiled by numba on first use."""
    if not _COMPILED:
        import numba  # shap's dependency; ~1 s to compile once, then cached on disk

        # callees first, and in this module's namespace, where their callers' compiled code
        # looks them up
        for function in (fill_sides, add_leaf, add_trees, fill_tables, fill_tree_tables,
                         row_contributions):
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


def row_contributions(row: np.ndarray, sides: tuple[np.ndarray, ...], splits: np.ndarray,
                      walked: np.ndarray, whole_trees: np.ndarray,
                      edges: tuple[np.ndarray, ...], leaves: tuple[np.ndarray, ...],
                      tables: tuple[np.ndarray, ...], whole: tuple[np.ndarray, ...],
                      n_outputs: int, n_features: int,
                      scratch: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """One ``row``'s (outputs, features) margin contributions from the trees ``walked`` (by
    their nodes, ``add_trees``) and the trees ``whole_trees`` tabulated whole (``whole``: their
    arrays, see ``fill_tree_tables``; one look-up per tree and feature). The row's sides are
    decided here, at ``splits`` (those of these trees; ``fill_sides``), so that one call is
    one part's whole work; ``scratch``: ``add_trees``' two arrays and one of a side a split."""
    pattern, reach, goes_left = scratch
    fill_sides(row, sides, splits, goes_left)
    phi = np.zeros((n_outputs, n_features))
    add_trees(phi, goes_left, walked, edges, leaves, tables, (pattern, reach))
    split_start, tree_split, feature_start, tree_feature, tree_output, tree_start, \
        tree_table = whole
    for tree in whole_trees:
        bits = 0  # bit i: the row goes left at the tree's i-th split
        first = split_start[tree]
        for i in range(first, split_start[tree + 1]):
            if goes_left[tree_split[i]]:
                bits |= 1 << (i - first)
        lo, hi = feature_start[tree], feature_start[tree + 1]
        at = tree_start[tree] + bits * (hi - lo)
        for f in range(lo, hi):
            phi[tree_output[tree], tree_feature[f]] += tree_table[at + f - lo]
    return phi


def fill_tree_tables(trees: np.ndarray, split_start: np.ndarray, tree_split: np.ndarray,
                     feature_start: np.ndarray, tree_feature: np.ndarray,
                     tree_output: np.ndarray, tree_start: np.ndarray, n_splits: int,
                     edges: tuple[np.ndarray, ...], leaves: tuple[np.ndarray, ...],
                     quadrature: tuple[np.ndarray, ...], n_outputs: int,
                     n_features: int) -> np.ndarray:
    """Trees with few splits tabulated whole: for the i-th of ``trees`` (splits
    ``tree_split[split_start[i]:split_start[i + 1]]``, distinct features
    ``tree_feature[feature_start[i]:feature_start[i + 1]]``), its leaves' summed
    contributions to each of those features for every pattern of sides at its splits, at
    ``tree_start[i] + pattern · (its feature count) + the feature's place``; ``quadrature``:
    ``add_trees``' tables with no leaf tabulated."""
    table = np.zeros(tree_start[-1])
    goes_left = np.zeros(n_splits, dtype=np.bool_)
    phi = np.zeros((n_outputs, n_features))
    scratch = (np.empty(len(edges[0]), dtype=np.int64), np.empty(len(edges[0])))
    for i in range(len(trees)):
        first, count = split_start[i], split_start[i + 1] - split_start[i]
        lo, hi = feature_start[i], feature_start[i + 1]
        for pattern in range(1 << count):
            for s in range(count):
                goes_left[tree_split[first + s]] = (pattern >> s) & 1 == 1
            phi[:] = 0.0
            add_trees(phi, goes_left, trees[i:i + 1], edges, leaves, quadrature, scratch)
            at = tree_start[i] + pattern * (hi - lo)
            for f in range(lo, hi):
                table[at + f - lo] = phi[tree_output[i], tree_feature[f]]
    return table


def add_trees(phi: np.ndarray, goes_left: np.ndarray, trees: np.ndarray,
              edges: tuple[np.ndarray, ...], leaves: tuple[np.ndarray, ...],
              tables: tuple[np.ndarray, ...], scratch: tuple[np.ndarray, np.ndarray]) -> None:
    """Adds the margin contributions of ``trees``' leaves to ``phi`` (outputs, features):
    one pass over their nodes in preorder for each node's B and R_B, then one over their
    leaves. ``edges``: per node its parent (−1 at a root), the split above it, the side of it
    it is on, that split's feature's slot in the path, the edge's cover ratio and the product
    of the feature's ratios on the path down to it; per leaf its node; then where each
    tree's nodes and leaves start. ``scratch``: two arrays of a node's B and R_B, the
    caller's (fresh ones each row cost more than the pass itself on a big model)."""
    parent, edge_split, edge_left, edge_slot, edge_ratio, edge_reach, leaf_node, \
        tree_nodes, leaf_start = edges
    slot_start, ratio, feature, value, output = leaves
    table_start, table, nodes, node_weights = tables
    pattern, reach = scratch
    for tree in trees:
        for node in range(tree_nodes[tree], tree_nodes[tree + 1]):
            above = parent[node]
            if above < 0:  # the root: B empty, R_B 1
                pattern[node], reach[node] = 0, 1.0
                continue
            # no branch on the row: whether it leaves the path is as likely as not
            slot = edge_slot[node]
            away = np.int64(goes_left[edge_split[node]] != edge_left[node])
            known = (pattern[above] >> slot) & 1  # the feature is in B already
            pattern[node] = pattern[above] | (away << slot)
            reach[node] = reach[above] * (known * edge_ratio[node] + (1 - known) * (
                1.0 + away * (edge_reach[node] - 1.0)))
    for tree in trees:
        for leaf in range(leaf_start[tree], leaf_start[tree + 1]):
            first, last = slot_start[leaf], slot_start[leaf + 1]
            b, r = pattern[leaf_node[leaf]], reach[leaf_node[leaf]]
            at, out = table_start[leaf], output[leaf]
            if at < 0:
                add_leaf(phi[out], b, value[leaf], ratio[first:last], feature[first:last],
                         nodes, node_weights)
                continue
            away = r * table[at + b]  # what each feature of B loses
            for k in range(last - first):  # no branch on the row here either
                follow = (1.0 - ratio[first + k]) * r * table[at + (b | (1 << k))]
                phi[out, feature[first + k]] += follow - ((b >> k) & 1) * (away + follow)


def add_leaf(phi: np.ndarray, left_at: int, value: float, ratio: np.ndarray,
             feature: np.ndarray, nodes: np.ndarray, node_weights: np.ndarray) -> None:
    """Adds to ``phi`` (features) the contributions of a leaf with no table (``value``, its
    slots' ``ratio`` and ``feature``) for a row that leaves its path at the slots of
    ``left_at``: ``tree_shap``'s quadrature."""
    p = len(ratio)
    follows = np.zeros(p)  # s_k: the row takes the path's side at every split on k
    for k in range(p):
        follows[k] = 1.0 - ((left_at >> k) & 1)
    total = np.zeros(p)
    factor = np.zeros(p)
    prefix = np.ones(p + 1)
    for q in range((p + 1) // 2):  # G_j = ∫ Π_{k≠j} (s_k t + r_k (1 − t)) dt
        t, w = nodes[p, q], node_weights[p, q]
        for k in range(p):
            factor[k] = follows[k] * t + ratio[k] * (1.0 - t)
            prefix[k + 1] = prefix[k] * factor[k]
        suffix = w
        for j in range(p - 1, -1, -1):
            total[j] += prefix[j] * suffix
            suffix *= factor[j]
    for j in range(p):
        phi[feature[j]] += value * (follows[j] - ratio[j]) * total[j]


# ---- a row's side at a split, by each library's rules (``tree_readers``) --------------
# a split's rule (``sides[0]``); the other arrays of ``sides``: each split's input column, its
# threshold (XGBoost's and CatBoost's float32 ones held exactly in float64), CatBoost's fill
# for a missing value, the default side, LightGBM's missing types (NaN, zero), a categorical
# split's row of the last array, ``in_set`` (split × code: goes left)
XGBOOST, LIGHTGBM, CATEGORIES, CATBOOST = 0, 1, 2, 3


def fill_sides(row: np.ndarray, sides: tuple[np.ndarray, ...], splits: np.ndarray,
               goes_left: np.ndarray) -> None:
    """Sets ``goes_left[split]`` for each of ``splits``: whether ``row`` goes left there.
    XGBoost: ``x < split`` in float32, NaN to the default side. LightGBM's numeric split: NaN
    (or zero) to the default side where it learned one, else NaN read as 0 and ``x <=
    threshold``; its categorical split: left for the codes of its set, right for NaN,
    negative or unseen codes. CatBoost: left unless ``x > border`` in float32, a missing value
    read as the feature's fill. (One loop, no call a split: passing the rules' arrays to a
    function a split cost more than the walk.)"""
    rule, column, threshold, fill, default_left, nan_missing, zero_missing, category_row, \
        in_set = sides
    n_codes = in_set.shape[1]
    for split in splits:
        value = row[column[split]]
        nan = np.isnan(value)
        kind = rule[split]
        if kind == XGBOOST:
            goes = default_left[split] if nan else np.float64(np.float32(value)) < threshold[
                split]
        elif kind == CATBOOST:
            rounded = fill[split] if nan else np.float64(np.float32(value))
            goes = not rounded > threshold[split]
        elif kind == CATEGORIES:
            goes = (not nan and value >= 0 and value < n_codes
                    and in_set[category_row[split], int(value)])
        else:
            filled = 0.0 if nan and not nan_missing[split] else value
            if (nan_missing[split] and nan) or (zero_missing[split] and abs(filled) <= 1e-35):
                goes = default_left[split]
            else:
                goes = filled <= threshold[split]
        goes_left[split] = goes
