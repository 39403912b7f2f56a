"""`trainforge label create|status|export|import`: labeling projects in the local workspace.
The labeling itself happens in the browser (`trainforge server`, then /labeling/NAME)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Labeling projects: items to label in the "
                                             "browser, several annotators, export to train.")
NameArgument = Annotated[str, typer.Argument(help="the project's name")]


@app.command("create")
def create(
    name: NameArgument,
    data: Annotated[Path, typer.Argument(help="a table (CSV, Parquet…) or a folder of images")],
    classes: Annotated[str, typer.Option(help="the classes, comma-separated: spam,ham")],
    text_column: Annotated[str | None, typer.Option(help="the column of texts to label")] = None,
    image_column: Annotated[str | None, typer.Option(
        help="the column of image paths (relative to the table's folder)")] = None,
    overlap: Annotated[int, typer.Option(
        help="labels wanted per item, from different annotators (2: agreement is measured)"
    )] = 1,
) -> None:
    """Make project NAME from DATA: one item per text, image or row (a table whose target
    column is empty)."""
    from rich.console import Console

    from trainforge.jobs.labeling import create_project
    from trainforge.store.labeling import count_items
    from trainforge.workspace import Workspace

    workspace = Workspace()
    project = create_project(workspace, name, data, classes=classes, text_column=text_column,
                             image_column=image_column, overlap=overlap)
    Console(highlight=False).print(
        f"project {name}: {count_items(workspace, project['id']):,} {project['modality']} "
        f"items, classes {', '.join(project['classes'])}; label them at /labeling/{name} "
        "(`trainforge server`)")


@app.command("status")
def status(name: NameArgument) -> None:
    """Progress, labels per person, agreement and the quick model's score of project NAME."""
    from rich.console import Console

    from trainforge.jobs.labeling import project_status
    from trainforge.workspace import Workspace

    shown = project_status(Workspace(), name).to_dict()
    console = Console(highlight=False)
    console.print(f"{shown['name']} ({shown['modality']}, classes "
                  f"{', '.join(shown['classes'])}, overlap {shown['overlap']})")
    console.print(f"  {shown['labelled']:,} of {shown['items']:,} items labelled, "
                  f"{shown['done']:,} done; {shown['disagreements']:,} disagreements")
    for person, counts in sorted(shown["per_person"].items()):
        console.print(f"  {person}: {counts['labels']:,} labels, {counts['skips']:,} skips")
    kappa = shown["agreement"]
    if kappa["kappa"] is not None:
        console.print(f"  agreement: {kappa['method']} kappa {kappa['kappa']:.3f} on "
                      f"{kappa['items']:,} items")
    if shown["scores"]:
        last = shown["scores"][-1]
        console.print(f"  quick model: CV score {last['score']:.3f} on {last['labels']:,} "
                      "labels")


@app.command("export")
def export(
    name: NameArgument,
    format: Annotated[str, typer.Option(
        help="dataset (a table to train on, recorded with its lineage), csv (every label) "
             "or label-studio (JSON)")] = "dataset",
    out: Annotated[Path | None, typer.Option(
        help="the file to write (default NAME.csv, or NAME.json for label-studio)")] = None,
) -> None:
    """Write project NAME's labels; the dataset format is what `trainforge train` takes."""
    import getpass

    from rich.console import Console

    from trainforge.jobs.labeling import EXPORT_FORMATS, export_labels
    from trainforge.workspace import Workspace

    if format not in EXPORT_FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(EXPORT_FORMATS)}", param_hint="--format")
    target = out or Path(f"{name}.{'json' if format == 'label-studio' else 'csv'}")
    done = export_labels(Workspace(), name, out=target, format=format,
                         exported_by=getpass.getuser())
    console = Console(highlight=False)
    console.print(f"wrote {done.n_rows:,} rows to {done.path}")
    if done.dataset_id is not None:
        from trainforge.store.labeling import get_project

        project = get_project(Workspace(), name)
        console.print(f"dataset version {done.dataset_id}; train on it with `trainforge train "
                      f"{done.path} --target {project['target']}`")


@app.command("import")
def import_(
    name: NameArgument,
    file: Annotated[Path, typer.Argument(help="Label Studio JSON (.json) or CSV (.csv)")],
) -> None:
    """Add the labels in FILE to project NAME (all checked before any is written)."""
    import getpass

    from rich.console import Console

    from trainforge.errors import DataFileNotFound
    from trainforge.jobs.labeling import MAX_IMPORT_BYTES, import_labels
    from trainforge.workspace import Workspace

    if not file.is_file():
        raise DataFileNotFound(str(file))
    with file.open("rb") as handle:
        raw = handle.read(MAX_IMPORT_BYTES + 1)
    count = import_labels(Workspace(), name, raw, source=str(file),
                          imported_by=getpass.getuser())
    Console(highlight=False).print(f"imported {count:,} labels into {name}")
