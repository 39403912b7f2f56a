"""Each prediction's contributions (SHAP values): how far each input column moved a table
model's output from its base value, over the model's ORIGINAL columns.

Units are the model's own outputs: each class's probability for a classifier, the value for a
regressor. For every row and output, ``base_values + values.sum(features)`` is the model's
output. How each member of the blend gets there:

- LightGBM, XGBoost, CatBoost: exact TreeSHAP from the library itself (``pred_contrib``,
  ``pred_contribs``, ``ShapValues``), in the booster's margin (log-odds, or one margin per
  class). A classifier's margins are carried into probabilities along the straight line from
  the base margin to the row's margin (integrated gradients of the sigmoid or softmax link):
  each feature keeps its share of the margin's move, the parts still sum exactly to the
  probability's move, and the base value is the link of the mean margin. For a binary model
  this is the margin contributions scaled by (σ(m) − σ(b)) / (m − b).
- scikit-learn forests and trees: exact path-dependent TreeSHAP (shap's compiled core, loaded
  by ``forest_shap`` without numba; shap's TreeExplainer where the core is not found), which
  is already in probabilities (a forest averages its leaves' class shares).
- any other member: permutation Shapley values over the original columns against a small
  background sample (antithetic permutations; each permutation's steps telescope, so they sum
  exactly to the output's move from the background's mean output, the base value).

Tree members are explained over the encoded columns their preprocessor makes; each encoded
column's contribution is summed back to the input column it came from (a one-hot group, a
date's parts, a text column's words all fold into their column). A blend is explained by its
weights: each member's contributions (and base value) weighted as its output is, so the
blend's own contributions sum exactly to its output (the weighted sum of its members'
probabilities or values).

It lives beside the model, below the report (``evaluation.explanations``) and serving
(``serving.explain``), which both use it; importing it loads neither scikit-learn nor shap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from trainforge.algorithms import forest_shap
from trainforge.algorithms.forest_shap import forest_contributions
from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, coerce_frame

# (rows, outputs, columns) contributions and (rows, outputs) base values of one member
Explained = tuple[np.ndarray, np.ndarray]
MemberFn = Callable[[Any], Explained]


@runtime_checkable
class InParts(Protocol):
    """A member function that can also explain its rows in parts run side by side (serving's
    walk of a big booster): ``parts`` gives the calls (None: explain these rows in one call),
    ``joined`` makes their results, in the same order, into the member's contributions;
    ``work`` is what one row costs it (any unit, the same for every member)."""

    work: int

    def __call__(self, matrix: Any) -> Explained: ...

    def parts(self, matrix: Any) -> Sequence[Callable[[], Any]] | None: ...

    def joined(self, results: Sequence[Any]) -> Explained: ...

PERMUTATIONS = 10  # antithetic: 5 random orders and their reverses
MAX_BACKGROUND = 25  # background rows the permutation method averages over
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(48)  # the link's path integral, on [-1, 1]


@dataclass(frozen=True)
class Contributions:
    """Contributions of ``n`` rows: ``values`` (rows, outputs, features) and ``base_values``
    (rows, outputs); ``outputs`` names each output (a class label, or "value"), ``units`` says
    what they are in ("probability" or "value")."""

    features: tuple[str, ...]
    outputs: tuple[str, ...]
    values: np.ndarray
    base_values: np.ndarray
    units: str

    @property
    def explained(self) -> np.ndarray:
        """What the contributions add up to: the model's output, (rows, outputs)."""
        return np.asarray(self.base_values + self.values.sum(axis=2))


# ---- which encoded column came from which input column ----------------------------------------
def source_columns(preprocessor: Any, features: Sequence[str]) -> np.ndarray | None:
    """For each column ``preprocessor`` outputs, the position in ``features`` of the input
    column it was made from; None for a preprocessor whose layout is not known here."""
    at = {name: i for i, name in enumerate(features)}
    if hasattr(preprocessor, "plan_"):  # trainforge's TablePreprocessor
        dense = [at[s["name"]] for s in preprocessor.plan_ if s["op"] != "text"
                 for _ in range(int(s["width"]))]
        text = [at[s["name"]] for s in preprocessor.plan_ if s["op"] == "text"
                for _ in preprocessor.encoders_[s["encoder"]].get_feature_names_out()]
        return np.asarray(dense + text, dtype=np.int64)  # text blocks come after the rest
    if not hasattr(preprocessor, "transformers_"):
        return None
    names = [str(n) for n in getattr(preprocessor, "feature_names_in_", [])]
    sources: list[int] = []
    for _, step, selection in preprocessor.transformers_:
        if isinstance(step, str) and step == "drop":
            continue
        selected = _selected(selection, names)
        widths = _widths(step, len(selected))
        if widths is None or any(name not in at for name in selected):
            return None
        sources += [at[name] for name, width in zip(selected, widths, strict=True)
                    for _ in range(width)]
    return np.asarray(sources, dtype=np.int64)


def _selected(selection: Any, names: list[str]) -> list[str]:
    if isinstance(selection, str):
        return [selection]
    items = list(np.arange(len(names))[selection] if isinstance(selection, slice) else selection)
    if items and isinstance(items[0], (bool, np.bool_)):
        return [n for n, keep in zip(names, items, strict=True) if keep]
    return [names[int(i)] if not isinstance(i, str) else i for i in items]


def _widths(step: Any, n_inputs: int) -> list[int] | None:
    """Output columns per input column of one ColumnTransformer step; None if unknown."""
    steps = [s for _, s in step.steps] if hasattr(step, "steps") else [step]
    widths = [1] * n_inputs
    for part in steps:
        kind = type(part).__name__
        if isinstance(part, str) and part == "passthrough":
            continue
        if kind == "OneHotEncoder" and part.drop_idx_ is None \
                and not getattr(part, "_infrequent_enabled", False):
            widths = [len(c) for c in part.categories_]
        elif kind not in ("OrdinalEncoder", "SimpleImputer", "StandardScaler",
                          "FunctionTransformer") or getattr(part, "add_indicator", False):
            return None
    return widths


def _folding(sources: np.ndarray, n_features: int) -> np.ndarray:
    """(encoded, original) 0/1 matrix: contributions @ it sums each group into its column."""
    fold = np.zeros((len(sources), n_features))
    fold[np.arange(len(sources)), sources] = 1.0
    return fold


# ---- margins into probabilities ---------------------------------------------------------------
def _sigmoid(margin: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-margin)))


def _softmax(margins: np.ndarray) -> np.ndarray:
    shifted = np.exp(margins - margins.max(axis=-1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=-1, keepdims=True))


def binary_link(values: np.ndarray, base: np.ndarray) -> Explained:
    """Margin contributions (rows, columns) and base margins (rows,) of a binary booster as
    probability contributions of both classes: (rows, 2, columns) and (rows, 2)."""
    move = values.sum(axis=1)
    base_p, row_p = _sigmoid(base), _sigmoid(base + move)
    slope = base_p * (1.0 - base_p)  # the limit where the margin did not move
    tiny = np.abs(move) < 1e-12
    scale = np.where(tiny, slope, (row_p - base_p) / np.where(tiny, 1.0, move))
    both = np.empty((len(values), 2, values.shape[1]))  # filled in place: np.stack's
    both[:, 1] = values * scale[:, None]  # dispatch costs more than the arithmetic on a row
    np.negative(both[:, 1], out=both[:, 0])
    base_both = np.empty((len(values), 2))
    base_both[:, 1] = base_p
    base_both[:, 0] = 1.0 - base_p
    return both, base_both


def softmax_link(values: np.ndarray, base: np.ndarray) -> Explained:
    """Margin contributions (rows, classes, columns) and base margins (rows, classes) of a
    multiclass booster as probability contributions: the softmax's Jacobian integrated along
    the straight line from the base margins to the row's (Gauss–Legendre, 48 nodes)."""
    move = values.sum(axis=2)  # (rows, classes)
    averaged = np.zeros((*move.shape, move.shape[1]))  # (rows, class k, margin c)
    for node, weight in zip(_NODES, _WEIGHTS, strict=True):
        p = _softmax(base + (node + 1.0) / 2.0 * move)
        jacobian = p[:, :, None] * (np.eye(move.shape[1])[None] - p[:, None, :])
        averaged += weight / 2.0 * jacobian
    return np.einsum("nkc,ncf->nkf", averaged, values), _softmax(base)


# ---- one member -------------------------------------------------------------------------------
def _dense(matrix: Any) -> np.ndarray:
    return np.asarray(matrix.toarray() if sp.issparse(matrix) else matrix, dtype=np.float64)


def _split(raw: np.ndarray, n_outputs: int) -> Explained:
    """A library's (rows, [outputs,] columns + 1) contributions, the bias last."""
    shaped = raw.reshape(len(raw), n_outputs, -1)
    return shaped[:, :, :-1], shaped[:, :, -1]


def _booster(member: Member, kind: str) -> MemberFn:
    estimator = member.estimator
    task = estimator.task_kind
    n_margins = int(estimator.n_classes) if task == "multiclass" else 1
    margins: Callable[[np.ndarray], np.ndarray]
    if kind == "lightgbm":
        def margins(matrix: np.ndarray) -> np.ndarray:
            return np.asarray(estimator.booster_.predict(
                matrix, pred_contrib=True, num_iteration=estimator.best_iteration_,
                num_threads=1), dtype=np.float64)
    elif kind == "xgboost":
        import xgboost as xgb

        estimator.booster_.set_param({"nthread": 1})  # a pool costs more than one row's walk

        def margins(matrix: np.ndarray) -> np.ndarray:
            return np.asarray(estimator.booster_.predict(
                xgb.DMatrix(matrix, nthread=1), pred_contribs=True,
                iteration_range=(0, int(estimator.best_iteration_))), dtype=np.float64)
    else:
        from catboost import Pool

        def margins(matrix: np.ndarray) -> np.ndarray:
            return np.asarray(estimator.booster_.get_feature_importance(
                type="ShapValues", data=Pool(matrix), thread_count=1), dtype=np.float64)

    def explain(matrix: Any) -> Explained:
        return in_output_units(task, *_split(margins(_dense(matrix)), n_margins))

    return explain


def in_output_units(task_kind: str, values: np.ndarray, base: np.ndarray) -> Explained:
    """A booster's margin contributions (rows, margins, columns) and base margins (rows,
    margins) in its output units: probabilities of every class, or the value."""
    if task_kind == "regression":
        return values, base
    if task_kind == "binary":
        return binary_link(values[:, 0], base[:, 0])
    return softmax_link(values, base)


def _forest(member: Member) -> MemberFn:
    if forest_shap.core() is not None:  # shap's compiled core, without importing numba
        return lambda matrix: forest_contributions(member.estimator, _dense(matrix))
    import shap  # numba: imported only when a forest is explained, never to predict

    explainer = shap.TreeExplainer(member.estimator)
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))

    def explain(matrix: Any) -> Explained:
        raw = np.asarray(explainer.shap_values(_dense(matrix), check_additivity=False),
                         dtype=np.float64)
        values = raw.transpose(0, 2, 1) if raw.ndim == 3 else raw[:, None, :]
        return values, np.broadcast_to(expected, (len(values), len(expected))).copy()

    return explain


_BOOSTERS = {"LightGBMModel": "lightgbm", "XGBoostModel": "xgboost",
             "CatBoostModel": "catboost"}
_FORESTS = ("RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier",
            "ExtraTreesRegressor", "DecisionTreeClassifier", "DecisionTreeRegressor")


def _tree_kind(member: Member) -> str | None:
    """"booster", "forest" or None (explained by permutation): the exact type, as a subclass
    may predict differently."""
    kind = type(member.estimator)
    if kind.__name__ in _BOOSTERS and kind.__module__ == "trainforge.algorithms.boosting":
        return "booster"
    if kind.__name__ in _FORESTS and kind.__module__.startswith("sklearn."):
        return "forest"
    return None


def tree_explainer(member: Member) -> MemberFn | None:
    """Exact contributions over ``member``'s encoded columns, or None for a non-tree member."""
    kind = _tree_kind(member)
    if kind == "booster":
        return _booster(member, _BOOSTERS[type(member.estimator).__name__])
    return _forest(member) if kind == "forest" else None


def member_methods(model: TabularModel) -> list[str]:
    """How each member of ``model`` is explained, found without building any explainer:
    "booster" (the library's TreeSHAP), "forest" (shap's TreeSHAP core, ~0.1 s a row for 300
    deep trees) or "permutation" (needs a background sample)."""
    features = [spec.name for spec in model.features]
    return [(_tree_kind(m) or "permutation")
            if source_columns(m.preprocessor, features) is not None else "permutation"
            for m in model.members]


def permuted_members(model: TabularModel) -> list[str]:
    """The algorithms of ``model``'s members explained by permutation."""
    return [m.algorithm for m, method in zip(model.members, member_methods(model), strict=True)
            if method == "permutation"]


def _member_output(member: Member, frame: pd.DataFrame, *, classify: bool) -> np.ndarray:
    matrix = member.preprocessor.transform(frame)
    if classify:
        return np.asarray(member.estimator.predict_proba(matrix), dtype=np.float64)
    return np.asarray(member.estimator.predict(matrix), dtype=np.float64).reshape(-1, 1)


def permutation_contributions(output: Callable[[pd.DataFrame], np.ndarray], row: pd.DataFrame,
                              background: pd.DataFrame, *, seed: int = 0) -> Explained:
    """Shapley values of one ``row`` (a one-row frame) for ``output`` (frame → (rows,
    outputs)) by antithetic permutations over its columns against ``background``: (1, outputs,
    columns) and the base value (1, outputs), the background's mean output."""
    rng = np.random.default_rng(seed)
    n_columns, n_back = row.shape[1], len(background)
    orders = [rng.permutation(n_columns) for _ in range(PERMUTATIONS // 2)]
    orders += [order[::-1] for order in orders]
    # every step of every order: the background with the first `step` columns set to the row's,
    # built column by column (a frame per step, concatenated, cost more than the model's output)
    taken = []
    for order in orders:
        mask = np.zeros(n_columns, dtype=bool)
        taken.append(mask.copy())
        for column in order:
            mask[column] = True
            taken.append(mask.copy())
    from_row = np.repeat(np.asarray(taken), n_back, axis=0)
    background_rows = np.tile(np.arange(n_back), len(taken))
    steps = pd.DataFrame({
        name: background.iloc[background_rows, j].reset_index(drop=True)
        .where(~from_row[:, j], row.iloc[0, j])
        for j, name in enumerate(background.columns)})
    outputs = output(steps)
    means = outputs.reshape(len(orders), n_columns + 1, n_back, -1).mean(axis=2)
    values = np.zeros((outputs.shape[1], n_columns))
    for order, path in zip(orders, means, strict=True):
        values[:, order] += (path[1:] - path[:-1]).T
    base = means[:, 0].mean(axis=0)
    return (values / len(orders))[None], base[None]


# ---- the blend --------------------------------------------------------------------------------
class ModelExplainer:
    """Explains a TabularModel's predictions. ``background``: rows (the model's inputs) the
    permutation method needs for members that are not trees; without it, such a model raises
    ValueError naming the member.

    Example:
        >>> explained = ModelExplainer(model).explain(frame)
        >>> explained.explained  # equals model.predict_proba(frame)
    """

    def __init__(self, model: TabularModel, *, background: pd.DataFrame | None = None,
                 member_functions: Mapping[int, MemberFn] | None = None) -> None:
        """``member_functions``: by member position, functions to explain those tree members
        with instead of their library's (serving's walks for a few rows): encoded rows in,
        contributions in output units out."""
        self.model = model
        self.classify = model.task.kind.is_classification
        self.features = tuple(spec.name for spec in model.features)
        total = sum(m.weight for m in model.members)
        self.shares = [m.weight / total for m in model.members]
        self.trees: list[tuple[MemberFn, np.ndarray] | None] = []
        replaced = member_functions or {}
        for position, member in enumerate(model.members):
            explain = replaced.get(position) or tree_explainer(member)
            sources = source_columns(member.preprocessor, self.features)
            self.trees.append(None if explain is None or sources is None
                              else (explain, _folding(sources, len(self.features))))
        self.background: pd.DataFrame | None = None
        agnostic = [m.algorithm for m, t in zip(model.members, self.trees, strict=True)
                    if t is None]
        if agnostic and background is None:
            raise ValueError(f"{', '.join(agnostic)} are explained by permutation over a "
                             "background sample, and none was given")
        if background is not None:
            self.background = coerce_frame(self._private(background.head(MAX_BACKGROUND)),
                                           model.features).reset_index(drop=True)

    @property
    def needs_rows(self) -> bool:
        """Whether some member is explained from the input rows (not only encoded matrices)."""
        return any(t is None for t in self.trees)

    def _private(self, frame: pd.DataFrame) -> pd.DataFrame:
        inputs = self.model.inputs
        return frame if inputs is None else inputs.apply(frame)

    def explain(self, frame: pd.DataFrame | None, *,
                matrices: Sequence[Any] | None = None,
                executor: Executor | None = None, lanes: int = 2) -> Contributions:
        """Contributions for the rows of ``frame`` (the model's inputs). ``matrices``: each
        member's encoded rows, when the caller has them already (serving's compiled plans);
        ``frame`` may then be None if no member ``needs_rows``. With ``executor`` (serving's,
        for one request's few rows) the tree members given ``matrices`` are explained side by
        side in ``lanes`` lanes of about equal work, the calling thread running the first and
        ``executor`` the others; the sum is taken in the members' order either way, so the
        figures are the same."""
        outputs = self.model.classes if self.classify else ("value",)
        units = "probability" if self.classify else "value"
        n_rows = len(frame) if frame is not None else len(matrices[0]) if matrices else 0
        if n_rows == 0:  # estimators refuse empty input; no rows in, no rows out
            return Contributions(features=self.features, outputs=tuple(outputs), units=units,
                                 values=np.zeros((0, len(outputs), len(self.features))),
                                 base_values=np.zeros((0, len(outputs))))
        prepared = None if frame is None else coerce_frame(self._private(frame),
                                                           self.model.features)
        encoded: dict[int, Any] = {}
        values: np.ndarray | None = None
        base: np.ndarray | None = None
        started: dict[int, Explained] = {}
        if executor is not None and matrices is not None:
            started = _side_by_side(executor, lanes, {
                position: (tree[0], matrices[position])
                for position, tree in enumerate(self.trees) if tree is not None})
        for position, (member, tree, share) in enumerate(
                zip(self.model.members, self.trees, self.shares, strict=True)):
            if position in started:
                assert tree is not None  # only tree members were started
                part, part_base = started[position]
                part = part @ tree[1]
            elif tree is not None:
                if matrices is not None:
                    matrix = matrices[position]
                else:
                    assert prepared is not None, "rows or matrices are needed"
                    key = id(member.preprocessor)  # members often share one preprocessor
                    if key not in encoded:
                        encoded[key] = member.preprocessor.transform(prepared)
                    matrix = encoded[key]
                part, part_base = tree[0](matrix)
                part = part @ tree[1]
            else:
                assert prepared is not None, "a member explained by permutation needs rows"
                part, part_base = self._permuted(member, prepared)
            values = part * share if values is None else values + part * share
            base = part_base * share if base is None else base + part_base * share
        assert values is not None and base is not None  # a model has at least one member
        return Contributions(features=self.features, outputs=tuple(outputs), values=values,
                             base_values=base, units=units)

    def _permuted(self, member: Member, prepared: pd.DataFrame) -> Explained:
        assert self.background is not None  # checked when the explainer was made
        background = self.background

        def output(rows: pd.DataFrame) -> np.ndarray:
            return _member_output(member, rows, classify=self.classify)

        parts = [permutation_contributions(output, prepared.iloc[[i]], background, seed=i)
                 for i in range(len(prepared))]
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


def _side_by_side(executor: Executor, lanes: int,
                  members: Mapping[int, tuple[MemberFn, Any]]) -> dict[int, Explained]:
    """Each member's ``explain(matrix)`` of ``members`` (by position), its pieces (a member
    ``InParts``' parts, else the whole call) dealt into ``lanes`` lanes of about equal work,
    the largest first: the caller runs the first lane while ``executor`` runs the others, one
    call a lane, so that a request waits on as few hand-overs as there are lanes."""
    pieces: list[tuple[float, int, int, Callable[[], Any]]] = []  # work, position, index, call
    split: set[int] = set()
    for position, (explain, matrix) in members.items():
        work = float(explain.work) if isinstance(explain, InParts) else 1.0
        parts = explain.parts(matrix) if isinstance(explain, InParts) else None
        if parts is None:
            pieces.append((work * max(1, _n_rows(matrix)), position, 0,
                           partial(explain, matrix)))
            continue
        split.add(position)
        pieces.extend((work / len(parts), position, index, part)
                      for index, part in enumerate(parts))
    dealt: list[list[tuple[int, int, Callable[[], Any]]]] = [[] for _ in range(max(1, lanes))]
    loads = [0.0] * len(dealt)
    for work, position, index, call in sorted(pieces, key=lambda piece: -piece[0]):
        lane = loads.index(min(loads))
        dealt[lane].append((position, index, call))
        loads[lane] += work
    waiting = [executor.submit(_run_lane, lane) for lane in dealt[1:] if lane]
    results = _run_lane(dealt[0])
    for future in waiting:
        results.update(future.result())
    explained: dict[int, Explained] = {}
    for position, (explain, _) in members.items():
        if position in split:
            assert isinstance(explain, InParts)  # only those are split
            n_parts = sum(1 for key in results if key[0] == position)
            explained[position] = explain.joined([results[position, index]
                                                  for index in range(n_parts)])
        else:
            explained[position] = results[position, 0]
    return explained


def _run_lane(lane: Sequence[tuple[int, int, Callable[[], Any]]]) -> dict[tuple[int, int], Any]:
    return {(position, index): call() for position, index, call in lane}


def _n_rows(matrix: Any) -> int:
    return int(matrix.shape[0]) if hasattr(matrix, "shape") else len(matrix)


def background_from_profile(profile: Mapping[str, Any], features: Sequence[FeatureSpec], *,
                            n_rows: int = MAX_BACKGROUND, seed: int = 0) -> pd.DataFrame:
    """Background rows drawn from a package's reference profile (``reference.json``: each
    number's sample, each category's shares and missing share), column by column: a background
    of independent columns, the assumption the permutation method makes anyway. A column the
    profile skipped (text, dates) is missing in every row."""
    rng = np.random.default_rng(seed)
    columns: dict[str, list[Any]] = {}
    for spec in features:
        found = profile.get(spec.name, {})
        missing = rng.random(n_rows) < float(found.get("missing", 0.0))
        if found.get("kind") == "numeric" and found.get("sample"):
            drawn: list[Any] = rng.choice(np.asarray(found["sample"], dtype=np.float64),
                                          n_rows).tolist()
        elif found.get("kind") == "categorical" and found.get("shares"):
            levels, shares = zip(*found["shares"].items(), strict=True)
            weights = np.asarray(shares, dtype=np.float64)
            drawn = rng.choice(np.asarray(levels, dtype=object), n_rows,
                               p=weights / weights.sum()).tolist()
        else:
            drawn, missing = [None] * n_rows, np.ones(n_rows, dtype=bool)
        columns[spec.name] = [None if gone else value
                              for value, gone in zip(drawn, missing, strict=True)]
    return pd.DataFrame(columns)
