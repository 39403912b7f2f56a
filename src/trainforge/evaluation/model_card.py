"""The model card: what a model version is for, what it learned from, how well it does overall
and per group, where it fails, and where it came from.

Two parts make it. The automatic part is built at registration from what the package already
knows (its manifest, profile.json, diagnosis.json, fairness.json, explanations.json) and kept
in the package as ``model_card.json`` and ``MODEL_CARD.md``, so a copied package still
carries it. The written part (intended use, users, caveats, contact) only a person knows; it
lives in the store (``store.model_cards``), since a package never changes, and ``complete_card``
merges the two.

    card = complete_card(build_card(manifest, read_file), notes)
    markdown = card_markdown(card)   # evaluation.model_card_render
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from trainforge.evaluation.privacy_statement import privacy_record

CARD_FILE = "model_card.json"
MARKDOWN_FILE = "MODEL_CARD.md"
# files a training job puts in the package for the card (and the report) to read
PROFILE_FILE = "profile.json"
DIAGNOSIS_FILE = "diagnosis.json"
FAIRNESS_FILE = "fairness.json"
EXPLANATIONS_FILE = "explanations.json"
CARD_FORMAT_VERSION = 1
TOP_FEATURES = 10  # features the explanations section lists, by mean |SHAP|
MAX_GROUPS = 200  # rows of the fairness group table: intersections can multiply
MAX_FILE_BYTES = 16 << 20  # the largest package JSON the card reads (a profile of wide tables)

# the written part, in the order the card shows it: field → its section's title
WRITTEN = {
    "intended_use": "Intended use",
    "intended_users": "Intended users",
    "out_of_scope_uses": "Out-of-scope uses",
    "ethical_considerations": "Ethical considerations",
    "caveats_and_recommendations": "Caveats and recommendations",
    "contact": "Contact",
}
# the group table's measures, in column order: key → header
GROUP_MEASURES = {"size": "size", "selection_rate": "selection rate",
                  "true_positive_rate": "true positive rate",
                  "false_positive_rate": "false positive rate", "accuracy": "accuracy",
                  "error": "error"}

ReadFile = Callable[[str], bytes | None]  # a package file's content by name; None: not there


def build_card(manifest: Mapping[str, Any], read: ReadFile) -> dict[str, Any]:
    """The automatic part of the card of the package ``manifest`` describes; ``read`` gives
    its other files. Each section is None where the package has nothing for it."""
    lineage = _mapping(manifest.get("lineage"))
    task = _mapping(manifest.get("task"))
    profile = _read_json(read, PROFILE_FILE)
    return {
        "format_version": CARD_FORMAT_VERSION,
        "model": {"name": manifest.get("name"), "version": manifest.get("version"),
                  "created_at": manifest.get("created_at"),
                  "description": manifest.get("description") or ""},
        "task": {"kind": task.get("kind"), "target": task.get("target"),
                 "metric": task.get("metric"), "classes": list(task.get("classes") or [])},
        "algorithms": _algorithms(manifest.get("members")),
        "data": _data(lineage, profile),
        "metrics": _metrics(_mapping(manifest.get("metrics"))),
        "fairness": _fairness(_read_json(read, FAIRNESS_FILE)),
        "explanations": _explanations(_read_json(read, EXPLANATIONS_FILE)),
        "limits": _limits(_read_json(read, DIAGNOSIS_FILE)),
        "label_issues": _label_issues(lineage.get("label_issues")),
        "differential_privacy": privacy_record(lineage.get("differential_privacy")),
        "personal_data": _personal_data(profile, lineage.get("personal_data")),
        "lineage": _lineage(lineage),
    }


def complete_card(card: Mapping[str, Any], notes: Mapping[str, Mapping[str, Any]]
                  ) -> dict[str, Any]:
    """``card`` with its written part: each field of ``WRITTEN`` as ``{"text", "written_by",
    "written_at", "version"}`` from ``notes`` (store.model_cards.current_notes), or None."""
    written: dict[str, Any] = {}
    for field in WRITTEN:
        note = notes.get(field)
        written[field] = None if note is None else {
            "text": note["text"], "written_by": note["written_by"],
            "written_at": _iso(note["written_at"]), "version": note["version"]}
    return {**card, "written": written}


def card_json(card: Mapping[str, Any]) -> str:
    """The automatic part as the package keeps it (``model_card.json``)."""
    return json.dumps(card, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


# ---- the sections --------------------------------------------------------------------------
def _algorithms(members: Any) -> list[dict[str, Any]]:
    rows = [m for m in members if isinstance(m, Mapping)] if isinstance(members, list) else []
    total = sum(_number(m.get("weight")) or 0.0 for m in rows) or 1.0
    return [{"algorithm": str(m.get("algorithm")),
             "weight": (_number(m.get("weight")) or 0.0) / total} for m in rows]


def _data(lineage: Mapping[str, Any], profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """The dataset and its profile's summary: size, target and class balance, warnings."""
    profile = profile or {}
    balance = _mapping(profile.get("class_balance"))
    return {
        "source": lineage.get("dataset_source") or profile.get("source"),
        "fingerprint": lineage.get("dataset_fingerprint"),
        "n_rows": profile.get("n_rows"), "n_columns": profile.get("n_columns"),
        "target": profile.get("target"),
        "class_balance": {str(k): v for k, v in balance.items() if _number(v) is not None},
        "n_train_rows": lineage.get("n_train_rows"), "n_test_rows": lineage.get("n_test_rows"),
        "n_duplicate_rows": profile.get("n_duplicate_rows"),
        "warnings": [str(w) for w in profile.get("warnings") or [] if isinstance(w, str)],
        "leaks": [f"{leak.get('column')}: {leak.get('reason')}"
                  for leak in profile.get("leaks") or [] if isinstance(leak, Mapping)],
    }


def _metrics(metrics: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Split → metric → value, numbers only; flat metrics (no splits) count as ``test``."""
    splits = {k: v for k, v in metrics.items() if isinstance(v, Mapping)}
    if not splits:
        splits = {"test": metrics}
    return {split: {name: float(value) for name, value in values.items()
                    if _number(value) is not None}
            for split, values in splits.items()}


def _fairness(found: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """fairness.json as the card shows it: the group table, the summary with intervals, the
    notes; fields it does not know are left out."""
    if found is None:
        return None
    groups = [{"feature": str(g.get("feature")), "group": str(g.get("group")),
               **{key: _number(g.get(key)) for key in GROUP_MEASURES}}
              for g in found.get("groups") or [] if isinstance(g, Mapping)]
    summary = {str(name): {part: _number(value.get(part)) for part in ("value", "low", "high")}
               for name, value in _mapping(found.get("summary")).items()
               if isinstance(value, Mapping)}
    constraint = found.get("constraint")
    features = found.get("sensitive_features")
    return {"sensitive_features": [str(f) for f in features] if isinstance(features, list)
            else [], "constraint": str(constraint) if constraint else None,
            "groups": groups[:MAX_GROUPS], "n_groups": len(groups), "summary": summary,
            "notes": [str(n) for n in found.get("notes") or [] if isinstance(n, str)]}


def _explanations(found: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    scored = [(str(row.get("feature")), _number(row.get("mean_abs")))
              for row in found.get("global") or [] if isinstance(row, Mapping)]
    ranked = sorted(((feature, value) for feature, value in scored if value is not None),
                    key=lambda pair: -pair[1])
    return {"top": [{"feature": feature, "mean_abs": value}
                    for feature, value in ranked[:TOP_FEATURES]], "n_features": len(ranked)}


def _limits(diagnosis: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The diagnosis' verdict, findings and advice, with the scores it compared."""
    if diagnosis is None:
        return None
    return {"verdict": str(diagnosis.get("verdict")), "metric": diagnosis.get("metric"),
            "findings": [str(f) for f in diagnosis.get("findings") or []],
            "advice": [str(a) for a in diagnosis.get("advice") or []],
            **{key: _number(diagnosis.get(key)) for key in
               ("train_score", "validation_score", "test_score", "baseline_score")}}


def _label_issues(found: Any) -> dict[str, Any] | None:
    if not isinstance(found, Mapping):
        return None
    return {key: found.get(key) for key in
            ("method", "n_checked", "n_flagged", "action", "n_dropped", "note")}


def _personal_data(profile: Mapping[str, Any] | None, policy: Any) -> dict[str, Any] | None:
    """The columns the profile found personal data in, and what training did with them."""
    found = {str(column.get("name")): str(_mapping(column.get("privacy")).get("summary", ""))
             for column in (profile or {}).get("columns") or []
             if isinstance(column, Mapping) and column.get("privacy")}
    applied = _mapping(policy)
    if not found and not applied:
        return None
    return {"columns": found, "policy": applied.get("policy"),
            "actions": {str(k): str(v) for k, v in _mapping(applied.get("columns")).items()}}


def _lineage(lineage: Mapping[str, Any]) -> dict[str, Any]:
    parent = _mapping(lineage.get("parent"))
    packages = _mapping(lineage.get("packages"))
    return {"run_id": lineage.get("run_id"),
            "dataset_fingerprint": lineage.get("dataset_fingerprint"),
            "dataset_source": lineage.get("dataset_source"), "seed": lineage.get("seed"),
            "parent": f"{parent.get('name')}:{parent.get('version')}" if parent else None,
            "refit": lineage.get("refit"), "trainforge": packages.get("trainforge")}


# ---- reading what the package holds --------------------------------------------------------
def _read_json(read: ReadFile, name: str) -> dict[str, Any] | None:
    """A package's JSON object by name; None when it is missing, too large or not an object
    (the card then leaves its section out rather than fail a registration)."""
    content = read(name)
    if content is None or len(content) > MAX_FILE_BYTES:
        return None
    try:
        found = json.loads(content)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
