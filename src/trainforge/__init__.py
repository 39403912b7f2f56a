"""trainforge: data in; a trained, evaluated, registered and served model out.

    import trainforge as tf
    model = tf.train("examples/adult.csv", target="income", time_budget=60)
    print(model.evaluation)          # metrics on a held-out split
    model.predict(frame)             # labels, one per row
    tf.load("adult@production")      # any registered version, by NAME, NAME:VERSION or NAME@ALIAS
    agent = tf.train_agent("CartPole-v1")  # reinforcement learning: agent.act(observation)

Heavy libraries load on first use, so importing trainforge (and ``trainforge --help``) is instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from trainforge.version import __version__

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd

    from trainforge.data.profile import Profile
    from trainforge.evaluation.evaluate import Evaluation
    from trainforge.jobs.predict import PredictionOutcome
    from trainforge.model import AnomaliesModel, Model, SegmentsModel, TrainedModel, TrainedPolicy
    from trainforge.monitoring.feedback import FeedbackOutcome
    from trainforge.monitoring.monitor import Monitoring
    from trainforge.rl.evaluation import Evaluation as PolicyEvaluation
    from trainforge.workspace import Workspace

__all__ = ["AnomaliesModel", "Model", "SegmentsModel", "TrainedModel", "TrainedPolicy",
           "Workspace", "__version__", "cluster", "evaluate", "evaluate_agent", "feedback",
           "find_anomalies", "load", "monitor", "predict_batch", "profile", "serve", "train",
           "train_agent"]


def __getattr__(name: str) -> object:
    # the classes load lazily too: `import trainforge` must not pull in pandas or SQLAlchemy
    if name == "Workspace":
        from trainforge.workspace import Workspace

        return Workspace
    if name in ("Model", "TrainedModel", "SegmentsModel", "AnomaliesModel", "TrainedPolicy"):
        from trainforge import model

        return getattr(model, name)
    raise AttributeError(f"module 'trainforge' has no attribute {name!r}")


def _workspace(workspace: Workspace | None) -> Workspace:
    from trainforge.workspace import Workspace

    return workspace if workspace is not None else Workspace()


def train(data: str | Path, *, target: str | None = None, name: str | None = None,
          intended_use: str | None = None, intended_users: str | None = None,
          time_budget: float = 60, metric: str | None = None, seed: int = 0,
          trials: int | None = None, algorithm: str = "auto", search_workers: int = 1,
          search_backend: str = "auto", test_size: float = 0.2, split: str = "stratified", group_column: str | None = None,
          time_column: str | None = None, sql: str | None = None,
          init_from: str | None = None, freeze_backbone: bool = False, workers: int = 1,
          max_epochs: int | None = None, pii: str = "warn",
          label_issues: str = "keep", rules: str = "warn",
          dp_epsilon: float | None = None, dp_delta: float | None = None,
          dp_max_grad_norm: float = 1.0,
          sensitive_features: Sequence[str] | str = (),
          sensitive_as_features: bool = True, fairness_constraint: str | None = None,
          fairness_tolerance: float | None = None,
          resume: str | None = None, workspace: Workspace | None = None,
          observers: Sequence[object] = ()) -> TrainedModel:
    """Find the best model for ``target`` within ``time_budget`` seconds, evaluate it on a
    held-out split, write its report and register it.

    ``data`` is a table, or a folder of images with one sub-folder per class (``target`` is
    then not needed). ``init_from`` starts a network from a registered one (``NAME@ALIAS``);
    ``resume`` continues an interrupted run by its id, with that run's own settings.
    ``intended_use`` and ``intended_users`` start the model card's written parts.
    ``workers`` > 1 trains networks data-parallel on that many Ray Train workers.
    ``max_epochs`` caps every network's epochs (default: each network's own, more on small
    data so that it takes at least 500 optimiser steps).
    ``pii`` says what to do with columns holding personal data: "warn", "drop", "hash" or
    "mask" them before training. ``label_issues`` says what to do with rows whose label looks
    wrong (classification): "keep" them (listed in the report), "drop" them from the final
    fit, or "review" them (sent to the labeling project ``<model>-label-issues`` to relabel,
    and written to ``label-issues.csv`` in the package).
    ``search_workers`` runs that many search trials at once as Ray tasks
    (``search_backend="ray"``, or "auto" with ``$TRAINFORGE_RAY_ADDRESS`` set); with
    ``trials`` the model is the same whatever the number of workers.
    ``rules`` says what the training rules do when one fires while a network trains: "warn"
    (the finding goes to the observers and the run's metrics), "stop" the run, or "off".
    ``dp_epsilon`` trains networks with DP-SGD (Opacus): each trained network spends at most
    (``dp_epsilon``, ``dp_delta``) on its rows, each row's gradient clipped to
    ``dp_max_grad_norm``; only networks are candidates, and the budget spent is in the
    manifest, the report and the model card.
    ``sensitive_features`` (``["sex"]``) assesses the model per group on the test split
    (``fairness.json`` in the package); ``sensitive_as_features=False`` keeps those columns
    out of what the model learns from; ``fairness_constraint`` ("demographic_parity" or
    "equalized_odds", binary classification) equalises the groups by per-group thresholds;
    ``fairness_tolerance`` lets demographic parity's selection rates differ by that much.

    Example:
        >>> model = tf.train("examples/credit_g.csv", target="class", time_budget=20)
        >>> model.evaluation.metrics["roc_auc"] > 0.7
        True
    """
    from trainforge.config import TrainConfig
    from trainforge.jobs.train import resume_training, run_training
    from trainforge.model import TrainedModel

    ws = _workspace(workspace)
    if resume is not None:
        outcome = resume_training(resume, workspace=ws, observers=observers)
    else:
        config = TrainConfig(data=str(data), target=target, name=name,
                             intended_use=intended_use, intended_users=intended_users,
                             time_budget=time_budget, metric=metric, seed=seed,
                             trials=trials, algorithm=algorithm,
                             search_workers=search_workers,
                             search_backend=search_backend,  # type: ignore[arg-type]
                             test_size=test_size,
                             split=split,  # type: ignore[arg-type]
                             group_column=group_column, time_column=time_column, sql=sql,
                             init_from=init_from, freeze_backbone=freeze_backbone,
                             workers=workers, max_epochs=max_epochs,
                             pii=pii,  # type: ignore[arg-type]
                             label_issues=label_issues,  # type: ignore[arg-type]
                             rules=rules,  # type: ignore[arg-type]
                             dp_epsilon=dp_epsilon, dp_delta=dp_delta,
                             dp_max_grad_norm=dp_max_grad_norm,
                             sensitive_features=sensitive_features,  # type: ignore[arg-type]
                             sensitive_as_features=sensitive_as_features,
                             fairness_constraint=fairness_constraint,  # type: ignore[arg-type]
                             fairness_tolerance=fairness_tolerance)
        outcome = run_training(config, workspace=ws, observers=observers)
    loaded = ws.registry.load(f"{outcome.version.name}:{outcome.version.version}")
    return TrainedModel(loaded, outcome)


def cluster(data: str | Path, *, name: str | None = None, features: Sequence[str] | None = None,
            exclude: Sequence[str] = (), method: str = "auto", k: int | None = None,
            time_budget: float = 60, seed: int = 0, sql: str | None = None,
            workspace: Workspace | None = None,
            observers: Sequence[object] = ()) -> SegmentsModel:
    """Segment a table's rows without labels, describe each segment and register the model.

    ``method`` is "auto" (k-means, Ward, HDBSCAN and Gaussian mixtures compared) or one of
    them; ``k`` fixes the number of segments (else chosen by silhouette/BIC, 2 to 10).
    ``predict`` on the returned model gives new rows their segment.

    Example:
        >>> seg = tf.cluster("examples/wine.csv", exclude=["cultivar"], time_budget=20)
        >>> len(seg.segments)
        3
    """
    from trainforge.config import ClusterConfig
    from trainforge.jobs.segments import run_clustering
    from trainforge.model import SegmentsModel

    ws = _workspace(workspace)
    config = ClusterConfig(data=str(data), name=name, sql=sql,
                           features=tuple(features) if features is not None else None,
                           exclude=tuple(exclude), method=method, k=k,
                           time_budget=time_budget, seed=seed)
    outcome = run_clustering(config, workspace=ws, observers=observers)
    return SegmentsModel(ws.registry.load(outcome.version.ref), outcome)


def find_anomalies(data: str | Path, *, name: str | None = None,
                   features: Sequence[str] | None = None, exclude: Sequence[str] = (),
                   method: str = "auto", contamination: float | str = "auto", top: int = 10,
                   seed: int = 0, sql: str | None = None, workspace: Workspace | None = None,
                   observers: Sequence[object] = ()) -> AnomaliesModel:
    """Score every row of a table for how unusual it is, describe the ``top`` anomalies and
    register the detector (``anomaly_score`` and ``predict`` score and flag new rows).

    ``method``: "auto" (local outlier factor up to 20,000 rows, else an isolation forest),
    "lof", "isolation_forest" or "robust_covariance"; ``contamination``: "auto" or the
    expected share of anomalies.
    """
    from trainforge.config import AnomalyConfig
    from trainforge.jobs.segments import run_anomalies
    from trainforge.model import AnomaliesModel

    ws = _workspace(workspace)
    config = AnomalyConfig(data=str(data), name=name, sql=sql,
                           features=tuple(features) if features is not None else None,
                           exclude=tuple(exclude), method=method,
                           contamination=contamination,  # type: ignore[arg-type]
                           top=top, seed=seed)
    outcome = run_anomalies(config, workspace=ws, observers=observers)
    return AnomaliesModel(ws.registry.load(outcome.version.ref), outcome)


def load(ref: str, *, workspace: Workspace | None = None) -> Model:
    """A registered model by ``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS``; hashes are checked."""
    from trainforge.model import Model

    return Model(_workspace(workspace).registry.load(ref))


def predict_batch(ref: str, data: str | Path, output: str | Path, *,
                  backend: Literal["local", "ray"] = "local",
                  ray_address: str | None = None, chunk_rows: int = 50_000,
                  workspace: Workspace | None = None) -> PredictionOutcome:
    """Predict every row of ``data`` into ``output``, as `trainforge predict` does:
    ``tf.predict_batch("churn@production", "s3://in/2024/", "s3://out/2024/", backend="ray")``.

    ``backend="local"``: one table in, one file out (CSV, or Parquet by its suffix).
    ``backend="ray"``: Parquet or CSV shards (a file, folder or glob; local or ``s3://``)
    predicted by Ray Data on the cluster at ``ray_address`` (None: this machine's) into one
    shard per input shard, in order, and ``manifest.json``.
    """
    from trainforge.config import PredictConfig
    from trainforge.jobs.predict import run_prediction

    settings = PredictConfig(model=ref, input=str(data), output=str(output),
                             chunk_rows=chunk_rows, backend=backend, ray_address=ray_address)
    return run_prediction(settings.model, settings.input, settings.output,
                          workspace=_workspace(workspace), chunk_rows=settings.chunk_rows,
                          backend=settings.backend, ray_address=settings.ray_address)


def profile(data: str | Path, *, target: str | None = None, sql: str | None = None) -> Profile:
    """Profile a table: missing values, kinds, outliers, class balance, leaking columns."""
    from trainforge.data.profile import profile as profile_dataset
    from trainforge.data.read import read_table

    return profile_dataset(read_table(data, sql=sql), target=target)


def evaluate(ref: str, data: str | Path, *,
             workspace: Workspace | None = None) -> Evaluation:
    """Score a registered model on a labelled table (it must hold the model's target column):
    ``tf.evaluate("credit@production", "new.csv").metrics["roc_auc"]``. A policy is judged by
    replaying it: ``evaluate_agent``."""
    from trainforge.jobs.evaluate import run_evaluation

    return run_evaluation(ref, data, workspace=_workspace(workspace))


def monitor(name: str, *, window: str = "1000", since: datetime | None = None,
            until: datetime | None = None, labelled: pd.DataFrame | None = None,
            workspace: Workspace | None = None) -> Monitoring:
    """Drift of deployment ``name`` (its URL name; ``trainforge serve`` logs under the model's
    name) over windows of its logged predictions: ``window`` is a row count ("1000") or a span
    ("6h", "1d"). ``labelled``: logged rows with a ``label`` column, scored per window.

    Example:
        >>> report = tf.monitor("credit", window="500")  # doctest: +SKIP
        >>> report.latest.drifted_features  # doctest: +SKIP
        ['age']
    """
    from trainforge.monitoring.drift import Window
    from trainforge.monitoring.monitor import monitor_deployment

    ws = _workspace(workspace)
    return monitor_deployment(name, store=ws, registry=ws.registry, log_root=ws.prediction_log,
                              window=Window.parse(window), since=since, until=until,
                              labelled=labelled)


def serve(refs: Sequence[str] | str, *, host: str = "127.0.0.1", port: int = 8000,
          workspace: Workspace | None = None) -> None:
    """Serve registered models over HTTP until interrupted (127.0.0.1 unless told otherwise)."""
    from trainforge.serving.server import serve as serve_models

    ws = _workspace(workspace)
    names = [refs] if isinstance(refs, str) else list(refs)
    serve_models([ws.registry.load(ref) for ref in names], host=host, port=port)


def feedback(name: str, data: pd.DataFrame | str | Path | Sequence[Mapping[str, object]], *,
             id_column: str = "request_id", label_column: str = "label",
             replace: bool = False, workspace: Workspace | None = None) -> FeedbackOutcome:
    """Send the true outcomes of deployment ``name``'s logged predictions: ``data`` is a
    DataFrame, a table file (CSV, Parquet, JSON…) or a list of dicts, each row an id and a
    label. ``id_column`` holds request ids (with an optional ``row`` column), or names an
    input the deployment logs, matched by value. At most 10,000 labels a call, checked whole
    before any is written; a label already recorded is replaced only with ``replace``.

    Example:
        >>> tf.feedback("churn", [{"request_id": rid, "label": "yes"}])  # doctest: +SKIP
        FeedbackOutcome(counts={'recorded': 1, ...}, late=0, records=[], hints=[])
    """
    import getpass

    import pandas

    from trainforge.data.read import read_table
    from trainforge.monitoring.feedback_doors import frame_records, submit_feedback

    ws = _workspace(workspace)
    if isinstance(data, (str, Path)):
        records = frame_records(read_table(data).frame)
    elif isinstance(data, pandas.DataFrame):
        records = frame_records(data)
    else:
        records = [dict(record) for record in data]
    return submit_feedback(ws, ws.prediction_log, deployment=name, records=records,
                           id_column=id_column, label_column=label_column,
                           submitted_by=getpass.getuser(), replace=replace)


def train_agent(env: str, *, algo: str | None = None, timesteps: int = 100_000,
                name: str | None = None, seed: int = 0, n_envs: int | None = None,
                search_trials: int | None = None, episodes: int = 20,
                resume: str | None = None, workspace: Workspace | None = None,
                observers: Sequence[object] = ()) -> TrainedPolicy:
    """Train an agent on ``env`` (a Gymnasium id or ``module:Class``), evaluate it over
    ``episodes`` episodes, write its report and register the policy (``name`` defaults to the
    env id, lower-cased). ``algo`` None picks PPO for discrete actions, SAC for continuous
    ones; ``search_trials`` first searches that many settings; ``resume`` continues an
    interrupted run by its id.

    Example:
        >>> agent = tf.train_agent("CartPole-v1", timesteps=100_000)  # doctest: +SKIP
        >>> agent.evaluation.mean  # doctest: +SKIP
        500.0
        >>> agent.act([0.0, 0.0, 0.0, 0.0])  # doctest: +SKIP
        array(0)
    """
    from trainforge.config import RLTrainConfig
    from trainforge.jobs.rl import resume_rl_training, run_rl_training
    from trainforge.model import TrainedPolicy

    ws = _workspace(workspace)
    if resume is not None:
        outcome = resume_rl_training(resume, workspace=ws, observers=observers)
    else:
        config = RLTrainConfig(env=env, algo=algo, timesteps=timesteps, name=name, seed=seed,
                               n_envs=n_envs, search_trials=search_trials, episodes=episodes)
        outcome = run_rl_training(config, workspace=ws, observers=observers)
    loaded = ws.registry.load(outcome.version.ref)
    return TrainedPolicy(loaded, outcome)


def evaluate_agent(ref: str, env: str | None = None, *, episodes: int = 20,
                   workspace: Workspace | None = None) -> PolicyEvaluation:
    """Replay a registered policy for ``episodes`` episodes of ``env`` (default: the one it was
    trained on): ``mean, std, returns = tf.evaluate_agent("cartpole-v1")``."""
    from trainforge.jobs.rl import replay

    return replay(ref, env, episodes=episodes, workspace=_workspace(workspace))
