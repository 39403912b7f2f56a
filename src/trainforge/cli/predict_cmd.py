"""`trainforge predict`, `evaluate` and `serve`: using a registered model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from trainforge.cli.remote import ServerOption, TokenOption

_REF_HELP = "NAME, NAME:VERSION or NAME@ALIAS"


def predict(
    model: Annotated[str, typer.Argument(help=_REF_HELP)],
    input: Annotated[str, typer.Argument(help="table to predict (any format `train` reads), "
                                              "or a folder of images; with --backend ray, "
                                              "Parquet or CSV shards: a file, a folder, a "
                                              "glob, local or s3://bucket/prefix")],
    output: Annotated[str, typer.Option("--output", "-o", help="CSV or .parquet to write; "
                                        "with --backend ray, a new folder or s3:// prefix")],
    chunk_rows: Annotated[int, typer.Option(help="rows read (predicted) at a time")] = 50_000,
    backend: Annotated[Literal["local", "ray"], typer.Option(
        help="local: here, one chunk at a time; ray: on a Ray cluster with Ray Data, the "
             "model loaded once per worker, one output shard per input shard (in its order) "
             "plus manifest.json, written last")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", envvar="TRAINFORGE_RAY_ADDRESS",
        help="with --backend ray: auto (the cluster started on this machine), HOST:PORT or "
             "ray://HOST:PORT [default: auto]")] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="add each row's top contributions (SHAP values): explain.base_value "
                          "and explain.N.feature/.value/.contribution, largest first")] = False,
    explain_top: Annotated[int, typer.Option(
        help="contributions written per row with --explain (1 to 50)")] = 5,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Predict every row of INPUT, in order, into OUTPUT.

    Writes a `prediction` column plus one probability column per class for classifiers;
    large files stream through in chunks. For a folder of images, one row per image with its
    `path` first. With --explain, each row's top contributions to the output (a classifier's
    probability of its positive class, or of each class; a regressor's value).

    With --backend ray, INPUT's Parquet or CSV shards are predicted on a Ray cluster (Ray
    Data): OUTPUT gets part-00000… (shard i = input shard i, inputs sorted by path, rows in
    order) and manifest.json, written last, with each shard's rows and sha256.
    """
    from rich.console import Console

    from trainforge.client import server_url
    from trainforge.config import PredictConfig
    from trainforge.jobs.predict import run_prediction
    from trainforge.workspace import Workspace

    settings = PredictConfig(model=model, input=input, output=output, chunk_rows=chunk_rows,
                             explain_top_k=explain_top if explain else None, backend=backend,
                             ray_address=ray_address)
    url = server_url(server)
    if url is not None and settings.explain_top_k is not None:
        from trainforge.errors import ConfigError

        raise ConfigError("--explain runs here, on this workspace's models; leave out "
                          "--server, or POST /v1/models/NAME/predict?explain=true to a "
                          "deployed model")
    if url is not None and settings.backend == "ray":
        from trainforge.errors import ConfigError

        raise ConfigError("--backend ray reads shards where the Ray cluster reaches them, with "
                          "this workspace's models; leave out --server, or POST a predict job "
                          'with "backend": "ray" to the server')
    if url is not None:
        from trainforge.cli.remote_use import predict_remotely

        predict_remotely(url, token=token, model=settings.model, data=Path(settings.input),
                         output=Path(settings.output),
                         console=Console(stderr=True, highlight=False))
        return
    done = run_prediction(settings.model, settings.input, settings.output,
                          workspace=Workspace(), chunk_rows=settings.chunk_rows,
                          explain_top_k=settings.explain_top_k, backend=settings.backend,
                          ray_address=settings.ray_address)
    result = done.batch
    console = Console(stderr=True)
    if result.skipped:
        shown = ", ".join(result.skipped[:5]) + (" …" if len(result.skipped) > 5 else "")
        console.print(f"[yellow]note:[/] skipped {len(result.skipped):,} files that are not "
                      f"readable images: {shown}", highlight=False)
    if result.n_unscored:
        shown = ", ".join(map(str, result.unscored_rows)) + (
            " …" if result.n_unscored > len(result.unscored_rows) else "")
        console.print(f"[yellow]note:[/] {result.n_unscored:,} rows could not be scored (their "
                      "values overflow the model's arithmetic, e.g. a number near 1e308) and "
                      f"are left empty: rows {shown}", highlight=False)
    into = " (shards and manifest.json)" if settings.backend == "ray" else ""
    console.print(f"wrote {result.n_rows:,} predictions of {done.model} to "
                  f"{settings.output}{into} in {result.seconds:.2f} s", highlight=False)


def evaluate(
    model: Annotated[str, typer.Argument(help=_REF_HELP)],
    data: Annotated[Path, typer.Argument(help="labelled table holding the model's target")],
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Score a registered model on a labelled table."""
    from rich.console import Console

    from trainforge.cli.render import metrics_table
    from trainforge.client import server_url
    from trainforge.jobs.evaluate import run_evaluation
    from trainforge.workspace import Workspace

    url = server_url(server)
    if url is not None:
        from trainforge.cli.remote_use import evaluate_remotely

        metrics = evaluate_remotely(url, token=token, model=model, data=data,
                                    console=Console(stderr=True, highlight=False))
        Console().print(metrics_table(metrics, title=f"{model} on {data} (on {url})"))
        return
    evaluation = run_evaluation(model, data, workspace=Workspace())
    Console().print(metrics_table(evaluation, title=f"{model} on {data}"))


def serve(
    models: Annotated[list[str], typer.Argument(help=f"one or more models: {_REF_HELP}")],
    host: Annotated[str, typer.Option(help="address to bind; 0.0.0.0 exposes it to the "
                                           "network")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    max_records: Annotated[int, typer.Option(
        help="records one request may hold; a bigger batch is refused (413) before it is "
             "checked: split it, or use `trainforge predict` for files")] = 10_000,
    log: Annotated[str, typer.Option(
        "--log", help="which predictions the workspace's prediction log keeps: all, none or "
                      "sample:RATE (e.g. sample:0.1)")] = "all",
    log_exclude: Annotated[list[str] | None, typer.Option(
        "--log-exclude", help="an input column never logged (repeat for more)")] = None,
    log_hash: Annotated[list[str] | None, typer.Option(
        "--log-hash", help="an input column logged as a keyed hash: equal values stay equal, "
                           "the value cannot be read back (repeat for more)")] = None,
    log_retention_days: Annotated[int, typer.Option(
        help="days of logged predictions kept")] = 30,
) -> None:
    """Serve models over HTTP: POST /v1/models/NAME/predict (/act for a policy), MLflow's
    /invocations, /docs. Every prediction is logged in the workspace unless --log none."""
    from rich.console import Console

    from trainforge.config import ServeConfig
    from trainforge.monitoring.prediction_log import LogPolicy, serving_log
    from trainforge.serving.server import serve as serve_models
    from trainforge.workspace import Workspace

    settings = ServeConfig(models=tuple(models), host=host, port=port, max_records=max_records,
                           log=log, log_exclude=tuple(log_exclude or ()),
                           log_hash=tuple(log_hash or ()),
                           log_retention_days=log_retention_days)
    policy = LogPolicy.parse(settings.log, exclude=settings.log_exclude,
                             hashed=settings.log_hash)
    workspace = Workspace()
    loaded = [workspace.registry.load(ref) for ref in settings.models]
    inputs = {m.name: [spec.name for spec in m.model.features]
              for m in loaded if not m.is_policy}  # a policy's /act is not logged
    recorder = serving_log(workspace.prediction_log, policy, inputs=inputs,
                           retention_days=settings.log_retention_days)
    console = Console(stderr=True)
    names = ", ".join(f"/v1/models/{m.split('@')[0].split(':')[0]}/predict" for m in models)
    console.print(f"serving {', '.join(models)} on http://{settings.host}:{settings.port} "
                  f"({names}, or …/act for a policy; docs at /docs); Ctrl-C stops",
                  highlight=False)
    if recorder is not None:
        console.print(f"logging predictions ({settings.log}) to {workspace.prediction_log}",
                      highlight=False)
    serve_models(loaded, host=settings.host, port=settings.port,
                 max_records=settings.max_records, recorder=recorder, usage=workspace)
