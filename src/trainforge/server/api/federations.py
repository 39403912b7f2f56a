"""``/api/v1/federations``: federations the server coordinates, calling what ``trainforge
federated create|token|join`` call (``jobs.federation``).

Roles: an editor creates federations and makes client tokens; a viewer lists and reads them;
a client token reads its own federation and joins it, and nothing else (every other route
answers it 403). A join's body describes the holder's table, never its rows: its columns and
their kinds, the classes it has, its row count; for a federation that speaks TLS, the public
key its SuperNode signs with (``jobs.federation_keys``). A join that does not fit is a 422
naming each difference.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from trainforge.config import MAX_NAME_CHARS, FederationConfig
from trainforge.errors import InvalidField, NotThisFederation
from trainforge.jobs import federation as jobs
from trainforge.jobs.federation_keys import MAX_PUBLIC_KEY_CHARS
from trainforge.jobs.federation_tls import MAX_PEM_CHARS, CoordinatorTls
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.datasets import table_limits
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.store import federations as store
from trainforge.store.access import Principal
from trainforge.store.uploads import get_upload
from trainforge.workspace import Workspace

Viewer = Annotated[Principal, Depends(require("viewer", "read federations"))]
Editor = Annotated[Principal, Depends(require("editor", "create federations or their tokens"))]
Anyone = Annotated[Principal, Depends(require("client", "read or join a federation"))]
FederationName = Annotated[str, Path(max_length=100)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
Kind = Literal["numeric", "categorical", "boolean", "datetime", "text", "image", "id"]
MAX_COLUMNS = 2_000
MAX_CLASSES = 1_000
MAX_TOKENS = 100  # client tokens made at once
Pem = Annotated[str, Field(min_length=1, max_length=MAX_PEM_CHARS)]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Finite = Annotated[float, AfterValidator(_finite)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskBody(_Strict):
    target: Text
    kind: Literal["binary", "multiclass", "regression"]
    metric: Annotated[str, Field(min_length=1, max_length=50)]
    classes: list[Text] = Field(default=[], max_length=MAX_CLASSES)


class DeclaredColumnBody(_Strict):
    name: Text
    kind: Literal["numeric", "categorical", "boolean"]
    nullable: bool
    levels: list[Text] = Field(default=[], max_length=30)
    center: Finite = 0.0
    scale: Finite = Field(default=1.0, gt=0.0)


class DeclaredBody(_Strict):
    task: TaskBody
    columns: list[DeclaredColumnBody] = Field(min_length=1, max_length=MAX_COLUMNS)
    target_center: Finite = 0.0
    target_scale: Finite = Field(default=1.0, gt=0.0)


class SchemaBody(_Strict):
    """A federation's schema as ``GET /api/v1/federations/{name}`` answers it: the declared
    encoding, and every column of the sample with its kind."""

    declared: DeclaredBody
    columns: dict[Text, Kind] = Field(min_length=1, max_length=MAX_COLUMNS)


class FederationBody(FederationConfig, frozen=True, extra="forbid"):
    """The options of `trainforge federated create`, and where its schema comes from: a
    sample table uploaded before (``dataset``), or the schema itself (``schema``)."""

    dataset: str | None = Field(default=None, max_length=64, description=(
        "the id of an uploaded sample table (POST /api/v1/datasets) to declare the schema "
        "from"))
    given_schema: SchemaBody | None = Field(default=None, alias="schema", description=(
        "the schema itself, as GET /api/v1/federations/{name} answers it"))
    # the coordinator's TLS files as PEM text (Flower's --ssl-certfile, --ssl-keyfile and
    # --ssl-ca-certfile): all three, or none
    tls_certificate: Pem | None = Field(default=None, description=(
        "the coordinator's certificate (PEM), naming the address holders dial"))
    tls_private_key: Pem | None = Field(default=None, description=(
        "its private key (PEM); kept on the server, never shown again"))
    tls_ca_certificate: Pem | None = Field(default=None, description=(
        "the certificate authority (PEM) that signed it, which every holder trusts"))

    def coordinator_tls(self) -> CoordinatorTls | None:
        """The three TLS files, or None when none is given; InvalidField when some are."""
        given = {"certificate": self.tls_certificate, "private_key": self.tls_private_key,
                 "ca_certificate": self.tls_ca_certificate}
        missing = [f"tls_{field}" for field, pem in given.items() if pem is None]
        if len(missing) == len(given):
            return None
        if missing:
            raise InvalidField(missing[0], "TLS needs the coordinator's certificate, its "
                                           "private key and the CA certificate, all three")
        return CoordinatorTls(**{field: str(pem) for field, pem in given.items()})


class JoinBody(_Strict):
    """What a holder's table looks like: no row of it."""

    columns: dict[Text, Kind] = Field(min_length=1, max_length=MAX_COLUMNS,
                                      description="each column and its kind")
    classes: list[Text] = Field(default=[], max_length=MAX_CLASSES,
                                description="the target's classes in the table")
    n_rows: int = Field(ge=0, le=10**12, description="rows with a target value")
    tls: bool = Field(default=False, description="the holder connects with TLS, trusting a "
                                                 "root certificate it was given")
    public_key: str | None = Field(default=None, max_length=MAX_PUBLIC_KEY_CHARS, description=(
        "a federation that speaks TLS: the public key (OpenSSH, EC on a NIST curve) of the "
        "key pair the holder's SuperNode signs with; the coordinator admits that SuperNode "
        "alone"))


class TokensBody(_Strict):
    count: int = Field(default=1, ge=1, le=MAX_TOKENS)


def _workspace(request: Request) -> Workspace:
    found: Workspace = state_of(request).workspace
    return found


def _readable(who: Principal, name: str) -> None:
    """A client token reads its own federation only; every other role needs a viewer's."""
    if who.role == "client" and who.federation != name:
        raise NotThisFederation(f"this client token belongs to federation {who.federation!r}; "
                                f"it may not read {name!r}")
    if who.role != "client" and not who.may("viewer"):
        raise NotThisFederation(f"a {who.role} may not read federations")


def create_from_body(request: Request, body: FederationBody, who: Principal
                     ) -> dict[str, Any]:
    """Create the federation ``body`` describes (the REST route and the page's form): the
    federation as ``GET`` answers it, with its client ``tokens`` and ``notes``."""
    workspace = _workspace(request)
    tls = body.coordinator_tls()
    config = FederationConfig(**{**body.model_dump(include=set(FederationConfig.model_fields)),
                                 "tls": body.tls or tls is not None})
    if (body.dataset is None) == (body.given_schema is None):
        raise InvalidField("schema", "give either dataset (an uploaded sample table) or "
                                     "schema, one of them")
    if body.given_schema is not None:
        schema = jobs.check_schema(jobs.FederationSchema.from_dict(
            body.given_schema.model_dump()))
    else:
        sample = get_upload(workspace, str(body.dataset))["file"]
        schema = jobs.declare_from_sample(sample, config.target,
                                          limits=table_limits(state_of(request).config))
    created = jobs.create_federation(config, schema, workspace=workspace, created_by=who.name,
                                     tls=tls)
    return {**jobs.describe(created.record), "tokens": created.tokens,
            "notes": list(created.notes)}


def router() -> APIRouter:
    routes = APIRouter(prefix="/federations", tags=["federations"],
                       route_class=BoundedBodyRoute, responses=SIGNED_IN)

    @routes.post("", status_code=201, responses=documented(404, 409),
                 summary="Create a federation; the answer holds its client tokens, shown once")
    def create(request: Request, body: FederationBody, who: Editor) -> dict[str, Any]:
        return create_from_body(request, body, who)

    @routes.get("", summary="Every federation, newest first, with its status")
    def list_federations(request: Request, who: Viewer) -> list[dict[str, Any]]:
        return [jobs.describe(record) for record in store.list_federations(_workspace(request))]

    @routes.get("/{name}", responses=documented(404),
                summary="A federation's status, joins, schema and the rounds so far (a "
                        "client token: its own)")
    def status(request: Request, name: FederationName, who: Anyone) -> dict[str, Any]:
        _readable(who, name)
        workspace = _workspace(request)
        record = store.get_federation(workspace, name)
        shown = {**jobs.describe(record, with_schema=True),
                 "round_history": jobs.rounds_of(workspace, record)}
        if who.role == "client":  # a holder learns how many others joined, not who they are
            shown["joined"] = [m for m in shown["joined"] if m["client"] == who.name]
        return shown

    @routes.post("/{name}/join", responses=documented(404),
                 summary="Join with a client token: the plan and the coordinator's address")
    def join(request: Request, name: FederationName, body: JoinBody,
             who: Anyone) -> dict[str, Any]:
        if who.role != "client" or who.federation != name:
            raise NotThisFederation(f"joining federation {name!r} needs one of its client "
                                    f"tokens (`trainforge federated token {name}` makes one)")
        return jobs.join_federation(_workspace(request), name, client=who.name,
                                    summary=body.model_dump(exclude={"tls", "public_key"}),
                                    tls=body.tls, public_key=body.public_key)

    @routes.post("/{name}/tokens", status_code=201, responses=documented(404),
                 summary="More client tokens for a federation, shown once")
    def tokens(request: Request, name: FederationName, body: TokensBody,
               who: Editor) -> dict[str, Any]:
        workspace = _workspace(request)
        return {"federation": name, "tokens": [
            jobs.make_client_token(workspace, name, created_by=who.name)
            for _ in range(body.count)]}

    return routes
