"""Talking to a trainforge server over its REST API: what ``--server URL`` commands use.

    client = ServerClient("http://127.0.0.1:8080", token="tf_…")
    job = client.post("/api/v1/jobs", json={"kind": "train", "dataset": dataset_id, ...})

The URL comes from ``--server`` or ``$TRAINFORGE_SERVER``, the token from ``--token`` or
``$TRAINFORGE_TOKEN``. An error the server answers is raised as ``ServerUnreachable`` with the
server's own message (the same words the server's CLI would print).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Self

import httpx

from trainforge.errors import AccessError, NotAuthenticated, ServerUnreachable

SERVER_VARIABLE = "TRAINFORGE_SERVER"
TOKEN_VARIABLE = "TRAINFORGE_TOKEN"


def server_url(given: str | None) -> str | None:
    """``--server`` if given, else ``$TRAINFORGE_SERVER``, else None (work locally)."""
    return given or os.environ.get(SERVER_VARIABLE) or None


class ServerClient:
    """A thin, synchronous client of one server; every call raises on an error answer."""

    def __init__(self, url: str, *, token: str | None = None, timeout_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get(TOKEN_VARIABLE)
        if not self.token:
            raise NotAuthenticated(f"no API token for {self.url}: set ${TOKEN_VARIABLE} or give "
                                   "--token")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {self.token}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ServerUnreachable(self.url, f"cannot be reached ({error}); is `trainforge "
                                    "server` running there?") from None
        if answer.status_code >= 400:
            detail = _detail(answer)
            if answer.status_code in (401, 403):
                raise AccessError(f"{self.url} refused {method} {path}: {detail}")
            raise ServerUnreachable(self.url, f"{method} {path} answered {answer.status_code}: "
                                    f"{detail}")
        return answer

    def get(self, path: str, **params: Any) -> Any:
        return self._send("GET", path, params=params or None).json()

    def post(self, path: str, json: Any = None) -> Any:
        return self._send("POST", path, json=json).json()

    def put(self, path: str, json: Any = None) -> Any:
        return self._send("PUT", path, json=json).json()

    def patch(self, path: str, json: Any = None) -> Any:
        return self._send("PATCH", path, json=json).json()

    def delete(self, path: str) -> Any:
        answer = self._send("DELETE", path)
        return answer.json() if answer.content else None

    def upload(self, path: str, file: Path, *, field: str = "file") -> Any:
        """POST ``file`` as a multipart form field, streamed from disk."""
        with open(file, "rb") as handle:
            return self._send("POST", path, files={field: (Path(file).name, handle)}).json()

    def download(self, path: str, output: Path) -> Path:
        """GET ``path`` into ``output`` through a temp file: a failed download leaves none."""
        partial = output.with_name(f".{output.name}.partial")
        try:
            with self._http.stream("GET", path) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    raise ServerUnreachable(self.url, f"GET {path} answered "
                                            f"{answer.status_code}: {_detail(answer)}")
                with open(partial, "wb") as handle:
                    handle.writelines(answer.iter_bytes())
            os.replace(partial, output)
        except httpx.HTTPError as error:
            raise ServerUnreachable(self.url, f"download of {path} failed ({error})") from None
        finally:
            partial.unlink(missing_ok=True)
        return output


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:500] or answer.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return detail if isinstance(detail, str) else str(detail)[:1000]
