"""Explained predictions: ``POST /v1/models/{name}/predict?explain=true[&top_k=5]``.

Each record's answer gains its top ``top_k`` contributions (SHAP values) by absolute size,
over the model's original input columns, with the base value they start from and the output
they add up to, in the model's output units: a classifier's probability of the class (the
positive class for a binary model, ``classes[1]``; every class for a multiclass model), a
regressor's value. ``rest`` is what the columns not listed add, so that ``base_value + sum of
contributions + rest == output`` (exactly for trees, to 1e-6; see
``algorithms.contributions`` for how members and blends are explained).

Tree members are explained from the compiled plans' encoded rows (no pandas, no shap):
boosters by ``tree_shap``'s walk for a few rows (a blend of them by one walk of all their
trees, ``_BlendWalk``, whose margins then also give the answer's prediction: it is not
predicted twice), by the libraries' own TreeSHAP beyond; shap itself is imported only
when a scikit-learn forest is explained, and nothing here is imported or built until the first explain request, so the
default predict path is unchanged. A model whose members are not all trees is explained by
permutation against a background drawn from the package's ``reference.json``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import expit, softmax

from trainforge.algorithms.contributions import (
    Contributions,
    Explained,
    MemberFn,
    ModelExplainer,
    background_from_profile,
    in_output_units,
    permuted_members,
    source_columns,
    tree_explainer,
)
from trainforge.algorithms.model import TabularModel, probabilities_from_blend
from trainforge.algorithms.network_explanations import NETWORKS, STEPS
from trainforge.data.task import TaskKind
from trainforge.errors import NotExplainable, TooManyToExplain
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.compiled import CompiledModel, probe_columns
from trainforge.serving.network_explain import (
    MAX_EXPLAINED_INPUTS,
    MAX_STEPS,
    network_of,
    network_refusal,
)
from trainforge.serving.plans import FastPathMiss
from trainforge.serving.served import ServedModel
from trainforge.serving.signature import MAX_ERRORS_SHOWN, Columns, RecordsInvalid
from trainforge.serving.tree_readers import leaf_paths
from trainforge.serving.tree_shap import LeafPaths, Part

log = logging.getLogger(__name__)

DEFAULT_TOP_K = 5
# rows up to which a booster is explained by tree_shap's numpy walk; beyond, its library's
# vectorised TreeSHAP is the faster (its fixed cost is spread over the rows)
WALKED_ROWS = 8
# a walked booster's one-row explanation is cut into parts of about this much work (nodes +
# path features: ~0.4 ms of a core) so that the pool's threads finish together: the 8-booster
# adult blend's two largest members are ~60 % of its walk
PART_WORK = 60_000
MAX_TOP_K = 50
# a walked answer's class probabilities are within ~3e-7 of the model's own (XGBoost sums in
# float32): a row whose two likeliest classes are nearer than this is labelled by the model
NEAR_TIE = 1e-5
MAX_EXPLAINED_RECORDS = 100  # a forest's TreeSHAP takes ~0.1 s a row: bound one request's work
# the reference profile training writes into every package (monitoring.reference, a layer above)
REFERENCE = "reference.json"
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


# ---- what an answer holds (the schemas /docs shows) -------------------------------------------
class Contribution(BaseModel):
    feature: str = Field(description="an input column of the model")
    value: str | float | bool | None = Field(description="the record's value of it, as sent")
    contribution: float = Field(description="how far it moved the output from the base value")


class OutputExplanation(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    class_: str | None = Field(alias="class", description=(
        "the class whose probability is explained (a binary model: its positive class, "
        "classes[1]); null for a regressor's value"))
    base_value: float = Field(description="the output with no column known: the mean output")
    output: float = Field(description="the model's output: base_value + the contributions "
                                      "+ rest")
    contributions: list[Contribution] = Field(max_length=MAX_TOP_K, description=(
        "the top_k columns by absolute contribution, largest first"))
    rest: float = Field(description="what the columns not listed contribute together")


EXPLANATION_FIELDS: dict[str, Any] = {
    "explanations": (list[list[OutputExplanation]] | None, Field(None, description=(
        "with ?explain=true: per record, one entry per explained output (a binary model's "
        "positive class, each class of a multiclass model, a regressor's value)"))),
    "explanation_units": (Literal["probability", "value"] | None, Field(None, description=(
        "what base values, contributions and outputs are in"))),
}

EXPLAIN_PARAMETERS = [
    {"name": "explain", "in": "query", "required": False,
     "schema": {"type": "boolean", "default": False},
     "description": "add each record's top contributions (SHAP values) over the model's input "
                    f"columns; at most {MAX_EXPLAINED_RECORDS} records a request"},
    {"name": "top_k", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K,
                "default": DEFAULT_TOP_K},
     "description": "contributions listed per record and output, largest first (a text "
                    "network: words listed per record)"}]
# an image or text network's too
STEPS_PARAMETER = {"name": "steps", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_STEPS, "default": STEPS},
     "description": "image and text networks: integrated gradients' steps (each one forward "
                    f"and one backward pass); at most {MAX_EXPLAINED_INPUTS} records a request"}


@dataclass(frozen=True)
class ExplainQuery:
    """What ``?explain=true&top_k=K&steps=S`` asks: the contributions (a text network's
    words) listed per record and output, and a network's integrated-gradients steps."""

    top_k: int = DEFAULT_TOP_K
    steps: int = STEPS


def _query_error(name: str, message: str) -> RecordsInvalid:
    # the values sent are never echoed: the message says what is accepted
    return RecordsInvalid([{"loc": ["query", name], "msg": message, "type": "value_error"}])


def explain_query(query_string: bytes) -> ExplainQuery | None:
    """The explanation ``query_string`` asks for; None when it asks for none. Raises
    RecordsInvalid (a 422 naming the parameter) for a value that is not accepted."""
    params = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
    flag = params.get("explain", ["false"])[-1].strip().lower()
    if flag not in _TRUE + _FALSE:
        raise _query_error("explain", "explain must be true or false")
    asked = ExplainQuery(top_k=_bounded(params, "top_k", DEFAULT_TOP_K, MAX_TOP_K),
                         steps=_bounded(params, "steps", STEPS, MAX_STEPS))
    return asked if flag in _TRUE else None


def _bounded(params: Mapping[str, list[str]], name: str, default: int, most: int) -> int:
    if name not in params:
        return default
    text = params[name][-1].strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= most):
        raise _query_error(name, f"{name} must be a whole number from 1 to {most}")
    return int(text)


def refusal(loaded: LoadedModel) -> str | None:
    """Why ``loaded``'s predictions cannot be explained here; None when they can."""
    kind = loaded.model.task.kind
    if not kind.is_supervised:
        what = "clustering" if kind is TaskKind.CLUSTERING else kind.value
        return (f"it is a {what} model: its segments or scores have no per-feature "
                "contributions")
    if network_of(loaded) is not None:
        return network_refusal(loaded)
    images = [s.name for s in loaded.tabular.features if s.dtype == "image"]
    if images:
        return (f"it reads images ({', '.join(images)}) but is not one image network "
                f"(integrated gradients explain {', '.join(NETWORKS['image'])})")
    return None


def explainer_for(loaded: LoadedModel, *,
                  walked: Mapping[int, MemberFn] | None = None) -> ModelExplainer:
    """The explainer of ``loaded``'s predictions (NotExplainable where there is none): tree
    members need nothing more; others a background drawn from the package's reference.
    ``walked``: members explained by serving's walk (``walked_members``) instead of their
    library."""
    why = refusal(loaded)
    if why is not None:
        raise NotExplainable(loaded.ref, why)
    network = network_of(loaded)
    if network is not None:  # its inputs are pixels or words, not columns
        raise NotExplainable(loaded.ref, (
            f"it is a network that reads {network[0]}: its explanations are its "
            f"{'pixels' if network[0] == 'image' else 'words'}, from "
            f"`Model.explain_{network[0]}s`, `trainforge predict --explain` or "
            "explain=true"))
    model = loaded.tabular
    permuted = permuted_members(model)
    if not permuted:
        return ModelExplainer(model, member_functions=walked)
    reference = loaded.path / REFERENCE
    if not reference.is_file():
        raise NotExplainable(loaded.ref, (
            f"its members {', '.join(permuted)} are not trees and are explained against a "
            f"background sample, which this package lacks ({REFERENCE}, written by "
            "`trainforge train`): retrain it to add one"))
    profile = json.loads(reference.read_text()).get("features", {})
    return ModelExplainer(model, background=background_from_profile(profile, model.features),
                          member_functions=walked)


def _checked_walk(loaded: LoadedModel, compiled: CompiledModel | None
                  ) -> tuple[ModelExplainer, _BlendWalk | None]:
    """A served model's explainer, and its blend walk where every member is walked: then the
    explainer (for more rows than ``WALKED_ROWS``) uses the libraries, and the members' own
    walks are let go (the blend walk holds their tables)."""
    if refusal(loaded) is not None or network_of(loaded) is not None or compiled is None:
        return explainer_for(loaded), None  # NotExplainable, saying why, for the first two
    model = loaded.tabular
    walked = walked_members(model, compiled)
    # a member explained by permutation needs the rows themselves: member by member then
    blend = None if permuted_members(model) else _BlendWalk.of(model, walked)
    if blend is None:
        return explainer_for(loaded, walked=walked), None
    explainer = explainer_for(loaded)
    probes = compiled.member_matrices(probe_columns(model))  # walked_members read them
    by_member = ModelExplainer(model, member_functions=walked).explain(None, matrices=probes)
    by_blend = blend.explain(probes, executor=None)
    if not (np.allclose(by_blend.values, by_member.values, rtol=0, atol=1e-9)
            and np.allclose(by_blend.base_values, by_member.base_values, rtol=0, atol=1e-9)):
        log.warning("%s is explained member by member: its blend walk differs on a probe "
                    "record", loaded.ref)
        return explainer_for(loaded, walked=walked), None
    return explainer, blend


class _Walked:
    """A booster explained by ``tree_shap``'s walk for a few rows (by its library beyond),
    one row in parts of about equal work that the pool runs side by side."""

    def __init__(self, paths: LeafPaths, native: MemberFn, task_kind: str) -> None:
        self.paths, self.native, self.task_kind = paths, native, task_kind
        self.work = paths.work
        self._parts = paths.parts(max(1, round(paths.work / PART_WORK)))

    def __call__(self, matrix: Any) -> Explained:
        dense = _dense(matrix)
        if len(dense) > WALKED_ROWS:
            return self.native(matrix)
        return in_output_units(self.task_kind, *self.paths.contributions(dense))

    def parts(self, matrix: Any) -> list[Callable[[], np.ndarray]] | None:
        dense = _dense(matrix)
        if len(dense) != 1 or len(self._parts) == 1:
            return None
        return [partial(self.paths.margins, dense[0], part) for part in self._parts]

    def joined(self, results: Sequence[np.ndarray]) -> Explained:
        margins = np.sum(results, axis=0)  # in the parts' order: the same figures each time
        return in_output_units(self.task_kind, margins[None],
                               self.paths.base[None].copy())


class _BlendWalk:
    """A served blend whose members are all walked, explained for a few rows by one walk of
    all their trees (``LeafPaths.joined``): a row costs one compiled call a part (its sides,
    its walk, its columns folded), then one link for every member and one weighted sum, where
    member by member it cost a dozen numpy calls a member. The parts are the trees cut into
    one of equal work a core; their margins are summed in the parts' order, so the figures
    are the same with or without the pool. Members of weight 0 are left out."""

    def __init__(self, model: TabularModel, kept: Sequence[int], paths: LeafPaths,
                 shares: np.ndarray) -> None:
        self.kept, self.paths, self.shares = kept, paths, shares
        self.task_kind = model.task.kind.value
        self.features = tuple(spec.name for spec in model.features)
        self.outputs = tuple(model.classes) if model.task.kind.is_classification \
            else ("value",)
        self.units = "probability" if model.task.kind.is_classification else "value"
        # XGBoost adds its trees in float32: a regressor's value (~50) can be an ulp of float32
        # (~4e-6) off the walk's float64 sum, beyond the 1e-6 an answer is held to; a
        # probability's rounding stays ~1e-7, so the walk answers for every classifier
        self.answers = self.units == "probability" or not any(
            type(model.members[at].estimator).__name__ == "XGBoostModel" for at in kept)
        # a part a core (two a core cost 5 % more and gained nothing: the extra calls)
        self.parts = paths.parts(_CORES)

    @classmethod
    def of(cls, model: TabularModel, walked: Mapping[int, MemberFn]) -> _BlendWalk | None:
        """``model``'s blend walk, or None unless every member of weight > 0 is walked."""
        features = [spec.name for spec in model.features]
        total = sum(m.weight for m in model.members)
        kept = [at for at, member in enumerate(model.members) if member.weight > 0]
        found = [(walked.get(at), source_columns(model.members[at].preprocessor, features))
                 for at in kept]
        models = [(function.paths, columns) for function, columns in found
                  if isinstance(function, _Walked) and columns is not None
                  and len(columns) == function.paths.n_features]
        if total <= 0 or len(models) != len(kept) or len(
                {paths.n_outputs for paths, _ in models}) != 1:
            return None
        return cls(model, kept, LeafPaths.joined(models, n_features=len(features)),
                   np.asarray([model.members[at].weight / total for at in kept]))

    def explain(self, matrices: Sequence[Any], *,
                executor: ThreadPoolExecutor | None) -> Contributions:
        """The contributions of the rows of ``matrices`` (each member's encoded rows)."""
        return self.answer(matrices, executor=executor)[0]

    def answer(self, matrices: Sequence[Any], *,
               executor: ThreadPoolExecutor | None) -> tuple[Contributions, np.ndarray]:
        """The contributions of the rows of ``matrices`` (each member's encoded rows) and the
        blend's outputs (``TabularModel``'s: probabilities, or values) from the same margins,
        each member's linked exactly as its library links it: the calling thread runs the
        first part and ``executor`` the others in turn, but the calling thread, once free,
        takes back the last ones not started yet (all on the calling thread without an
        executor). The parts' margins are summed in their order, whoever ran them."""
        rows = np.concatenate([_dense(matrices[at]) for at in self.kept], axis=1)
        waiting = [executor.submit(self._part, rows, part) for part in self.parts[1:]] \
            if executor is not None else []
        margins = self._part(rows, self.parts[0])
        taken: dict[int, np.ndarray] = {}
        for at in range(len(self.parts) - 1, 0, -1):
            if at <= len(waiting) and not waiting[at - 1].cancel():
                break  # the pool has started it, and those before it
            taken[at] = self._part(rows, self.parts[at])
        for at in range(1, len(self.parts)):
            margins = margins + (taken[at] if at in taken else waiting[at - 1].result())
        n_rows, n_members = len(rows), len(self.kept)
        # the members as rows of one link: (rows × members, margins, columns)
        margins = margins.reshape(n_rows * n_members, -1, len(self.features))
        base_margins = np.tile(self.paths.base.reshape(n_members, -1), (n_rows, 1))
        values, base = in_output_units(self.task_kind, margins, base_margins)
        values = self.shares @ values.reshape(n_rows, n_members, -1)
        base = self.shares @ base.reshape(n_rows, n_members, -1)
        blended = self.shares @ self._linked(base_margins + margins.sum(axis=2)).reshape(
            n_rows, n_members, -1)
        outputs = probabilities_from_blend(blended) if self.units == "probability" \
            else blended[:, 0]
        return Contributions(features=self.features, outputs=self.outputs, units=self.units,
                             values=values.reshape(n_rows, -1, len(self.features)),
                             base_values=base), outputs

    def _linked(self, margins: np.ndarray) -> np.ndarray:
        """Each member's output from its margins (rows × members, margins), as its library's
        ``predict_proba`` or ``predict`` gives it: not through the contributions, whose
        multiclass link is a quadrature."""
        if self.task_kind == "binary":
            positive = expit(margins[:, 0])
            return np.stack([1.0 - positive, positive], axis=1)
        return softmax(margins, axis=1) if self.task_kind == "multiclass" else margins

    def _part(self, rows: np.ndarray, part: Part) -> np.ndarray:
        return np.stack([self.paths.margins(row, part) for row in rows])


def _dense(matrix: Any) -> np.ndarray:
    return np.asarray(matrix.toarray() if sp.issparse(matrix) else matrix, dtype=np.float64)


def walked_members(model: TabularModel, compiled: CompiledModel) -> dict[int, MemberFn]:
    """By position, the boosters of ``model`` explained by ``tree_shap``'s walk for a few
    rows: each is trusted only where it gives its library's contributions on probe rows."""
    try:
        probes = compiled.member_matrices(probe_columns(model))
    except FastPathMiss:
        return {}
    walked: dict[int, MemberFn] = {}
    for position, member in enumerate(model.members):
        paths = leaf_paths(member.estimator)
        native = tree_explainer(member) if paths is not None else None
        if paths is None or native is None:
            continue
        explain = _Walked(paths, native, member.estimator.task_kind)
        rows = [probes[position][i:i + 1] for i in range(len(probes[position]))]
        if all(np.allclose(explain(row)[0], native(row)[0], rtol=1e-4, atol=1e-6)
               for row in rows):
            walked[position] = explain
        else:
            log.warning("%s is explained by its library: the walk differs on a probe record",
                        member.algorithm)
    return walked


# a blend's walked members explained side by side, the big ones in parts (``PART_WORK``), in a
# lane a core (the walks release the GIL): the request's own thread runs one lane and this
# pool the others, so a request waits on one hand-over a lane, not one a member. The 8-booster
# adult blend's one-row explanation is ~3 ms of walking split over the cores; one pool for
# every served model bounds the threads however many requests explain at once
_CORES = min(4, os.cpu_count() or 1)
_MEMBERS = (ThreadPoolExecutor(_CORES - 1, thread_name_prefix="explain-member")
            if _CORES > 1 else None)


class ServedExplainer:
    """A served model's explanations, built at the first explain request (never to predict)."""

    def __init__(self, model: ServedModel) -> None:
        self.model = model
        # an image or text network is explained by integrated gradients (network_explain)
        self.network = network_of(model.loaded) is not None
        self._explainer: ModelExplainer | None = None
        self._blend: _BlendWalk | None = None
        self._building = threading.Lock()

    def explainer(self) -> ModelExplainer:
        """The model's explainer, built once (NotExplainable where it cannot be)."""
        with self._building:
            if self._explainer is None:
                self._explainer, self._blend = _checked_walk(self.model.loaded,
                                                             self.model.compiled)
            return self._explainer

    def walked(self, columns: Columns) -> tuple[Contributions, np.ndarray] | None:
        """The contributions of ``columns``' records and the model's outputs from the same
        walk, when the blend walk explains them all (a few rows the compiled plans encode);
        else None, and the caller predicts and then explains."""
        if not 0 < columns.n_rows <= WALKED_ROWS or self.model.compiled is None:
            return None
        try:
            self.explainer()
        except NotExplainable:
            return None  # refused where it is today: after the records are scored
        if self._blend is None or not self._blend.answers:
            return None
        try:
            matrices = self.model.compiled.member_matrices(columns.values)
        except FastPathMiss:
            return None
        return self._blend.answer(matrices, executor=_MEMBERS)

    def explain(self, columns: Columns) -> Contributions:
        """The contributions of every record of ``columns`` (at most
        ``MAX_EXPLAINED_RECORDS``, else TooManyToExplain)."""
        if columns.n_rows > MAX_EXPLAINED_RECORDS:
            raise TooManyToExplain(MAX_EXPLAINED_RECORDS, n_records=columns.n_rows)
        explainer = self.explainer()
        compiled = self.model.compiled
        if compiled is not None and not explainer.needs_rows:
            try:  # the compiled plans' encoded rows: no DataFrame, no transform
                matrices = compiled.member_matrices(columns.values)
                if self._blend is not None and 0 < columns.n_rows <= WALKED_ROWS:
                    return self._blend.explain(matrices, executor=_MEMBERS)
                return explainer.explain(None, matrices=matrices, executor=_MEMBERS,
                                         lanes=_CORES)
            except FastPathMiss:
                pass  # a value only the model's own preprocessing answers for
        return explainer.explain(pd.DataFrame(columns.values))


def answered_by_walk(model: ServedModel, outputs: np.ndarray) -> bool:
    """Whether a walk's ``outputs`` may answer for the model's own prediction: every one a
    finite number (else the model's own scoring says which field it cannot score), no
    per-group thresholds (--fairness-constraint), and no row whose two likeliest classes are
    within ``NEAR_TIE`` (a walk's rounding could pick the other label there)."""
    if not np.isfinite(outputs).all() or model.decides_by_group:
        return False
    if not model.classify:
        return True
    top_two = np.sort(outputs, axis=1)[:, -2:]
    return bool((top_two[:, 1] - top_two[:, 0] >= NEAR_TIE).all())


UNEXPLAINABLE = ("values too far beyond those the model was trained on: the model scores "
                 "this record, but its explanation overflows (a contribution would be infinite "
                 "or NaN); send values nearer the training data's")


def check_explained(contributions: Contributions, *,
                    loc: tuple[str | int, ...] = ("body", "records")) -> None:
    """RecordsInvalid (a 422) naming each record whose contributions or base value are not
    finite numbers: a value near 1e308 that the model's output absorbs (a blend's weights, a
    sigmoid) can still overflow a member's contribution, and a made-up figure is never sent."""
    finite = (np.isfinite(contributions.values).all(axis=(1, 2))
              & np.isfinite(contributions.base_values).all(axis=1))
    rows = np.flatnonzero(~finite).tolist()
    if rows:
        shown = rows[:MAX_ERRORS_SHOWN]
        raise RecordsInvalid([{"loc": [*loc, row], "msg": UNEXPLAINABLE,
                               "type": "value_out_of_range"} for row in shown],
                             n_more=len(rows) - len(shown))


def shown_outputs(contributions: Contributions) -> list[int]:
    """The outputs an answer explains: a binary classifier's positive class (the other's
    contributions are the same, negated), else every class, or the value."""
    return [1] if len(contributions.outputs) == 2 else list(range(len(contributions.outputs)))


def described(contributions: Contributions, inputs: Mapping[str, Sequence[Any]],
              outputs: np.ndarray, *, top_k: int, classify: bool) -> list[list[dict[str, Any]]]:
    """Per record, per shown output: its class, base value, output (the model's own, from
    ``outputs``), its ``top_k`` contributions by absolute size (with the record's value of each
    column) and the ``rest``."""
    values, base, features = contributions.values, contributions.base_values, \
        contributions.features
    table = outputs if outputs.ndim == 2 else outputs.reshape(-1, 1)
    answer: list[list[dict[str, Any]]] = []
    for row in range(len(values)):
        explained = []
        for output in shown_outputs(contributions):
            row_values = values[row, output]
            top = np.argsort(-np.abs(row_values), kind="stable")[:top_k]
            explained.append({
                "class": contributions.outputs[output] if classify else None,
                "base_value": float(base[row, output]),
                "output": float(table[row, output]),
                "contributions": [{"feature": features[j], "value": inputs[features[j]][row],
                                   "contribution": float(row_values[j])} for j in top],
                "rest": float(row_values.sum() - row_values[top].sum())})
        answer.append(explained)
    return answer


def contribution_columns(contributions: Contributions, rows: pd.DataFrame, *,
                         top_k: int) -> pd.DataFrame:
    """The columns ``trainforge predict --explain`` adds, per shown output (``explain.`` for a
    binary model's positive class or a regressor's value, ``explain.<class>.`` for each class
    of a multiclass model): ``base_value``, then for i = 1..top_k ``<i>.feature``,
    ``<i>.value`` (the row's value) and ``<i>.contribution``, largest first."""
    shown = shown_outputs(contributions)
    columns: dict[str, Any] = {}
    features = np.asarray(contributions.features, dtype=object)
    for output in shown:
        prefix = "explain." if len(shown) == 1 else f"explain.{contributions.outputs[output]}."
        values = contributions.values[:, output]
        top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :top_k]
        columns[f"{prefix}base_value"] = contributions.base_values[:, output]
        for rank in range(top.shape[1]):
            at = top[:, rank]
            columns[f"{prefix}{rank + 1}.feature"] = features[at]
            columns[f"{prefix}{rank + 1}.value"] = [
                rows[name].iloc[row] for row, name in enumerate(features[at])]
            columns[f"{prefix}{rank + 1}.contribution"] = values[np.arange(len(at)), at]
    return pd.DataFrame(columns)
