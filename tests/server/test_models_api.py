"""The registry over HTTP: versions, manifests, reports, promotion and deletion by role."""

from __future__ import annotations

import pytest
from tests.server.conftest import bearer


def test_models_are_listed_with_their_latest_version(trained_client, trained_tokens):
    listed = trained_client.get("/api/v1/models", headers=bearer(trained_tokens["viewer"])).json()
    assert [(m["name"], m["latest_version"], m["n_versions"]) for m in listed] == [
        ("credit", 2, 2)]


def test_a_models_versions_come_oldest_first(trained_client, trained_tokens):
    versions = trained_client.get("/api/v1/models/credit",
                                  headers=bearer(trained_tokens["viewer"])).json()
    assert [v["version"] for v in versions] == [1, 2] and versions[0]["task"] == "binary"


def test_a_versions_manifest_is_found_by_number_latest_or_alias(trained_client, trained_tokens,
                                                               trained):
    trained.registry.alias("credit", 1, "production")
    viewer = bearer(trained_tokens["viewer"])
    shown = {v: trained_client.get(f"/api/v1/models/credit/versions/{v}", headers=viewer
                                   ).json()["version"] for v in ("1", "latest", "production")}
    assert shown == {"1": 1, "latest": 2, "production": 1}


def test_the_report_is_served_as_sandboxed_html(trained_client, trained_tokens):
    answer = trained_client.get("/api/v1/models/credit/versions/1/report",
                                headers=bearer(trained_tokens["viewer"]))
    assert answer.headers["content-type"].startswith("text/html")
    assert "<html" in answer.text.lower()
    assert "sandbox" in answer.headers["content-security-policy"]


def test_an_editor_promotes_a_version_and_removes_the_alias(trained_client, trained_tokens,
                                                           trained):
    editor = bearer(trained_tokens["editor"])
    moved = trained_client.put("/api/v1/models/credit/aliases/production", headers=editor,
                               json={"version": 1})
    assert moved.json() == {"name": "credit", "alias": "production", "version": 1}
    assert trained.registry.resolve("credit@production") == ("credit", 1)
    trained_client.delete("/api/v1/models/credit/aliases/production", headers=editor)
    assert trained.registry.versions("credit")[0].aliases == ()


def test_promoting_a_version_that_does_not_exist_is_a_404(trained_client, trained_tokens):
    answer = trained_client.put("/api/v1/models/credit/aliases/production", json={"version": 9},
                                headers=bearer(trained_tokens["editor"]))
    assert answer.status_code == 404 and "trainforge models list" in answer.json()["detail"]


def test_an_admin_deletes_one_version_then_the_whole_model(trained_client, trained_tokens,
                                                          trained):
    admin = bearer(trained_tokens["admin"])
    one = trained_client.delete("/api/v1/models/credit/versions/1", headers=admin).json()
    assert one == {"name": "credit", "deleted_versions": [1]}
    assert trained_client.delete("/api/v1/models/credit", headers=admin).json()[
        "deleted_versions"] == [2]
    assert trained.registry.list_models() == []


@pytest.mark.parametrize("method,path,body,role", [
    ("PUT", "/api/v1/models/credit/aliases/production", {"version": 1}, "viewer"),
    ("DELETE", "/api/v1/models/credit/aliases/production", None, "viewer"),
    ("DELETE", "/api/v1/models/credit/versions/1", None, "editor"),
    ("DELETE", "/api/v1/models/credit", None, "editor"),
])
def test_changing_the_registry_needs_the_role_for_it(trained_client, trained_tokens, method, path,
                                                     body, role):
    answer = trained_client.request(method, path, json=body,
                                    headers=bearer(trained_tokens[role]))
    assert answer.status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/models", "/api/v1/models/credit",
                                  "/api/v1/models/credit/versions/1",
                                  "/api/v1/models/credit/versions/1/report"])
def test_reading_the_registry_needs_a_token(trained_client, path):
    assert trained_client.get(path).status_code == 401
