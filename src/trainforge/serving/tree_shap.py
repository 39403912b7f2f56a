"""Exact path-dependent TreeSHAP for a few rows, all leaves of all trees at once, in numpy.

The libraries' own TreeSHAP calls cost milliseconds a row before and around the arithmetic
(CatBoost prepares its trees on every call: ~25 ms for 300 trees; XGBoost builds a DMatrix
and runs its recursion: ~5–15 ms), which a served blend of several boosters pays once per
member. Here each model's trees are read once into leaf paths, and a row costs a few array
operations over every leaf.

The formula (Lundberg et al.'s path-dependent TreeSHAP, leaf by leaf): a leaf with value v
whose path asks about the distinct features P (p of them) contributes to feature j of P

    v · (s_j − r_j) · Σ_{S ⊆ P∖{j}} |S|! (p − |S| − 1)! / p! · Π_{k∈S} s_k · Π_{k∈P∖S∖{j}} r_k

where s_k is 1 when the row takes the path's side at every split on k and r_k is the product
of the path's cover ratios at those splits. Since |S|! (p − |S| − 1)! / p! = ∫₀¹ t^|S| (1 −
t)^(p−|S|−1) dt, the sum over S is ∫₀¹ Π_{k≠j} (s_k t + r_k (1 − t)) dt, a polynomial of degree
p − 1 that Gauss–Legendre with ceil(p / 2) nodes integrates exactly: O(p²) per leaf, in a loop
numba compiles. The sum over j telescopes to v·1[row reaches the leaf] − v·Π_k r_k, so
contributions plus the base value (Σ v·Π r, plus the model's bias) are the model's margin.

A row does not integrate, though: the integrals depend only on which path features the row
leaves, so they are tabulated when the explainer is built (``shap_kernels``: per leaf as in
Fast TreeSHAP v2, per whole tree for oblivious trees), and a row costs O(p) per leaf.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainforge.serving.catboost_trees import exported_model, missing_fill
from trainforge.serving.shap_kernels import compiled, table_layout

# leaves whose paths ask about more distinct features are walked, not tabulated: a table
# holds 2^p floats (8 KiB at 10); boosters' leaves rarely go deeper (adult's blend: 2 of 60,000)
TABLE_DEPTH = 10
# trees with at most this many distinct splits are tabulated whole, 2^s rows of their features'
# contributions (CatBoost's oblivious trees, depth 6: 64 rows of ≤ 6); 8: ≤ 16 KiB a tree
TREE_TABLE_SPLITS = 8
# a row's side at every split of the model: True where it goes left
Decide = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class _Tree:
    """One tree as nested nodes: ``nodes[i] = (split, left, right, cover)`` for a split
    (``split`` its index in the model's split list), ``(None, value, None, cover)`` for a
    leaf; node 0 is the root; ``output``: the margin it adds to."""

    nodes: list[tuple[int | None, Any, Any, float]]
    output: int


class LeafPaths:
    """Every leaf of a model's trees with its path, ready for one row's contributions.

    Flat (CSR) arrays: leaf ``l``'s distinct path features are slots ``slot_start[l]`` to
    ``slot_start[l + 1]``; slot ``k``'s splits are ``node_start[k]`` to ``node_start[k + 1]``.
    """

    def __init__(self, trees: list[_Tree], split_features: np.ndarray, decide: Decide, *,
                 n_features: int, n_outputs: int, bias: np.ndarray) -> None:
        leaves: list[tuple[float, int, list[tuple[int, int, bool, float]]]] = []
        leaf_start = [0]
        for tree in trees:
            self._walk(tree, 0, [], leaves, split_features)
            leaf_start.append(len(leaves))
        slot_start, node_start = [0], [0]
        ratios, features, splits, lefts = [], [], [], []
        for _, _, path in leaves:
            slots: dict[int, list[tuple[int, bool, float]]] = {}
            for split, feature, left, ratio in path:
                slots.setdefault(feature, []).append((split, left, ratio))
            for feature, asked in slots.items():
                features.append(feature)
                ratios.append(math.prod(ratio for _, _, ratio in asked))
                splits += [split for split, _, _ in asked]
                lefts += [left for _, left, _ in asked]
                node_start.append(len(splits))
            slot_start.append(len(features))
        self.slot_start = np.asarray(slot_start, dtype=np.int64)
        self.node_start = np.asarray(node_start, dtype=np.int64)
        self.ratio = np.asarray(ratios, dtype=np.float64)
        self.feature = np.asarray(features, dtype=np.int64)
        self.split = np.asarray(splits, dtype=np.int64)
        self.left = np.asarray(lefts, dtype=np.bool_)
        # each split's slot, counted from its leaf's first: the bit it sets in the leaf's B
        slot_of = np.repeat(np.arange(len(features)), np.diff(self.node_start))
        leaf_of = np.repeat(np.arange(len(leaves)), np.diff(self.slot_start))
        self.node_slot = (slot_of - self.slot_start[leaf_of[slot_of]]).astype(np.int64)
        self.value = np.asarray([value for value, _, _ in leaves], dtype=np.float64)
        self.output = np.asarray([output for _, output, _ in leaves], dtype=np.int64)
        depth = int(np.diff(self.slot_start).max(initial=0))
        # Gauss–Legendre on [0, 1] with ceil(p / 2) nodes for a path of p distinct features:
        # exact for the degree p − 1 polynomial integrated below
        self.nodes = np.zeros((depth + 1, max(1, (depth + 1) // 2)))
        self.node_weights = np.zeros_like(self.nodes)
        for p in range(1, depth + 1):
            at, weight = np.polynomial.legendre.leggauss((p + 1) // 2)
            self.nodes[p, :len(at)], self.node_weights[p, :len(at)] = (at + 1) / 2, weight / 2
        self.decide, self.n_features, self.n_outputs = decide, n_features, n_outputs
        reach = np.ones(len(leaves))
        np.multiply.at(reach, np.repeat(np.arange(len(leaves)), np.diff(self.slot_start)),
                       self.ratio)
        self.base = bias + np.bincount(self.output, weights=self.value * reach,
                                       minlength=n_outputs)
        self._trees, self._leaf_start = trees, np.asarray(leaf_start, dtype=np.int64)
        self._n_splits = len(split_features)
        self.tabulate(max_depth=TABLE_DEPTH, max_tree_splits=TREE_TABLE_SPLITS)

    @staticmethod
    def _walk(tree: _Tree, node: int, path: list[tuple[int, int, bool, float]],
              leaves: list[tuple[float, int, list[tuple[int, int, bool, float]]]],
              split_features: np.ndarray) -> None:
        split, left, right, cover = tree.nodes[node]
        if split is None:
            leaves.append((float(left), tree.output, path))
            return
        for child, goes_left in ((left, True), (right, False)):
            ratio = tree.nodes[child][3] / cover if cover > 0 else 0.0
            LeafPaths._walk(tree, child, [*path, (split, int(split_features[split]), goes_left,
                                                  ratio)], leaves, split_features)

    def tabulate(self, *, max_depth: int, max_tree_splits: int) -> None:
        """(Re)build the tables ``shap_kernels`` reads: whole trees with at most
        ``max_tree_splits`` distinct splits (CatBoost's oblivious trees: their depth), then
        each other leaf whose path asks about at most ``max_depth`` distinct features; deeper
        leaves are walked."""
        splits_of = [sorted({n[0] for n in tree.nodes if n[0] is not None})
                     for tree in self._trees]
        whole = [t for t, splits in enumerate(splits_of) if len(splits) <= max_tree_splits]
        split_start, tree_splits, feature_start, tree_features, sizes = [0], [], [0], [], [0]
        for t in whole:
            slots = slice(self.slot_start[self._leaf_start[t]],
                          self.slot_start[self._leaf_start[t + 1]])
            features = sorted({int(f) for f in self.feature[slots]})
            tree_splits += splits_of[t]
            tree_features += features
            split_start.append(len(tree_splits))
            feature_start.append(len(tree_features))
            sizes.append(2 ** len(splits_of[t]) * len(features))
        tree_start = np.cumsum(sizes, dtype=np.int64)
        arrays = [np.asarray(a, dtype=np.int64) for a in (split_start, tree_splits,
                                                          feature_start, tree_features)]
        at = np.asarray(whole, dtype=np.int64)
        begin, end = self._leaf_start[at], self._leaf_start[at + 1]
        tree_table = compiled("fill_tree_tables")(
            begin, end, *arrays, tree_start, self._n_splits, self.slot_start, self.node_start,
            self.ratio, self.feature, self.split, self.left, self.node_slot, self.value,
            self.output, self.nodes, self.node_weights, self.n_outputs, self.n_features)
        outputs = np.asarray([self._trees[t].output for t in whole], dtype=np.int64)
        self.whole = (*arrays, outputs, tree_start, tree_table)
        in_whole = np.zeros(len(self.value), dtype=bool)
        for first, last in zip(begin, end, strict=True):
            in_whole[first:last] = True
        self.loose = np.flatnonzero(~in_whole)
        self.table_start = table_layout(self.slot_start, max_depth=max_depth, only=self.loose)
        self.table = compiled("fill_tables")(self.table_start, self.slot_start, self.ratio,
                                             self.value, self.nodes, self.node_weights)

    def contributions(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, outputs, features) margin contributions and (rows, outputs) base margins."""
        kernel = compiled("row_contributions")
        rows = [kernel(self.decide(row), self.loose, self.slot_start, self.node_start,
                       self.ratio, self.feature, self.split, self.left, self.node_slot,
                       self.value, self.output, self.table_start, self.table, self.nodes,
                       self.node_weights, self.whole, self.n_outputs, self.n_features)
                for row in np.asarray(matrix, dtype=np.float64)]
        return np.stack(rows), np.broadcast_to(self.base, (len(rows), self.n_outputs)).copy()

    @property
    def table_bytes(self) -> int:
        """What the tables hold in memory."""
        return int(self.table.nbytes + sum(a.nbytes for a in self.whole))


# ---- the libraries' trees ---------------------------------------------------------------------
def xgboost_paths(booster: Any, n_rounds: int, *, n_outputs: int) -> LeafPaths | None:
    """XGBoost's first ``n_rounds`` rounds (gbtree, numeric splits): ``x < split`` in float32
    goes left, NaN to the node's default side."""
    learner = json.loads(bytes(booster.save_raw("json")))["learner"]
    booster_model = learner["gradient_booster"]
    if booster_model.get("name") != "gbtree":
        return None
    model = booster_model["model"]
    if int(model["gbtree_model_param"].get("num_parallel_tree", 1)) != 1:
        return None
    trees_json = model["trees"][:n_rounds * n_outputs]
    if any(any(t.get("split_type", [])) for t in trees_json):
        return None  # categorical splits
    raw = str(learner["learner_model_param"]["base_score"]).strip("[]").split(",")
    base = [float(v) for v in raw]
    objective = learner["objective"]["name"]
    if objective == "binary:logistic":
        margins = [math.log(b / (1 - b)) for b in base]
    elif objective in ("reg:squarederror", "multi:softprob"):
        margins = base
    else:
        return None
    bias = np.resize(np.asarray(margins, dtype=np.float64), n_outputs)
    tree_info = model.get("tree_info", [0] * len(trees_json))
    features: list[int] = []
    thresholds: list[float] = []
    default_left: list[bool] = []
    trees: list[_Tree] = []
    for number, tree in enumerate(trees_json):
        left, right = tree["left_children"], tree["right_children"]
        conditions, covers = tree["split_conditions"], tree["sum_hessian"]
        split_of: dict[int, int] = {}
        for node in range(len(left)):
            if left[node] != -1:
                split_of[node] = len(features)
                features.append(tree["split_indices"][node])
                thresholds.append(conditions[node])
                default_left.append(bool(tree["default_left"][node]))
        nodes: list[tuple[int | None, Any, Any, float]] = [
            (split_of[n], left[n], right[n], float(covers[n])) if left[n] != -1
            else (None, float(np.float32(conditions[n])), None, float(covers[n]))
            for n in range(len(left))]
        trees.append(_Tree(nodes, int(tree_info[number])))
    feature_of = np.asarray(features, dtype=np.int64)
    threshold = np.asarray(thresholds, dtype=np.float32)
    nan_left = np.asarray(default_left, dtype=bool)

    def decide(row: np.ndarray) -> np.ndarray:
        value = row.astype(np.float32)[feature_of]
        return np.where(np.isnan(value), nan_left, value < threshold)

    return LeafPaths(trees, feature_of, decide, n_features=int(booster.num_features()),
                     n_outputs=n_outputs, bias=bias)


def _lightgbm_tree(structure: dict[str, Any], output: int, splits: list[dict[str, Any]]
                   ) -> _Tree:
    nodes: list[tuple[int | None, Any, Any, float]] = []

    def add(node: dict[str, Any]) -> int:
        at = len(nodes)
        if "leaf_value" in node:
            nodes.append((None, float(node["leaf_value"]), None,
                          float(node.get("leaf_count", 0))))
            return at
        nodes.append((None, None, None, 0.0))
        split = len(splits)
        splits.append(node)
        left, right = add(node["left_child"]), add(node["right_child"])
        nodes[at] = (split, left, right, float(node["internal_count"]))
        return at

    if "leaf_value" in structure and "split_index" not in structure:  # a one-leaf tree
        return _Tree([(None, float(structure["leaf_value"]), None, 1.0)], output)
    add(structure)
    return _Tree(nodes, output)


def lightgbm_paths(booster: Any, n_iterations: int, *, n_outputs: int) -> LeafPaths | None:
    """LightGBM's first ``n_iterations``, with its missing-value rules: on a numeric split NaN
    (or zero) goes to the default side where the split learned one, else NaN is read as 0; on
    a categorical split NaN goes right."""
    dumped = booster.dump_model(num_iteration=n_iterations)
    splits: list[dict[str, Any]] = []
    trees = [_lightgbm_tree(info["tree_structure"], number % n_outputs, splits)
             for number, info in enumerate(dumped["tree_info"])]
    if any(info.get("is_linear") for info in dumped["tree_info"]):
        return None
    feature_of = np.asarray([s["split_feature"] for s in splits], dtype=np.int64)
    numeric = np.asarray([s["decision_type"] == "<=" for s in splits], dtype=bool)
    threshold = np.asarray([float(s["threshold"]) if s["decision_type"] == "<=" else 0.0
                            for s in splits])
    default_left = np.asarray([bool(s["default_left"]) for s in splits], dtype=bool)
    missing = np.asarray([s.get("missing_type", "None") for s in splits])
    # decided once here, not per row: comparing string arrays cost ~0.2 ms a row
    nan_missing, zero_missing = missing == "NaN", missing == "Zero"
    categorical = np.flatnonzero(~numeric)
    sets = [[int(c) for c in str(splits[at]["threshold"]).split("||")] for at in categorical]
    largest = max((max(codes) for codes in sets), default=0)
    in_set = np.zeros((len(categorical), largest + 1), dtype=bool)  # split × code: goes left
    for row, codes in enumerate(sets):
        in_set[row, codes] = True
    rows = np.arange(len(categorical))

    def decide(row: np.ndarray) -> np.ndarray:
        value = row[feature_of]
        nan = np.isnan(value)
        filled = np.where(nan & ~nan_missing, 0.0, value)
        to_default = (nan_missing & nan) | (zero_missing & (np.abs(filled) <= 1e-35))
        goes = np.where(to_default, default_left, filled <= threshold)
        codes = value[categorical]  # in the split's set: left; NaN, negative or unseen: right
        known = ~np.isnan(codes) & (codes >= 0) & (codes < largest + 1)
        goes[categorical] = known & in_set[rows, np.where(known, codes, 0).astype(np.int64)]
        return goes

    return LeafPaths(trees, feature_of, decide, n_features=int(booster.num_feature()),
                     n_outputs=n_outputs, bias=np.zeros(n_outputs))


def catboost_paths(exported: dict[str, Any]) -> LeafPaths | None:
    """CatBoost's oblivious trees on numeric features with one value per leaf; a missing value
    goes where the feature's ``nan_value_treatment`` sends it (``catboost_trees.missing_fill``)."""
    if set(exported["features_info"]) != {"float_features"} or "oblivious_trees" not in exported:
        return None
    trees_json = exported["oblivious_trees"]
    if any(s.get("split_type") != "FloatFeature" for t in trees_json for s in t["splits"]):
        return None
    if any(len(t["leaf_values"]) != 2 ** len(t["splits"]) for t in trees_json):
        return None
    scale, bias = exported.get("scale_and_bias", [1.0, [0.0]])
    features: list[int] = []
    borders: list[float] = []
    trees: list[_Tree] = []
    for tree in trees_json:
        levels = tree["splits"]
        first = len(features)
        features += [s["float_feature_index"] for s in levels]
        borders += [s["border"] for s in levels]
        weights = np.asarray(tree["leaf_weights"], dtype=np.float64)
        values = np.asarray(tree["leaf_values"], dtype=np.float64) * float(scale)
        nodes: list[tuple[int | None, Any, Any, float]] = []

        def add(level: int, prefix: int, first: int = first, weights: np.ndarray = weights,
                values: np.ndarray = values,
                nodes: list[tuple[int | None, Any, Any, float]] = nodes) -> int:
            # the leaf number's bit i says "above split i's border" (right); the last split is
            # taken as the root, and a node's cover is its leaves' weights
            at = len(nodes)
            if level < 0:
                nodes.append((None, values[prefix], None, float(weights[prefix])))
                return at
            nodes.append((None, None, None, 0.0))
            left, right = add(level - 1, prefix), add(level - 1, prefix | (1 << level))
            under = (np.arange(len(weights)) >> (level + 1)) == (prefix >> (level + 1))
            nodes[at] = (first + level, left, right, float(weights[under].sum()))
            return at

        add(len(levels) - 1, 0)
        trees.append(_Tree(nodes, 0))
    feature_of = np.asarray(features, dtype=np.int64)
    border = np.asarray(borders, dtype=np.float32)
    fill = missing_fill(exported)[feature_of]

    def decide(row: np.ndarray) -> np.ndarray:
        value = row.astype(np.float32)[feature_of]
        value = np.where(np.isnan(value), fill, value)
        return np.asarray(~(value > border))

    return LeafPaths(trees, feature_of, decide, n_features=len(exported["features_info"][
        "float_features"]), n_outputs=1, bias=np.asarray([float(bias[0])]))


def leaf_paths(estimator: Any) -> LeafPaths | None:
    """The leaf paths of one of trainforge's boosters (its best iteration), or None for
    another estimator or a configuration not read here."""
    kind = type(estimator)
    if kind.__module__ != "trainforge.algorithms.boosting":
        return None
    n_outputs = int(estimator.n_classes) if estimator.task_kind == "multiclass" else 1
    if kind.__name__ == "LightGBMModel":
        return lightgbm_paths(estimator.booster_, int(estimator.best_iteration_),
                              n_outputs=n_outputs)
    if kind.__name__ == "XGBoostModel":
        return xgboost_paths(estimator.booster_, int(estimator.best_iteration_),
                             n_outputs=n_outputs)
    if kind.__name__ == "CatBoostModel" and n_outputs == 1:
        return catboost_paths(exported_model(estimator.booster_))
    return None
