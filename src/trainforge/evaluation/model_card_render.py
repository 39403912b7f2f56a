"""A model card as Markdown and as HTML, from one list of sections, so that the two say the
same things: the same headings, sentences and table cells, only marked up differently.

    sections = card_sections(card)        # card: evaluation.model_card.complete_card(...)
    card_markdown(card); card_html(card)  # a page, or with standalone=False a fragment
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from trainforge.evaluation.model_card import GROUP_MEASURES, WRITTEN
from trainforge.evaluation.privacy_statement import privacy_paragraphs

_KINDS = {"binary": "binary classifier", "multiclass": "multiclass classifier",
          "regression": "regression model", "reinforcement": "reinforcement-learning policy"}
_BACKTICKED = re.compile(r"`([^`<>]+)`")


@dataclass(frozen=True)
class CardTable:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class CardSection:
    """One heading's content: paragraphs, then bullets, then tables; ``note`` is the
    section's small print (who wrote it, or how to fill it in)."""

    title: str
    anchor: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    tables: list[CardTable] = field(default_factory=list)
    note: str = ""
    written: bool = False  # a person's text, shown as they wrote it


def card_title(card: Mapping[str, Any]) -> str:
    model = card["model"]
    return f"Model card: {model['name']}:{model['version']}"


def card_sections(card: Mapping[str, Any]) -> list[CardSection]:
    """Every section of ``card`` in reading order: what it is and is for, the data, how well
    it does (overall, per group), why it decides, where it fails, and where it came from."""
    return [_details(card), _written(card, "intended_use"), _written(card, "intended_users"),
            _written(card, "out_of_scope_uses"), _data(card), _metrics(card), _fairness(card),
            *_present(_explanations(card)), _limits(card), *_present(_label_issues(card)),
            *_present(_differential_privacy(card)),
            *_present(_personal_data(card)), _written(card, "ethical_considerations"),
            _written(card, "caveats_and_recommendations"), _lineage(card),
            _written(card, "contact")]


def card_markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown (the package's MODEL_CARD.md, `trainforge models card`)."""
    lines = [f"# {card_title(card)}", ""]
    for section in card_sections(card):
        lines += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        if section.bullets:
            lines += [f"- {bullet}" for bullet in section.bullets] + [""]
        for table in section.tables:
            if table.caption:
                lines += [f"**{table.caption}**", ""]
            lines += [_md_row(table.columns), _md_row(["---"] * len(table.columns))]
            lines += [_md_row(row) for row in table.rows] + [""]
        if section.note:
            lines += [f"_{section.note}_", ""]
    return "\n".join(lines).rstrip() + "\n"


def card_html(card: Mapping[str, Any], *, standalone: bool = True) -> str:
    """The card as a self-contained page in the report's style (no scripts, no external
    URLs), or with ``standalone=False`` as an ``<article>`` for another page to hold."""
    import jinja2  # only when HTML is drawn: registration writes Markdown alone

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("trainforge.evaluation", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["code"] = _code
    return environment.get_template("model_card.html.j2").render(
        title=card_title(card), sections=card_sections(card), standalone=standalone)


# ---- each section --------------------------------------------------------------------------
def _details(card: Mapping[str, Any]) -> CardSection:
    model, task = card["model"], card["task"]
    what = _KINDS.get(str(task.get("kind")), f"{task.get('kind')} model")
    if task.get("target"):
        what += f" of `{task['target']}`"
    paragraphs = [(f"A {what}, judged by {task.get('metric')}; registered "
                  f"{str(model.get('created_at') or '')[:19].replace('T', ' ')} UTC.")]
    if model.get("description"):
        paragraphs.append(str(model["description"]))
    bullets = [f"{row['algorithm']} ({row['weight']:.0%} of the blend)"
               for row in card.get("algorithms") or []]
    if task.get("classes"):
        bullets.append("classes: " + ", ".join(map(str, task["classes"])))
    return CardSection("Model details", "details", paragraphs, bullets)


def _written(card: Mapping[str, Any], name: str) -> CardSection:
    note = (card.get("written") or {}).get(name)
    title = WRITTEN[name]
    if note is None:
        model = card["model"]
        return CardSection(title, name.replace("_", "-"), note=(
            f"Not stated yet. An editor can write it: `trainforge models card "
            f"{model['name']}:{model['version']} --set {name}=\"…\"`, or on the model page."))
    inherited = (f" for version {note['version']}"
                 if note["version"] != card["model"]["version"] else "")
    return CardSection(title, name.replace("_", "-"), [note["text"]], written=True, note=(
        f"Written by {note['written_by'] or 'someone on this machine'} on "
        f"{str(note['written_at'])[:19].replace('T', ' ')} UTC{inherited}."))


def _data(card: Mapping[str, Any]) -> CardSection:
    data = card["data"]
    source = data.get("source") or "an unnamed table"
    paragraphs = [f"Trained on `{source}`"
                  + (f" (version {str(data['fingerprint'])[:12]})" if data.get("fingerprint")
                     else "") + "."]
    facts = [(label, data.get(key)) for label, key in (
        ("rows", "n_rows"), ("columns", "n_columns"), ("training rows", "n_train_rows"),
        ("test rows", "n_test_rows"), ("duplicate rows", "n_duplicate_rows"))]
    bullets = [f"{label}: {_fmt(value)}" for label, value in facts if value is not None]
    if data.get("target"):
        bullets.append(f"target: `{data['target']}`")
    tables = []
    if data.get("class_balance"):
        tables.append(CardTable(["class", "share of rows"],
                                [[str(k), _share(v)] for k, v in data["class_balance"].items()],
                                caption="Class balance"))
    bullets += [f"warning: {w}" for w in data.get("warnings") or []]
    bullets += [f"leaking column: {leak}" for leak in data.get("leaks") or []]
    return CardSection("Data", "data", paragraphs, bullets, tables)


def _metrics(card: Mapping[str, Any]) -> CardSection:
    metrics: Mapping[str, Mapping[str, float]] = card.get("metrics") or {}
    splits = [s for s in ("test", "validation", "train") if metrics.get(s)] + [
        s for s in metrics if s not in ("test", "validation", "train") and metrics[s]]
    names = list(dict.fromkeys(name for split in splits for name in metrics[split]))
    if not names:
        return CardSection("Metrics", "metrics", note="No metrics were recorded.")
    rows = [[name, *(_fmt(metrics[split].get(name)) for split in splits)] for name in names]
    paragraphs = [("Overall, on the held-out test split (never seen by model selection); "
                  "validation and train for comparison.")] if "test" in splits else []
    per_group = ("Per group: see Fairness." if card.get("fairness") else
                 "Per group: not measured (train with `--sensitive-features COLUMN`).")
    return CardSection("Metrics", "metrics", [*paragraphs, per_group],
                       tables=[CardTable(["metric", *splits], rows)])


def _fairness(card: Mapping[str, Any]) -> CardSection:
    fairness = card.get("fairness")
    if fairness is None:
        return CardSection("Fairness", "fairness", note=(
            "Not assessed: retrain with `--sensitive-features COLUMN,…` to measure how the "
            "model treats each group."))
    features = ", ".join(f"`{f}`" for f in fairness["sensitive_features"]) or "(unnamed)"
    constraint = (f"Mitigated for {fairness['constraint']}." if fairness["constraint"]
                  else "No mitigation was applied.")
    groups = fairness["groups"]
    measures = [key for key in GROUP_MEASURES if any(g.get(key) is not None for g in groups)]
    tables = [CardTable(["feature", "group", *(GROUP_MEASURES[m] for m in measures)],
                        [[g["feature"], g["group"],
                          *(_fmt(g.get(m)) if m == "size" else _rate(g.get(m))
                            for m in measures)] for g in groups],
                        caption="Per group (test split)")]
    if fairness["summary"]:
        tables.append(CardTable(
            ["measure", "value", "95% interval"],
            [[name.replace("_", " "), _rate(v.get("value")), _interval(v)]
             for name, v in fairness["summary"].items()], caption="Disparities"))
    paragraphs = [f"Assessed on {features}. {constraint}"]
    if fairness["n_groups"] > len(groups):
        paragraphs.append(f"The first {len(groups)} of {fairness['n_groups']} groups are shown.")
    return CardSection("Fairness", "fairness", paragraphs, list(fairness["notes"]), tables)


def _explanations(card: Mapping[str, Any]) -> CardSection | None:
    found = card.get("explanations")
    if not found or not found["top"]:
        return None
    return CardSection(
        "Explanations", "explanations",
        [(f"The {len(found['top'])} features with the largest mean absolute SHAP value on the "
         f"test split (of {found['n_features']}).")],
        tables=[CardTable(["feature", "mean |SHAP|"],
                          [[row["feature"], _fmt(row["mean_abs"])] for row in found["top"]])])


def _limits(card: Mapping[str, Any]) -> CardSection:
    limits = card.get("limits")
    if limits is None:
        return CardSection("Known limits", "limits",
                           note="No diagnosis was recorded for this version.")
    scores = ", ".join(f"{split} {_fmt(limits.get(f'{split}_score'))}"
                       for split in ("train", "validation", "test", "baseline")
                       if limits.get(f"{split}_score") is not None)
    paragraphs = [f"Diagnosis: {limits['verdict']} ({limits.get('metric')}: {scores}).",
                  *limits["findings"], *(["What to try:"] if limits["advice"] else [])]
    return CardSection("Known limits", "limits", paragraphs, list(limits["advice"]))


def _label_issues(card: Mapping[str, Any]) -> CardSection | None:
    found = card.get("label_issues")
    if not found:
        return None
    text = (f"{_fmt(found.get('n_flagged'))} of {_fmt(found.get('n_checked'))} training rows "
            f"have a label that looks wrong (found by {found.get('method')}); "
            f"action: {found.get('action')}")
    if found.get("n_dropped"):
        text += f", {_fmt(found['n_dropped'])} dropped before the final fit"
    return CardSection("Label issues", "label-issues",
                       [text + ".", *([str(found["note"])] if found.get("note") else [])])


def _differential_privacy(card: Mapping[str, Any]) -> CardSection | None:
    record = card.get("differential_privacy")
    if not record:
        return None
    return CardSection("Differential privacy", "differential-privacy",
                       privacy_paragraphs(record))


def _personal_data(card: Mapping[str, Any]) -> CardSection | None:
    found = card.get("personal_data")
    if not found:
        return None
    columns = sorted({*found["columns"], *found["actions"]})
    rows = [[column, found["columns"].get(column, ""), found["actions"].get(column, "kept")]
            for column in columns]
    policy = f"`--pii {found['policy']}`" if found.get("policy") else "none (kept as they are)"
    return CardSection("Personal data", "personal-data",
                       [(f"Columns that hold personal data, and what training did with them "
                        f"(policy: {policy}).")],
                       tables=[CardTable(["column", "found", "done"], rows)])


def _lineage(card: Mapping[str, Any]) -> CardSection:
    lineage = card.get("lineage") or {}
    labels = (("run", "run_id"), ("dataset version", "dataset_fingerprint"),
              ("dataset", "dataset_source"), ("parent version", "parent"), ("seed", "seed"),
              ("trainforge", "trainforge"))
    bullets = [f"{label}: `{lineage[key]}`" for label, key in labels
               if lineage.get(key) is not None]
    return CardSection("Lineage", "lineage", [str(lineage["refit"])] if lineage.get("refit")
                       else [], bullets)


# ---- formatting ----------------------------------------------------------------------------
def _code(text: str) -> Markup:
    """``text`` escaped, with its `backticked` spans as <code>, as Markdown shows them."""
    return Markup(_BACKTICKED.sub(r"<code>\1</code>", str(escape(text))))


def _present(section: CardSection | None) -> list[CardSection]:
    return [] if section is None else [section]


def _fmt(value: Any) -> str:
    if value is None or isinstance(value, float) and not math.isfinite(value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or isinstance(value, float) and value.is_integer() \
            and abs(value) >= 1000:
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _rate(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}"


def _share(value: Any) -> str:
    return "—" if value is None else f"{value:.1%}"


def _interval(summary: Mapping[str, Any]) -> str:
    low, high = summary.get("low"), summary.get("high")
    return "—" if low is None or high is None else f"{low:.3f} to {high:.3f}"


def _md_row(cells: list[str]) -> str:
    # a cell's own | or line break would end the cell or the row
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
