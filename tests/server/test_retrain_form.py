"""The model page's retraining panel: the policy as a form, saved as the REST route saves it,
and the latest decisions."""

from __future__ import annotations

from trainforge.store import retrain as retrain_store


def test_the_model_page_loads_the_retraining_panel(editor):
    assert 'hx-get="/ui/models/credit/retrain"' in editor.get("/models/credit").text


def test_the_panel_shows_the_latest_decisions(editor, trained):
    retrain_store.record_event(trained, model_name="credit", trigger="labels",
                               reason="60 labels arrived", outcome="skipped")
    panel = editor.get("/ui/models/credit/retrain").text
    assert 'hx-post="/ui/models/credit/retrain-policy"' in panel
    assert "60 labels arrived" in panel and "skipped" in panel


def test_a_policy_saved_through_the_form_is_stored(editor, trained):
    answer = editor.post("/ui/models/credit/retrain-policy",
                         data={"new_labels": "40", "every": "7d", "train_on": "latest:500",
                               "min_interval": "2h", "time_budget": "30", "enabled": "on"})
    assert answer.status_code == 204
    stored = retrain_store.get_policy(trained, "credit")["policy"]
    assert (stored["new_labels"], stored["every"], stored["train_on"], stored["enabled"]) == (
        40, "7d", "latest:500", True)


def test_the_form_keeps_a_policy_that_learns_by_update(editor, trained):
    answer = editor.post("/ui/models/credit/retrain-policy",
                         data={"new_labels": "40", "train_on": "latest:500", "learn": "update",
                               "min_interval": "2h", "time_budget": "30", "enabled": "on"})
    assert answer.status_code == 204
    assert retrain_store.get_policy(trained, "credit")["policy"]["learn"] == "update"
    panel = editor.get("/ui/models/credit/retrain").text
    assert '<option value="update" selected>' in panel


def test_a_bad_duration_in_the_form_is_shown_naming_the_field(editor, trained):
    answer = editor.post("/ui/models/credit/retrain-policy",
                         data={"every": "weekly", "train_on": "original+feedback",
                               "min_interval": "1h", "time_budget": "60"})
    assert 'class="error"' in answer.text and "every:" in answer.text
    assert retrain_store.get_policy(trained, "credit") is None
