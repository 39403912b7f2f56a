"""The model card built from what a package holds, and rendered as Markdown and HTML that say
the same things. Packages are written by hand here: the card reads files, never a model."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

from trainforge.evaluation.model_card import build_card, complete_card
from trainforge.evaluation.model_card_render import card_html, card_markdown, card_sections

MANIFEST = {
    "name": "credit", "version": 3, "created_at": "2027-01-20T10:00:00+00:00",
    "description": "", "task": {"kind": "binary", "target": "class", "metric": "roc_auc",
                                "classes": ["bad", "good"]},
    "metrics": {"test": {"roc_auc": 0.8123, "accuracy": 0.75},
                "validation": {"roc_auc": 0.83}, "train": {"roc_auc": 0.9}},
    "members": [{"algorithm": "lightgbm", "weight": 3.0}, {"algorithm": "linear", "weight": 1.0}],
    "lineage": {"run_id": "r1", "dataset_fingerprint": "ab" * 32,
                "dataset_source": "credit_g.csv", "n_train_rows": 800, "n_test_rows": 200,
                "parent": {"name": "credit", "version": 2},
                "label_issues": {"method": "confident learning", "n_checked": 800,
                                 "n_flagged": 31, "action": "keep", "n_dropped": 0}},
}
PROFILE = {"source": "credit_g.csv", "n_rows": 1000, "n_columns": 21, "target": "class",
           "class_balance": {"good": 0.7, "bad": 0.3}, "n_duplicate_rows": 0, "warnings": [],
           "leaks": [], "columns": [{"name": "email", "privacy": {"summary": "emails (98%)"}},
                                    {"name": "age", "privacy": None}]}
FAIRNESS = {
    "sensitive_features": ["sex"], "constraint": None,
    "groups": [{"feature": "sex", "group": "female", "size": 62, "selection_rate": 0.61,
                "true_positive_rate": 0.8, "false_positive_rate": 0.41, "accuracy": 0.71,
                "error": None},
               {"feature": "sex", "group": "male", "size": 138, "selection_rate": 0.77,
                "true_positive_rate": 0.9, "false_positive_rate": 0.52, "accuracy": 0.76,
                "error": None}],
    "summary": {"demographic_parity_difference": {"value": 0.16, "low": 0.02, "high": 0.3}},
    "notes": ["groups under 30 test rows get no interval"],
}
EXPLANATIONS = {"global": [{"feature": "duration", "mean_abs": 0.2},
                           {"feature": "checking_status", "mean_abs": 0.5},
                           {"feature": "age", "mean_abs": 0.05}]}


def package(**files: dict[str, Any]) -> dict[str, Any]:
    """The card of a package holding ``files`` (name with '_' for '-' and '.': profile_json)."""
    held = {name.replace("_json", ".json"): json.dumps(content).encode()
            for name, content in files.items()}
    return build_card(MANIFEST, held.get)


def test_the_card_names_the_task_the_test_metrics_and_the_data():
    text = card_markdown(complete_card(package(profile_json=PROFILE), {}))
    assert "binary classifier of `class`, judged by roc_auc" in text
    assert "| roc_auc | 0.8123 | 0.83 | 0.9 |" in text
    assert "Trained on `credit_g.csv`" in text and "- rows: 1,000" in text
    assert "| good | 70.0% |" in text


def test_the_fairness_section_renders_the_group_table_and_the_disparities():
    text = card_markdown(complete_card(package(fairness_json=FAIRNESS), {}))
    assert ("| feature | group | size | selection rate | true positive rate | "
            "false positive rate | accuracy |") in text  # no error column: all null
    assert "| sex | female | 62 | 0.610 | 0.800 | 0.410 | 0.710 |" in text
    assert "| demographic parity difference | 0.160 | 0.020 to 0.300 |" in text
    assert "- groups under 30 test rows get no interval" in text


def test_a_card_without_fairness_says_how_to_assess_it():
    text = card_markdown(complete_card(package(), {}))
    assert "Not assessed: retrain with `--sensitive-features COLUMN,…`" in text


def test_the_explanations_section_lists_the_top_features_by_mean_absolute_shap():
    card = package(explanations_json=EXPLANATIONS)
    assert [row["feature"] for row in card["explanations"]["top"]] == [
        "checking_status", "duration", "age"]


def test_label_issues_private_data_and_the_parent_version_are_on_the_card():
    text = card_markdown(complete_card(package(profile_json=PROFILE), {}))
    assert "31 of 800 training rows have a label that looks wrong" in text
    assert "| email | emails (98%) | kept |" in text
    assert "- parent version: `credit:2`" in text


def test_a_written_part_shows_with_who_wrote_it_and_when():
    note = {"text": "Pre-screening loan applications.", "written_by": "eve",
            "written_at": datetime(2027, 1, 21, 9, 30, tzinfo=UTC), "version": 3}
    text = card_markdown(complete_card(package(), {"intended_use": note}))
    assert ("## Intended use\n\nPre-screening loan applications.\n\n"
            "_Written by eve on 2027-01-21 09:30:00 UTC._") in text


def test_markdown_and_html_show_the_same_headings_and_table_cells():
    note = {"text": "Loans <b>only</b>", "written_by": "eve",
            "written_at": datetime(2027, 1, 21, tzinfo=UTC), "version": 2}
    card = complete_card(package(profile_json=PROFILE, fairness_json=FAIRNESS,
                                 explanations_json=EXPLANATIONS), {"contact": note})
    markdown, html = card_markdown(card), card_html(card)
    headings = [s.title for s in card_sections(card)]
    assert re.findall(r"^## (.+)$", markdown, re.MULTILINE) == headings
    assert [unescape(h) for h in re.findall(r"<h2>(.+?)</h2>", html)] == headings
    html_cells = [unescape(re.sub(r"</?code>", "", cell))
                  for cell in re.findall(r"<td>(.*?)</td>", html)]
    assert html_cells == _markdown_cells(markdown)


def test_a_persons_text_is_escaped_in_the_html():
    note = {"text": "<script>alert(1)</script>", "written_by": "eve",
            "written_at": datetime(2027, 1, 21, tzinfo=UTC), "version": 3}
    html = card_html(complete_card(package(), {"caveats_and_recommendations": note}))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def _markdown_cells(markdown: str) -> list[str]:
    """Every cell of every table's body rows (not the header, not the | --- | line)."""
    lines = markdown.splitlines()
    headers = {lines[i - 1] for i, line in enumerate(lines) if line.startswith("| ---")}
    body = [line for line in lines if line.startswith("| ") and line not in headers
            and not line.startswith("| ---")]
    return [cell.strip().replace("\\|", "|") for line in body
            for cell in line.strip("|").split(" | ")]


PRIVACY = {"epsilon": 2.87, "target_epsilon": 3.0, "delta": 1e-5, "max_grad_norm": 1.0,
           "noise_multiplier": 1.12, "sample_rate": 0.008, "epochs": 30, "steps": 3750,
           "accountant": "rdp (Opacus)", "algorithm": "cnn",
           "scope": "ε is per trained network: the search that chose it is not private."}


def test_a_network_trained_with_dp_sgd_has_its_budget_and_scope_on_the_card():
    manifest = {**MANIFEST, "lineage": {**MANIFEST["lineage"],  # type: ignore[dict-item]
                                        "differential_privacy": PRIVACY}}
    text = card_markdown(complete_card(build_card(manifest, lambda name: None), {}))
    assert ("## Differential privacy\n\nTrained with DP-SGD (Opacus, rdp (Opacus) accountant): "
            "ε = 2.87 spent of a budget of ε = 3 at δ = 1e-05; each row's gradient clipped to "
            "1, Gaussian noise of 1.12 times that bound, Poisson batches of rate 0.008, 30 "
            "epochs (3750 steps).") in text
    assert "ε is per trained network" in text


def test_a_card_without_dp_has_no_privacy_section():
    assert "Differential privacy" not in card_markdown(complete_card(package(), {}))
