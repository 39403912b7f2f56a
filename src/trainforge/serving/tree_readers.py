"""Each library's trees read into ``tree_shap.LeafPaths``: XGBoost's JSON dump, LightGBM's
model dump, CatBoost's exported oblivious trees. Each reader gives None for a configuration it
does not read (another booster type, categorical splits, an objective whose link is not known
here), and the caller then lets the library explain the model itself.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from trainforge.serving.catboost_trees import exported_model, missing_fill
from trainforge.serving.shap_kernels import CATBOOST, CATEGORIES, LIGHTGBM, XGBOOST
from trainforge.serving.tree_shap import LeafPaths, PathTooLong, Tree, split_rules


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
    trees: list[Tree] = []
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
        trees.append(Tree(nodes, int(tree_info[number])))
    sides = split_rules(np.full(len(features), XGBOOST), np.asarray(features),
                        threshold=np.asarray(thresholds, dtype=np.float32),
                        default_left=np.asarray(default_left))
    return LeafPaths(trees, sides, n_features=int(booster.num_features()),
                     n_outputs=n_outputs, bias=bias)


def _lightgbm_tree(structure: dict[str, Any], output: int, splits: list[dict[str, Any]]
                   ) -> Tree:
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
        return Tree([(None, float(structure["leaf_value"]), None, 1.0)], output)
    add(structure)
    return Tree(nodes, output)


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
    category_row = np.full(len(splits), -1, dtype=np.int64)  # a split's row of in_set
    category_row[categorical] = np.arange(len(categorical))
    sides = split_rules(np.where(numeric, LIGHTGBM, CATEGORIES), feature_of,
                        threshold=threshold, default_left=default_left,
                        nan_missing=nan_missing, zero_missing=zero_missing,
                        category_row=category_row, in_set=in_set)
    return LeafPaths(trees, sides, n_features=int(booster.num_feature()),
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
    trees: list[Tree] = []
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
        trees.append(Tree(nodes, 0))
    feature_of = np.asarray(features, dtype=np.int64)
    sides = split_rules(np.full(len(features), CATBOOST), feature_of,
                        threshold=np.asarray(borders, dtype=np.float32),
                        fill=missing_fill(exported)[feature_of])
    return LeafPaths(trees, sides, n_features=len(exported["features_info"][
        "float_features"]), n_outputs=1, bias=np.asarray([float(bias[0])]))


def leaf_paths(estimator: Any) -> LeafPaths | None:
    """The leaf paths of one of trainforge's boosters (its best iteration), or None for
    another estimator or a configuration not read here."""
    kind = type(estimator)
    if kind.__module__ != "trainforge.algorithms.boosting":
        return None
    n_outputs = int(estimator.n_classes) if estimator.task_kind == "multiclass" else 1
    try:
        if kind.__name__ == "LightGBMModel":
            return lightgbm_paths(estimator.booster_, int(estimator.best_iteration_),
                                  n_outputs=n_outputs)
        if kind.__name__ == "XGBoostModel":
            return xgboost_paths(estimator.booster_, int(estimator.best_iteration_),
                                 n_outputs=n_outputs)
        if kind.__name__ == "CatBoostModel" and n_outputs == 1:
            return catboost_paths(exported_model(estimator.booster_))
    except PathTooLong:
        return None  # its library explains it
    return None
