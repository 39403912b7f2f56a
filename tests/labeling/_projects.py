"""Small labeling projects for the tests: texts in a table of tmp_path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trainforge.jobs.labeling import create_project
from trainforge.store.labeling import ProjectRecord
from trainforge.workspace import Workspace

TEXTS = ["win a free prize now", "see you at lunch", "free cash claim now", "meeting at noon",
         "claim your free prize", "lunch tomorrow?", "urgent prize waiting", "call me later"]


def text_project(workspace: Workspace, folder: Path, *, name: str = "sms", overlap: int = 1,
                 texts: list[str] = TEXTS) -> ProjectRecord:
    table = folder / f"{name}.csv"
    pd.DataFrame({"text": texts, "label": [None] * len(texts)}).to_csv(table, index=False)
    return create_project(workspace, name, table, classes="spam,ham", text_column="text",
                          overlap=overlap, created_by="owner")
