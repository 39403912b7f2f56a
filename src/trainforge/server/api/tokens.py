"""``/api/v1/tokens`` (admin): create an API token (shown once), list them, revoke one; the
same store functions ``trainforge token`` calls."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.statuses import SIGNED_IN
from trainforge.server.auth import require, state_of
from trainforge.store import access
from trainforge.store.access import Principal, TokenRecord

Admin = Annotated[Principal, Depends(require("admin", "manage API tokens"))]


class TokenBody(BaseModel, extra="forbid"):
    role: Literal["viewer", "editor", "admin"]
    name: str = Field(default="", max_length=100, description="who or what uses it")


class TokenOut(BaseModel):
    id: str
    name: str
    role: str
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    federation: str | None = None  # a client token's federation


class TokenCreated(TokenOut):
    token: str  # shown this once: only its sha256 is kept


def router() -> APIRouter:
    routes = APIRouter(prefix="/tokens", tags=["access"], route_class=BoundedBodyRoute,
                       responses=SIGNED_IN)

    @routes.post("", summary="Create an API token; the answer is the only time it is shown",
                 response_model=TokenCreated, status_code=201)
    def create(request: Request, body: TokenBody, who: Admin) -> dict[str, Any]:
        token, record = access.create_token(state_of(request).workspace,
                                            name=body.name or f"{body.role} token",
                                            role=body.role, created_by=who.name)
        return {**record, "token": token}

    @routes.get("", summary="Every token (revoked ones too), newest first, without secrets",
                response_model=list[TokenOut])
    def list_tokens(request: Request, who: Admin) -> list[TokenRecord]:
        return access.list_tokens(state_of(request).workspace)

    @routes.delete("/{token_id}", summary="Revoke a token: it stops working at once",
                   response_model=TokenOut)
    def revoke(request: Request, token_id: str, who: Admin) -> TokenRecord:
        state = state_of(request)
        record = access.revoke_token(state.workspace, token_id)
        state.tokens.forget()  # this process must not trust it from its cache either
        return record

    return routes
