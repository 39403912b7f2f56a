"""``/api/v1/models``: the registry over HTTP: names, versions, manifests, reports, aliases
(promotion) and deletion, through the same ``Registry`` the CLI and the SDK use."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from trainforge.errors import ModelNotFound
from trainforge.registry.manifest import FAIRNESS_FILE
from trainforge.registry.registry import Registry
from trainforge.server.api.bodies import BoundedBodyRoute, WholeNumber
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.store.access import Principal

Viewer = Annotated[Principal, Depends(require("viewer", "read the registry"))]
Promoter = Annotated[Principal, Depends(require("editor", "move model aliases"))]
Deleter = Annotated[Principal, Depends(require("admin", "delete models"))]
# the report is the registry's own HTML; a sandbox keeps it from acting as the API's origin
_REPORT_HEADERS = {"Content-Security-Policy": "sandbox allow-scripts allow-popups"}


class ModelSummaryOut(BaseModel):
    name: str
    latest_version: int
    n_versions: int
    aliases: dict[str, int]  # alias → version
    task: str
    metric: str
    metric_value: float | None
    created_at: datetime


class ModelVersionOut(BaseModel):
    name: str
    version: int
    created_at: datetime
    task: str
    metrics: dict[str, Any]
    run_id: str | None
    dataset_fingerprint: str | None
    description: str
    aliases: list[str]


class AliasBody(BaseModel, extra="forbid"):
    version: WholeNumber = Field(ge=1, description="the version the alias points at from now on")


class AliasOut(BaseModel):
    name: str
    alias: str
    version: int | None  # None once removed


class DeletedOut(BaseModel):
    name: str
    deleted_versions: list[int]


Force = Annotated[bool, Query(description="undeploy the deployments serving it first; without "
                                         "it, deleting a deployed version is a 409")]


def registry_of(request: Request) -> Registry:
    registry: Registry = state_of(request).workspace.registry
    return registry


def version_ref(name: str, version: str) -> str:
    """The registry reference for ``/models/NAME/versions/VERSION``: VERSION is a number,
    ``latest``, or an alias (``production``)."""
    if version == "latest":
        return name
    return f"{name}:{version}" if version.isdigit() else f"{name}@{version}"


def router() -> APIRouter:
    routes = APIRouter(prefix="/models", tags=["models"], route_class=BoundedBodyRoute,
                       responses=SIGNED_IN)
    unknown = documented(404)

    @routes.get("", summary="Every registered model: latest version, aliases, its metric",
                response_model=list[ModelSummaryOut])
    def list_models(request: Request, who: Viewer) -> list[dict[str, Any]]:
        return [dataclasses.asdict(s) for s in registry_of(request).list_models()]

    @routes.get("/{name}", summary="The versions of a model, oldest first",
                response_model=list[ModelVersionOut], responses=unknown)
    def versions(request: Request, name: str, who: Viewer) -> list[dict[str, Any]]:
        return [{**dataclasses.asdict(v), "aliases": list(v.aliases)}
                for v in registry_of(request).versions(name)]

    @routes.get("/{name}/versions/{version}", summary="A version's manifest: task, inputs, "
                "metrics, lineage, files (VERSION: a number, `latest` or an alias)",
                responses=unknown)
    def manifest(request: Request, name: str, version: str, who: Viewer) -> dict[str, Any]:
        shown: dict[str, Any] = registry_of(request).show(version_ref(name, version))
        return shown

    @routes.get("/{name}/versions/{version}/report", summary="The version's HTML report",
                response_class=FileResponse, responses=unknown)
    def report(request: Request, name: str, version: str, who: Viewer) -> FileResponse:
        registry = registry_of(request)
        ref = version_ref(name, version)
        path = Path(registry.show(ref)["path"]) / "report.html"
        if not path.is_file():
            raise ModelNotFound(f"{ref} (its report)", [name])
        return FileResponse(path, media_type="text/html", headers=_REPORT_HEADERS)

    @routes.get("/{name}/versions/{version}/fairness", summary="The version's fairness "
                "assessment (fairness.json: groups, disparities with intervals, the constraint; "
                "trained with sensitive_features)", responses=unknown)
    def fairness(request: Request, name: str, version: str, who: Viewer) -> dict[str, Any]:
        registry = registry_of(request)
        ref = version_ref(name, version)
        path = Path(registry.show(ref)["path"]) / FAIRNESS_FILE
        if not path.is_file():  # trained without --sensitive-features
            raise ModelNotFound(f"{ref} (its fairness assessment: train with "
                                "sensitive_features to have one)", [name])
        found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return found

    @routes.put("/{name}/aliases/{alias}", summary="Point an alias at a version (promote)",
                response_model=AliasOut, responses=unknown)
    def promote(request: Request, name: str, alias: str, body: AliasBody,
                who: Promoter) -> dict[str, Any]:
        registry_of(request).alias(name, body.version, alias)
        return {"name": name, "alias": alias, "version": body.version}

    @routes.delete("/{name}/aliases/{alias}", summary="Remove an alias (its version stays)",
                   response_model=AliasOut, responses=unknown)
    def unalias(request: Request, name: str, alias: str, who: Promoter) -> dict[str, Any]:
        registry_of(request).unalias(name, alias)
        return {"name": name, "alias": alias, "version": None}

    @routes.delete("/{name}/versions/{version}", summary="Delete one version and its files "
                   "(409 while deployed, unless `?force=true`)", response_model=DeletedOut,
                   responses=documented(404, 409))
    def delete_version(request: Request, name: str, version: int, who: Deleter,
                       force: Force = False) -> dict[str, Any]:
        deleted = registry_of(request).delete(name, version, force=force)
        state_of(request).deployments.sync()  # this process stops serving it now, not in 0.5 s
        return {"name": name, "deleted_versions": deleted}

    @routes.delete("/{name}", summary="Delete every version of a model and its files (409 "
                   "while one is deployed, unless `?force=true`)", response_model=DeletedOut,
                   responses=documented(404, 409))
    def delete_model(request: Request, name: str, who: Deleter,
                     force: Force = False) -> dict[str, Any]:
        deleted = registry_of(request).delete(name, force=force)
        state_of(request).deployments.sync()
        return {"name": name, "deleted_versions": deleted}

    return routes
