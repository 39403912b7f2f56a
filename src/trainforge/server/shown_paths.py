"""What the server shows of its own files: dataset ids and names, never its paths.

Jobs name their dataset by upload id, but a run's settings, an error message or an
evaluation may still hold a path inside the workspace (``/srv/tf/artifacts/uploads/1f…/x.csv``).
Every job, log line and run the API and the web UI show passes through ``without_paths``,
which writes an upload's file as ``x.csv (dataset 1f…)`` and any other workspace path from
the workspace's root (``<artifacts>/models/credit/1/report.html``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from trainforge.workspace import Workspace

T = TypeVar("T")


def without_paths(value: T, workspace: Workspace) -> T:
    """``value`` (JSON-like: dicts, lists, strings…) with the workspace's paths replaced."""
    return cast(T, _Hider(workspace).hide(value))


class _Hider:
    def __init__(self, workspace: Workspace) -> None:
        artifacts, home = str(workspace.artifacts), str(workspace.home)
        self.upload = re.compile(re.escape(artifacts) + r"/uploads/([0-9a-f]{32})/([^\s'\",)]+)")
        # the longer root first: artifacts usually lie inside home
        self.roots = sorted([(artifacts, "<artifacts>"), (home, "<workspace>")],
                            key=lambda pair: -len(pair[0]))

    def hide(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, Mapping):
            return {key: self.hide(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.hide(item) for item in value]
        return value

    def _text(self, text: str) -> str:
        text = self.upload.sub(r"\2 (dataset \1)", text)
        for root, shown in self.roots:
            text = text.replace(root, shown)
        return text
