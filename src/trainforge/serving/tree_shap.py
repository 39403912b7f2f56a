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

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainforge.serving.shap_kernels import (
    compiled,
    table_layout,
)

# leaves whose paths ask about more distinct features are walked, not tabulated: a table
# holds 2^p floats (8 KiB at 10); boosters' leaves rarely go deeper (adult's blend: 2 of 60,000)
TABLE_DEPTH = 10
# trees with at most this many distinct splits are tabulated whole, 2^s rows of their features'
# contributions (CatBoost's oblivious trees, depth 6: 64 rows of ≤ 6); 8: ≤ 16 KiB a tree
TREE_TABLE_SPLITS = 8
# a tree's tables cost a row about one node's work per this many entries, beside its nodes and
# path features: a deep leaf's look-ups miss the cache (the 8-booster adult blend: parts of
# equal nodes + path features took 0.37 ms with 1 MiB of tables, 0.75 ms with 9–10 MiB)
TABLE_WORK = 16
# a row's B (the path features it leaves) is a bit mask: a model with a longer path is not walked
MAX_PATH_FEATURES = 62
# some of a model's trees: walked ones (their numbers), whole-tabulated ones (their places),
# and the splits they ask about
Part = tuple[np.ndarray, np.ndarray, np.ndarray]


class PathTooLong(ValueError):
    """A path asks about more distinct features than a row's bit mask holds."""


def split_rules(rule: np.ndarray, column: np.ndarray, *, threshold: np.ndarray | None = None,
                fill: np.ndarray | None = None, default_left: np.ndarray | None = None,
                nan_missing: np.ndarray | None = None, zero_missing: np.ndarray | None = None,
                category_row: np.ndarray | None = None, in_set: np.ndarray | None = None
                ) -> tuple[np.ndarray, ...]:
    """The ``sides`` ``shap_kernels.fill_sides`` reads: per split its ``rule`` (``XGBOOST``,
    ``LIGHTGBM``, ``CATEGORIES``, ``CATBOOST``) and input ``column``, and what that rule
    needs (the rest left at values no rule reads)."""
    n_splits = len(rule)

    def given(values: np.ndarray | None, dtype: Any, default: Any) -> np.ndarray:
        return np.full(n_splits, default, dtype=dtype) if values is None \
            else np.asarray(values, dtype=dtype)

    return (np.asarray(rule, dtype=np.int64), np.asarray(column, dtype=np.int64),
            given(threshold, np.float64, 0.0), given(fill, np.float64, np.nan),
            given(default_left, np.bool_, False), given(nan_missing, np.bool_, False),
            given(zero_missing, np.bool_, False), given(category_row, np.int64, -1),
            np.zeros((1, 1), dtype=np.bool_) if in_set is None else in_set)


@dataclass(frozen=True)
class Tree:
    """One tree as nested nodes: ``nodes[i] = (split, left, right, cover)`` for a split
    (``split`` its index in the model's split list), ``(None, value, None, cover)`` for a
    leaf; node 0 is the root; ``output``: the margin it adds to."""

    nodes: list[tuple[int | None, Any, Any, float]]
    output: int


class LeafPaths:
    """Every leaf of a model's trees with its path, ready for one row's contributions.

    Flat (CSR) arrays: leaf ``l``'s distinct path features are slots ``slot_start[l]`` to
    ``slot_start[l + 1]`` (in the order the path first asks about them), each with its
    feature and the product of its splits' cover ratios. The trees' nodes, in preorder (a
    tree's leaves in the leaves' order), carry what one pass needs to follow a row (``edges``,
    see ``shap_kernels.add_trees``).
    """

    def __init__(self, trees: list[Tree], sides: tuple[np.ndarray, ...], *,
                 n_features: int, n_outputs: int, bias: np.ndarray) -> None:
        """``sides``: every split's rule (``split_rules``), the splits numbered as the trees'
        nodes number them."""
        split_features = sides[1]
        leaves: list[tuple[float, int, list[tuple[int, float]]]] = []
        nodes: list[tuple[int, int, bool, int, float, float, bool]] = []
        tree_nodes, leaf_start = [0], [0]
        for tree in trees:
            self._walk(tree, split_features, leaves, nodes)
            tree_nodes.append(len(nodes))
            leaf_start.append(len(leaves))
        slot_start = np.cumsum([0] + [len(path) for _, _, path in leaves], dtype=np.int64)
        depth = int(np.diff(slot_start).max(initial=0))
        if depth > MAX_PATH_FEATURES:  # a row's B is a bit mask in 64 bits
            raise PathTooLong(f"a path asks about {depth} distinct features; the walk reads "
                             f"paths of at most {MAX_PATH_FEATURES}")
        self.slot_start = slot_start
        self.feature = np.asarray([f for _, _, path in leaves for f, _ in path], dtype=np.int64)
        self.ratio = np.asarray([r for _, _, path in leaves for _, r in path], dtype=np.float64)
        self.value = np.asarray([value for value, _, _ in leaves], dtype=np.float64)
        self.output = np.asarray([output for _, output, _ in leaves], dtype=np.int64)
        columns = list(zip(*nodes, strict=True))
        leaf_node = np.flatnonzero(columns[6])  # preorder: the leaves in their order
        self.edges = (*(np.asarray(c, dtype=t) for c, t in zip(columns[:6], (
            np.int64, np.int64, np.bool_, np.int64, np.float64, np.float64), strict=True)),
            leaf_node, np.asarray(tree_nodes, dtype=np.int64),
            np.asarray(leaf_start, dtype=np.int64))
        # Gauss–Legendre on [0, 1] with ceil(p / 2) nodes for a path of p distinct features:
        # exact for the degree p − 1 polynomial integrated below
        self.nodes = np.zeros((depth + 1, max(1, (depth + 1) // 2)))
        self.node_weights = np.zeros_like(self.nodes)
        for p in range(1, depth + 1):
            at, weight = np.polynomial.legendre.leggauss((p + 1) // 2)
            self.nodes[p, :len(at)], self.node_weights[p, :len(at)] = (at + 1) / 2, weight / 2
        self.sides, self.n_features, self.n_outputs = sides, n_features, n_outputs
        # per tree, the span of split numbers its nodes use: a part decides a row's side there
        self.split_range = np.zeros((len(trees), 2), dtype=np.int64)
        for number, tree in enumerate(trees):
            used = [node[0] for node in tree.nodes if node[0] is not None]
            if used:
                self.split_range[number] = min(used), max(used) + 1
        reach = np.ones(len(leaves))
        np.multiply.at(reach, np.repeat(np.arange(len(leaves)), np.diff(self.slot_start)),
                       self.ratio)
        self.base = bias + np.bincount(self.output, weights=self.value * reach,
                                       minlength=n_outputs)
        self._trees, self._leaf_start = trees, np.asarray(leaf_start, dtype=np.int64)
        self._scratch = threading.local()
        self.n_splits = len(split_features)
        self.tabulate(max_depth=TABLE_DEPTH, max_tree_splits=TREE_TABLE_SPLITS)

    @staticmethod
    def _walk(tree: Tree, split_features: np.ndarray,
              leaves: list[tuple[float, int, list[tuple[int, float]]]],
              nodes: list[tuple[int, int, bool, int, float, float, bool]]) -> None:
        """Appends ``tree``'s leaves (value, output, per distinct path feature its feature
        and ratio product) and its nodes in preorder (parent, split above, on its left side,
        that feature's slot, the edge's ratio, the feature's ratio product so far, a leaf)."""
        # (node, its parent's place, the edge above it, its path's distinct features with
        # their products)
        stack: list[tuple[int, int, tuple[int, bool, int, float, float], list[tuple[int, float]]]]
        stack = [(0, -1, (-1, False, 0, 1.0, 1.0), [])]
        while stack:
            node, parent, edge, path = stack.pop()
            split, left, right, cover = tree.nodes[node]
            at = len(nodes)
            nodes.append((parent, *edge, split is None))
            if split is None:
                leaves.append((float(left), tree.output, path))
                continue
            feature = int(split_features[split])
            slot = next((k for k, (f, _) in enumerate(path) if f == feature), len(path))
            before = path[slot][1] if slot < len(path) else 1.0
            for child, goes_left in ((right, False), (left, True)):  # popped left first
                ratio = tree.nodes[child][3] / cover if cover > 0 else 0.0
                below = [*path[:slot], (feature, before * ratio), *path[slot + 1:]]
                stack.append((child, at, (split, goes_left, slot, ratio, before * ratio),
                              below))

    def tabulate(self, *, max_depth: int, max_tree_splits: int) -> None:
        """(Re)build the tables ``shap_kernels`` reads: whole trees with at most
        ``max_tree_splits`` distinct splits (CatBoost's oblivious trees: their depth), then
        each leaf of the other trees whose path asks about at most ``max_depth`` distinct
        features; deeper leaves are walked."""
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
        outputs = np.asarray([self._trees[t].output for t in whole], dtype=np.int64)
        no_tables = (np.full(len(self.value) + 1, -1, dtype=np.int64), np.zeros(1),
                     self.nodes, self.node_weights)
        tree_table = compiled("fill_tree_tables")(
            np.asarray(whole, dtype=np.int64), *arrays, outputs, tree_start, self.n_splits,
            self.edges, self.leaves, no_tables, self.n_outputs, self.n_features)
        self.whole = (*arrays, outputs, tree_start, tree_table)
        self.whole_trees = np.asarray(whole, dtype=np.int64)  # their numbers among the trees
        walked = np.ones(len(self._trees), dtype=bool)
        walked[whole] = False
        self.walked = np.flatnonzero(walked)
        in_walked = np.repeat(walked, np.diff(self._leaf_start))  # per leaf
        table_start = table_layout(self.slot_start, max_depth=max_depth,
                                   only=np.flatnonzero(in_walked))
        self.tables = (table_start, compiled("fill_tables")(
            table_start, self.slot_start, self.ratio, self.value, self.nodes,
            self.node_weights), self.nodes, self.node_weights)

    @property
    def leaves(self) -> tuple[np.ndarray, ...]:
        """The leaves' arrays ``shap_kernels.add_leaf`` reads."""
        return self.slot_start, self.ratio, self.feature, self.value, self.output

    @property
    def table_start(self) -> np.ndarray:
        """Per leaf, where its table starts (−1: none); one more entry: the tables' length."""
        return self.tables[0]

    @property
    def _work(self) -> np.ndarray:
        """Per walked tree, then per whole-tabulated one, what a row costs there: its nodes,
        its leaves' path features and its tables' size over ``TABLE_WORK``, or its splits and
        features."""
        nodes = np.diff(self.edges[7])[self.walked]
        slots = np.diff(self.slot_start[self._leaf_start])[self.walked]
        tabulated = self.table_start[:-1] >= 0
        entries = np.where(tabulated, 2 ** np.diff(self.slot_start), 0)
        held = np.concatenate([[0], np.cumsum(entries)])[self._leaf_start]
        tables = np.diff(held)[self.walked] // TABLE_WORK
        return np.concatenate([nodes + slots + tables,
                               np.diff(self.whole[0]) + np.diff(self.whole[2])])

    @property
    def work(self) -> int:
        """What one row costs, in nodes and path features visited (a core does ~100 a µs)
        and its tables' size (``TABLE_WORK``)."""
        return int(self._work.sum())

    def parts(self, n_parts: int) -> list[Part]:
        """The trees split into at most ``n_parts`` parts of about equal work, for explaining
        one row on several cores: their ``margins`` add up to the whole model's."""
        work = self._work
        cut = np.searchsorted(np.cumsum(work), np.sum(work) * np.arange(1, n_parts) / n_parts)
        bounds = [0, *np.unique(cut).tolist(), len(work)]
        n_walked = len(self.walked)
        parts = []
        for lo, hi in itertools.pairwise(bounds):
            trees = np.arange(lo, hi)
            if len(trees):
                walked, whole = self.walked[trees[trees < n_walked]], trees[
                    trees >= n_walked] - n_walked
                parts.append((walked, whole, self._splits_of(np.concatenate(
                    [walked, self.whole_trees[whole]]))))
        return parts

    def _splits_of(self, trees: np.ndarray) -> np.ndarray:
        return np.concatenate([np.arange(0, dtype=np.int64), *(
            np.arange(*self.split_range[tree]) for tree in trees)])

    def margins(self, row: np.ndarray, part: Part | None = None) -> np.ndarray:
        """One row's (outputs, features) margin contributions from the trees of ``part``
        (all by default), without the base margin."""
        walked, whole, splits = (self.walked, np.arange(len(self.whole[4])),
                                 np.arange(self.n_splits)) if part is None else part
        scratch = getattr(self._scratch, "arrays", None)
        if scratch is None:  # one set per thread: parts of one model run side by side
            scratch = self._scratch.arrays = (np.empty(len(self.edges[0]), dtype=np.int64),
                                              np.empty(len(self.edges[0])),
                                              np.empty(self.n_splits, dtype=np.bool_))
        phi: np.ndarray = compiled("row_contributions")(
            row, self.sides, splits, walked, whole, self.edges, self.leaves,
            self.tables, self.whole, self.n_outputs, self.n_features, scratch)
        return phi

    def contributions(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, outputs, features) margin contributions and (rows, outputs) base margins."""
        rows = np.asarray(matrix, dtype=np.float64)
        values = np.empty((len(rows), self.n_outputs, self.n_features))
        for at, row in enumerate(rows):
            values[at] = self.margins(row)
        return values, np.repeat(self.base[None], len(rows), axis=0)

    @property
    def table_bytes(self) -> int:
        """What the tables hold in memory."""
        return int(self.tables[1].nbytes + sum(a.nbytes for a in self.whole))


    @classmethod
    def joined(cls, models: Sequence[tuple[LeafPaths, np.ndarray]], *,
               n_features: int) -> LeafPaths:
        """Several models' paths as one, so that a blend's members are explained in one call
        a part. The i-th of ``models`` (its paths, and for each column it reads the one of the
        ``n_features`` its contributions go to) reads its row's columns after those of the
        models before it, and its k margins are the result's i·k to i·k + k − 1 (k the same
        for every model): one row's margins are every model's, each folded into the
        ``n_features`` columns, and ``base`` every model's base margins in turn. The result's
        tables are its models' (it is not tabulated again)."""
        pieces: dict[str, list[np.ndarray]] = {}
        at = dict.fromkeys(_COUNTS, 0)  # what the models before this one hold of each
        for paths, columns in models:
            for name, (values, numbered_by, keep_negative) in _pieces(paths, columns).items():
                if numbered_by is not None:  # renumbered after the models before it
                    moved = values + at[numbered_by]
                    values = np.where(values < 0, values, moved) if keep_negative else moved
                pieces.setdefault(name, []).append(values)
            for name, size in _counts(paths).items():
                at[name] += size

        def of(name: str, *, end: str | None = None) -> np.ndarray:
            """A joined array; ``end``: a start array's last entry, the total of that."""
            tail = [np.asarray([at[end]])] if end is not None else []
            return np.concatenate(pieces[name] + tail)

        widest = max(in_set.shape[1] for in_set in pieces["in_set"])
        in_set = np.concatenate([np.pad(codes, ((0, 0), (0, widest - codes.shape[1])))
                                 for codes in pieces["in_set"]])
        deepest = max((paths for paths, _ in models), key=lambda paths: paths.nodes.shape[0])
        joined = cls.__new__(cls)
        joined.slot_start = of("slot_start", end="slots")
        joined.feature, joined.ratio, joined.value = of("feature"), of("ratio"), of("value")
        joined.output = of("output")
        joined.edges = (of("parent"), of("edge_split"), of("left"), of("slot"),
                        of("ratio_edge"), of("reach"), of("leaf_node"),
                        of("tree_nodes", end="nodes"), of("leaf_start", end="leaves"))
        joined.nodes, joined.node_weights = deepest.nodes, deepest.node_weights
        joined.sides = (of("side0"), of("column"), of("side2"), of("side3"), of("side4"),
                        of("side5"), of("side6"), of("category_row"), in_set)
        joined.split_range = of("split_range")
        joined.n_features, joined.n_outputs, joined.n_splits = n_features, at["outputs"], \
            at["splits"]
        joined.base = of("base")
        joined.whole = (of("split_start", end="whole_splits"), of("tree_split"),
                        of("feature_start", end="whole_features"), of("tree_feature"),
                        of("whole_output"), of("tree_start", end="whole_table"),
                        of("tree_table"))
        joined.walked, joined.whole_trees = of("walked"), of("whole_trees")
        joined.tables = (of("table_start", end="tables"), of("table"), joined.nodes,
                         joined.node_weights)
        joined._trees, joined._leaf_start = [], joined.edges[8]
        joined._scratch = threading.local()
        return joined


# what one model of a joined LeafPaths adds to each count its arrays are numbered by
_COUNTS = ("nodes", "leaves", "slots", "splits", "trees", "tables", "whole", "whole_splits",
           "whole_features", "whole_table", "columns", "outputs", "categories")


def _counts(paths: LeafPaths) -> dict[str, int]:
    parent, tree_split, tree_feature = paths.edges[0], paths.whole[1], paths.whole[3]
    return {"nodes": len(parent), "leaves": len(paths.value), "slots": len(paths.ratio),
            "splits": paths.n_splits, "trees": len(paths.split_range),
            "tables": len(paths.tables[1]), "whole": len(paths.whole[4]),
            "whole_splits": len(tree_split), "whole_features": len(tree_feature),
            "whole_table": len(paths.whole[6]), "columns": paths.n_features,
            "outputs": paths.n_outputs, "categories": len(paths.sides[8])}


def _pieces(paths: LeafPaths, columns: np.ndarray
            ) -> dict[str, tuple[np.ndarray, str | None, bool]]:
    """One model's share of each joined array: its values, the count (``_COUNTS``) they
    number into (None: values, not numbers) and whether a negative number (none) stays as
    it is; start arrays without their last entry, features as the joined columns."""
    parent, edge_split, left, slot, ratio, reach, leaf_node, tree_nodes, leaf_start = \
        paths.edges
    split_start, tree_split, feature_start, tree_feature, outputs, tree_start, tree_table = \
        paths.whole
    numbers = {"parent": (parent, "nodes", True), "edge_split": (edge_split, "splits", True),
               "leaf_node": (leaf_node, "nodes", True),
               "table_start": (paths.table_start[:-1], "tables", True),
               "category_row": (paths.sides[7], "categories", True),
               "tree_nodes": (tree_nodes[:-1], "nodes", False),
               "leaf_start": (leaf_start[:-1], "leaves", False),
               "slot_start": (paths.slot_start[:-1], "slots", False),
               "output": (paths.output, "outputs", False),
               "walked": (paths.walked, "trees", False),
               "whole_trees": (paths.whole_trees, "trees", False),
               "split_range": (paths.split_range, "splits", False),
               "split_start": (split_start[:-1], "whole_splits", False),
               "tree_split": (tree_split, "splits", False),
               "feature_start": (feature_start[:-1], "whole_features", False),
               "whole_output": (outputs, "outputs", False),
               "tree_start": (tree_start[:-1], "whole_table", False),
               "column": (paths.sides[1], "columns", False)}
    values = {"left": left, "slot": slot, "ratio_edge": ratio, "reach": reach,
              "ratio": paths.ratio, "value": paths.value, "table": paths.tables[1],
              "tree_table": tree_table, "base": paths.base,
              "feature": columns[paths.feature], "tree_feature": columns[tree_feature],
              "in_set": paths.sides[8],
              **{f"side{i}": paths.sides[i] for i in (0, 2, 3, 4, 5, 6)}}
    pieces: dict[str, tuple[np.ndarray, str | None, bool]] = {
        name: (np.asarray(array), by, keep) for name, (array, by, keep) in numbers.items()}
    pieces.update({name: (np.asarray(array), None, False) for name, array in values.items()})
    return pieces

