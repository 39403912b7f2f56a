"""The web UI's form for each job kind, drawn from that kind's REST body (``job_requests``):
the same fields, defaults, bounds and descriptions, so a form cannot offer what the API
refuses or miss what it takes. Training keeps its own page (``/train``), which offers the
chosen dataset's columns as targets; every other kind's form is ``/jobs/new/{kind}``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from trainforge.server.job_requests import (
    AnomaliesJob,
    ClusterJob,
    EvaluateJob,
    FederatedSimulateJob,
    PredictJob,
    RLEvalJob,
    RLTrainJob,
    UpdateJob,
)

# each kind's form, with what its page says it does; `train` has its own page
FORMS: dict[str, tuple[type[BaseModel], str]] = {
    "predict": (PredictJob, "Predict every row of a table"),
    "evaluate": (EvaluateJob, "Evaluate a model on a labelled table"),
    "cluster": (ClusterJob, "Find segments in a table"),
    "anomalies": (AnomaliesJob, "Find anomalies in a table"),
    "rl_train": (RLTrainJob, "Train a reinforcement-learning agent"),
    "rl_eval": (RLEvalJob, "Replay a policy"),
    "update": (UpdateJob, "Update a model on its labelled feedback (a new challenger version)"),
    "federated_simulate": (FederatedSimulateJob, "Simulate a federation (Flower) on a table"),
}


@dataclass(frozen=True)
class FormField:
    """One input of a job form."""

    name: str  # as the body spells it (``time_budget``, not the config's ``time_budget_s``)
    label: str
    widget: Literal["dataset", "model", "select", "checkbox", "list", "number", "text"]
    options: tuple[str, ...]  # a select's choices
    default: str  # shown filled in; "" when the field has none
    required: bool
    help: str


def form_url(kind: str) -> str:
    """Where the web UI's form for a job ``kind`` is."""
    return "/train" if kind == "train" else f"/jobs/new/{kind}"


def form_fields(body: type[BaseModel]) -> list[FormField]:
    """The inputs of ``body``'s form, in the body's order (``kind`` is the form's own)."""
    return [_field(info.alias or name, info) for name, info in body.model_fields.items()
            if name != "kind"]


def _field(name: str, info: FieldInfo) -> FormField:
    kinds = _kinds(info.annotation)
    options: tuple[str, ...] = ()
    widget: Literal["dataset", "model", "select", "checkbox", "list", "number", "text"]
    if name in ("dataset", "model"):
        widget = name  # type: ignore[assignment]  # a select of the uploads / models
    elif len(kinds) == 1 and get_origin(kinds[0]) is Literal:
        widget, options = "select", tuple(str(value) for value in get_args(kinds[0]))
    elif kinds == [bool]:
        widget = "checkbox"
    elif any(get_origin(kind) is tuple for kind in kinds):
        widget = "list"
    elif all(kind in (int, float) for kind in kinds):
        widget = "number"
    else:
        widget = "text"
    default = info.get_default() if not info.is_required() else None
    shown = ",".join(default) if isinstance(default, tuple) else \
        "" if default is None or default is False else str(default)
    return FormField(name=name, label=name.replace("_", " ").capitalize(), widget=widget,
                     options=options, default=shown, required=info.is_required(),
                     help=info.description or "")


def _kinds(annotation: Any) -> list[Any]:
    """The types a field takes, less None: ``int | None`` → [int]."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [kind for kind in get_args(annotation) if kind is not type(None)]
    return [annotation]


def body_from_form(kind: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The JSON body a form's inputs stand for: blank inputs left out (the body's default
    applies), comma-separated lists split, a ticked checkbox true."""
    fields = {field.name: field for field in form_fields(FORMS[kind][0])}
    body: dict[str, Any] = {"kind": kind}
    for key, raw in form.items():
        value = raw.strip()
        field = fields.get(key)
        if field is None or not value:
            continue
        if field.widget == "list":
            body[key] = [part.strip() for part in value.split(",") if part.strip()]
        elif field.widget == "checkbox":
            body[key] = value in ("on", "true")
        else:
            body[key] = value
    return body
