"""The main job, end to end: a table in; an evaluated, registered model out.

Every door (SDK, CLI, REST) builds a ``TrainConfig`` and calls ``run_training``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainforge.config import TrainConfig
from trainforge.data.task import LOWER_IS_BETTER
from trainforge.errors import ConfigError
from trainforge.jobs.lifecycle import Run, checkpoint_root, run_lifecycle
from trainforge.jobs.observers import notify
from trainforge.jobs.search_backend import check_search_backend, search_runner
from trainforge.json_value import JSONValue
from trainforge.training.memory import release_freed_memory
from trainforge.training.semi_supervised import (
    SEMI_SUPERVISED_SEARCH_SHARE,
    fit_method,
    semi_supervised,
    worth_trying,
)
from trainforge.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

    from trainforge.algorithms.model import TabularModel
    from trainforge.data.dataset import Dataset
    from trainforge.data.privacy_policy import PolicyOutcome
    from trainforge.data.profile import Profile
    from trainforge.data.targets import TargetReport
    from trainforge.data.task import Task
    from trainforge.evaluation.diagnosis import Diagnosis
    from trainforge.evaluation.evaluate import Evaluation
    from trainforge.evaluation.explanations import GlobalExplanation
    from trainforge.jobs.label_issues import RunLabelIssues
    from trainforge.registry.records import ModelVersion
    from trainforge.runtime.callbacks import EpochEvent, TrialEvent
    from trainforge.runtime.rules import Finding
    from trainforge.training.automl import SearchResult
    from trainforge.training.semi_supervised import SemiSupervised

log = logging.getLogger(__name__)

# checkpoint_root: where a run's networks checkpoint (the lifecycle removes them on success)
__all__ = ["RESUME_COMMAND", "TrainingOutcome", "checkpoint_root", "resume_training",
           "run_training"]

RESUME_COMMAND = "trainforge train"


@dataclass
class TrainingOutcome:
    """Everything one training run produced; the SDK wraps it as a ``TrainedModel``."""

    config: TrainConfig
    task: Task
    target_report: TargetReport
    profile: Profile
    search: SearchResult
    evaluation: Evaluation
    diagnosis: Diagnosis
    importance: list[tuple[str, float, float]]
    version: ModelVersion  # the registered model
    run_id: str
    report_path: Path
    elapsed_s: float
    refitted: bool = False  # the registered model was refit on all labelled rows
    semi_supervised: dict[str, JSONValue] | None = None  # the methods compared, the one kept
    label_issues: dict[str, JSONValue] | None = None  # rows whose label looks wrong: the summary
    fairness: dict[str, Any] | None = None  # --sensitive-features: fairness.json's record


# Observers (the CLI's progress display, the server's job log) may define any of:
# on_task(task, notes, profile, features), on_run_start(run_id), on_phase(text), and the
# search callbacks of trainforge.runtime.callbacks (on_fit_start, on_trial_end, on_fit_end,
# on_error); see trainforge.jobs.observers.


class _RunRecorder:
    """Writes each trial's score, each network epoch's losses (and DP-SGD's ε spent), and each training rule that
    fires into the run's metric series as the search goes (the UI's live curves and the run
    page's findings read them); keeps the findings for the report."""

    def __init__(self, workspace: Workspace, run_id: str) -> None:
        self.workspace, self.run_id = workspace, run_id
        self.trial = 0
        self.findings: list[Finding] = []

    def on_rule(self, finding: Finding) -> None:
        from trainforge.store.runs import log_metric

        self.findings.append(finding)
        # the key names the rule and where it fired; the value is its first measured number
        key = ".".join(filter(None, ["rules", finding.rule, finding.where]))
        value = next(iter(finding.measured.values()), 0.0)
        log_metric(self.workspace, self.run_id, key, value if math.isfinite(value) else 0.0,
                   step=finding.step or 0)

    def on_epoch_end(self, event: EpochEvent) -> None:
        from trainforge.store.runs import log_metric

        prefix = f"trial{self.trial}.{event.algorithm}"
        log_metric(self.workspace, self.run_id, f"{prefix}.train_loss", event.train_loss,
                   step=event.epoch)
        if event.val_loss is not None:
            log_metric(self.workspace, self.run_id, f"{prefix}.val_loss", event.val_loss,
                       step=event.epoch)
        if event.epsilon is not None and math.isfinite(event.epsilon):  # --dp-epsilon's spend
            log_metric(self.workspace, self.run_id, f"{prefix}.epsilon", event.epsilon,
                       step=event.epoch)

    def on_trial_end(self, event: TrialEvent) -> None:
        from trainforge.store.runs import log_metric

        if event.score is not None:
            log_metric(self.workspace, self.run_id, "trial_score", float(event.score),
                       step=int(event.number))
            # per algorithm too: the UI's live leaderboard and its chart of score by trial
            log_metric(self.workspace, self.run_id, f"trials.{event.algorithm}",
                       float(event.score), step=int(event.number))
        self.trial = int(event.number) + 1


@dataclass(frozen=True)
class _Clock:
    """The user's budget on the monotonic clock, split between the phases of a run.

    The search gets ~85 % of what remains once the evaluation, report and registration are
    provided for; refitting the chosen blend on all rows typically needs 10-20 % of the
    search's time (measured on the benchmark suite), and stops itself if it would not fit.
    """

    deadline: float  # time.monotonic() at which the whole command must be done
    budget_s: float
    fixed: bool  # --trials: no phase is cut short, so the same seed gives the same model
    search_share: float = 0.85  # less when a semi-supervised phase follows the search

    def search_deadline(self, n_test_rows: int) -> float | None:
        # measured on 2 cores: ~1.5 s of fixed cost (plots, skops) plus ~1 s per 10k test rows
        tail = min(max(2.5 + n_test_rows / 10_000, 0.12 * self.budget_s), 0.5 * self.budget_s)
        start = self.deadline - self.budget_s
        return None if self.fixed else start + self.search_share * (self.budget_s - tail)

    def importance_deadline(self) -> float | None:
        allowed = max(0.5, 0.04 * self.budget_s)
        return None if self.fixed else min(time.monotonic() + allowed, self.refit_deadline() or 0)

    def explanation_deadline(self) -> float | None:
        # after the refit: the importance step's allowance, out of what the refit left for the
        # report and registration, keeping half of that for them
        allowed = max(0.5, 0.04 * self.budget_s)
        return None if self.fixed else min(time.monotonic() + allowed,
                                           self.deadline - (0.5 + 0.015 * self.budget_s))

    def refit_deadline(self) -> float | None:
        # what registration and the report need once the final model is fitted
        return None if self.fixed else self.deadline - (1.0 + 0.03 * self.budget_s)


def run_training(config: TrainConfig, *, workspace: Workspace,
                 observers: Sequence[object] = (), started_at: float | None = None,
                 resume_run: str | None = None) -> TrainingOutcome:
    """Read, infer the task, split, search, evaluate, refit on all rows, report and register.

    ``started_at`` is the ``time.time()`` the user's budget started (the CLI passes its
    process start, so the budget covers the whole command). ``resume_run``: continue that
    run (same id) from the checkpoints its networks left; see ``resume_training``.
    """
    from trainforge.data.privacy_policy import apply_policy, new_hash_key
    from trainforge.data.profile import profile as profile_data
    from trainforge.data.read import read_table
    from trainforge.data.splits import train_test_split
    from trainforge.data.targets import clean_target, feature_columns, infer_task
    from trainforge.jobs.differential_privacy import privacy_settings
    from trainforge.jobs.fairness import check_sensitive, fairness_metrics
    from trainforge.jobs.label_issues import check_applicable
    from trainforge.store.datasets import record_dataset

    if config.algorithm != "auto":
        from trainforge.algorithms import catalog

        catalog.get(config.algorithm)  # an unknown name fails now, before any data is read
    check_search_backend(config)  # so do more workers than the search backend runs
    wall_start = started_at if started_at is not None else time.time()
    # the deadline lives on the monotonic clock; convert the wall-clock start once
    clock = _Clock(deadline=time.monotonic() - (time.time() - wall_start) + config.time_budget_s,
                   budget_s=config.time_budget_s, fixed=config.trials is not None)
    cpu_start = time.process_time()

    read_notes: list[str] = []
    source = read_table(config.data, sql=config.sql, notes=read_notes)
    task = infer_task(source, _target_of(config, source), metric=config.metric)
    check_applicable(config.label_issues, task)  # before minutes are spent on the data
    # profiled before --pii changes anything: it is the user's table the profile describes
    data_profile = profile_data(source, target=task.target)
    privacy = apply_policy(source, data_profile.privacy, policy=config.pii, target=task.target,
                           key=new_hash_key() if config.pii == "hash" else b"")
    dataset = privacy.dataset
    frame, target_report = clean_target(dataset, task)
    unlabeled = dataset.frame.loc[dataset.frame[task.target].isna().to_numpy()]
    if worth_trying(task, len(unlabeled)):
        # every cross-validation fold fits each semi-supervised method: they get the most
        clock = dataclasses.replace(clock, search_share=SEMI_SUPERVISED_SEARCH_SHARE)
    features = feature_columns(dataset.schema, task.target, frame=frame, source=dataset.source)
    if config.sensitive_features:  # their columns and groups, before minutes are spent
        features = check_sensitive(config, frame, task=task, source=dataset.source,
                                   features=features)
    privacy_notes = [f"personal data (--pii {config.pii}): {action}"
                     for action in privacy.actions.values()]
    dp_settings, dp_notes = privacy_settings(config, task=task, schema=dataset.schema,
                                             features=features)
    notify(observers, "on_task", task,
           [*read_notes, *target_report.notes, *privacy_notes, *dp_notes], data_profile,
           features)
    train_frame, test_frame = train_test_split(
        frame, task, test_size=config.test_size, seed=config.seed, strategy=config.split,
        group_column=config.group_column, time_column=config.time_column)
    dataset_id = record_dataset(workspace, source, data_profile.to_dict())
    with run_lifecycle(workspace, kind="train", config=config, dataset_id=dataset_id,
                       observers=observers, resume_run=resume_run,
                       resume_command=RESUME_COMMAND, cpu_start=cpu_start) as run:
        outcome = _train_evaluate_register(
            config, workspace=workspace, observers=observers, clock=clock, run=run,
            dataset=dataset, task=task, frame=frame, train_frame=train_frame,
            test_frame=test_frame, features=features, data_profile=data_profile,
            target_report=target_report, unlabeled=unlabeled, privacy=privacy,
            dp_settings=dp_settings)
        _seed_card(config, workspace=workspace, version=outcome.version)
        # the disparities beside the scores (fairness_demographic_parity_difference, …)
        run.succeeded(outcome.version, metrics={
            **outcome.evaluation.metrics,
            **(fairness_metrics(outcome.fairness) if outcome.fairness else {})})
    outcome.elapsed_s = time.time() - wall_start
    return outcome


def _seed_card(config: TrainConfig, *, workspace: Workspace, version: ModelVersion) -> None:
    """The card's intended use and users as the trainer states them (the card's own edit
    writes them: a later ``trainforge models card --set`` supersedes them)."""
    from trainforge.store.model_cards import write_notes

    stated = {"intended_use": config.intended_use, "intended_users": config.intended_users}
    written = {field: text for field, text in stated.items() if text}
    write_notes(workspace, version.name, version.version, written, written_by=None)


def _train_evaluate_register(config: TrainConfig, *, workspace: Workspace,
                             observers: Sequence[object], clock: _Clock, run: Run,
                             dataset: Dataset, task: Task, frame: pd.DataFrame,
                             train_frame: pd.DataFrame, test_frame: pd.DataFrame,
                             features: list[str], data_profile: Profile,
                             target_report: TargetReport, unlabeled: pd.DataFrame,
                             privacy: PolicyOutcome,
                             dp_settings: dict[str, Any] | None = None) -> TrainingOutcome:
    from trainforge.evaluation.importance import permutation_importance
    from trainforge.evaluation.report import learning_curves
    from trainforge.evaluation.search_rules import search_findings
    from trainforge.jobs.differential_privacy import privacy_lineage
    from trainforge.jobs.fairness import assess_and_mitigate, constrain
    from trainforge.jobs.label_issues import check_labels
    from trainforge.monitoring.reference import build_reference, predicted_labels
    from trainforge.training.automl import search
    from trainforge.training.refit import refit_on_all

    run_id = run.id
    algorithm, fixed_params = config.algorithm, dict[str, Any]()
    if config.init_from:
        algorithm, fixed_params = _initial_network(config, workspace)
    recorder = _RunRecorder(workspace, run_id)
    runner = search_runner(config)
    result = search(train_frame, task=task, schema=dataset.schema, features=features,
                    deadline=clock.search_deadline(len(test_frame)), trials=config.trials,
                    seed=config.seed, algorithm=algorithm, fixed_params=fixed_params,
                    # observers implement only the hooks they need (see jobs.observers)
                    callbacks=[*observers, recorder],  # type: ignore[list-item]
                    checkpoint_root=run.checkpoints, rules=config.rules,
                    workers=config.workers, max_epochs=config.max_epochs,
                    privacy=dp_settings, runner=runner)
    if task.kind.is_classification:
        notify(observers, "on_phase", "looking for rows whose label looks wrong")
    # --label-issues drop: the model fitted without them is the one evaluated next
    checked = check_labels(result, action=config.label_issues, task=task, schema=dataset.schema,
                           features=features, train_frame=train_frame, frame=frame,
                           seed=config.seed, deadline=clock.refit_deadline())
    searched = train_frame  # the rows whose out-of-fold predictions the search kept
    train_frame, frame = checked.train_frame, checked.frame
    notify(observers, "on_phase", "evaluating on the held-out test split")
    evaluation, diagnosis = _evaluate(result, task=task, train_frame=train_frame,
                                      test_frame=test_frame)
    fairness = None
    if config.sensitive_features:
        notify(observers, "on_phase", "assessing each sensitive group on the test split")
        fairness = assess_and_mitigate(config, task=task, evaluation=evaluation, result=result,
                                       searched=searched, test_frame=test_frame)
    importance: list[tuple[str, float, float]] = []
    if len(features) > 1:  # one feature (an image, a text) is all of the model: nothing to rank
        notify(observers, "on_phase", "measuring permutation importance")
        importance = permutation_importance(result.model, test_frame, seed=config.seed,
                                            deadline=clock.importance_deadline())
        # its shuffled copies went through every member: what they took, the refit may reuse
        # only if the heap gives it back (satimage: 33 MB kept, then the refit on top of it)
        release_freed_memory()
    if config.rules != "off":
        for finding in search_findings(
                fits=result.trial_fits, diagnosis=diagnosis, importance=importance,
                frame=train_frame, target=task.target, features=features,
                classification=task.kind.is_classification, seed=config.seed):
            notify([*observers, recorder], "on_rule", finding)
    semi, semi_info = None, None
    # its methods learn with tabular models, which have no DP: a private run keeps to DP-SGD
    if worth_trying(task, len(unlabeled)) and dp_settings is None:
        notify(observers, "on_phase", f"semi-supervised training with the {len(unlabeled):,} "
                                      "unlabeled rows")
        semi = semi_supervised(result, train_frame, unlabeled, task=task, schema=dataset.schema,
                               features=features, seed=config.seed,
                               deadline=clock.refit_deadline())
        evaluation, semi_info = _compare_semi_supervised(semi, evaluation, test_frame, task)
    refitted = None
    refit_by = clock.refit_deadline()
    if semi is not None and semi.model is not None:
        # as for labeled-only below: the kept method learns from every labelled row too
        notify(observers, "on_phase", f"refitting {semi.kept} on all {len(frame):,} rows")
        if refit_by is None or time.monotonic() + semi.fit_s < refit_by:
            refitted = fit_method((semi.kept, semi.rounds), semi.recipe or result, frame,
                                  unlabeled, task=task, schema=dataset.schema,
                                  features=features, seed=config.seed, deadline=refit_by)
    else:
        # the test split has served its purpose: fit the same choices on every labelled row
        notify(observers, "on_phase", f"refitting the chosen blend on all {len(frame):,} rows")
        refitted = refit_on_all(result, frame, task=task, schema=dataset.schema,
                                features=features, deadline=clock.refit_deadline(),
                                seed=config.seed)
    final = (refitted if refitted is not None else
             semi.model if semi is not None and semi.model is not None else result.model)
    # the report shows the searched model's curves: its networks early-stopped on validation rows
    curves = learning_curves(result.model)
    private = privacy_lineage(final, result.model)  # before the evaluated model is released
    if refitted is not None:
        # the evaluated bag of fold models has served (test metrics, importance): a forest's
        # fold models are the run's largest objects, and what follows (the explanations'
        # imports, the report's plots, the package's files) adds to the run's peak
        result.model.members = []
        release_freed_memory()
    # the registered model is explained, as its served explanations are: one fit a member
    # where the evaluated bag holds one per fold (5x the trees to walk)
    explanation = None if len(features) <= 1 else _explained(
        final, test_frame, train_frame, observers=observers, seed=config.seed,
        deadline=clock.explanation_deadline())
    # what monitoring compares traffic with: the rows learned from (after --pii: the log holds
    # what the model sees too), and the evaluated model's predictions on the test split (the
    # refitted one has seen those rows)
    reference = build_reference(frame, final.features, task=task, seed=config.seed,
                                predictions=predicted_labels(evaluation.predictions, task=task))
    name = config.name or _default_name(config)
    lineage: dict[str, JSONValue] = {"dataset_fingerprint": dataset.fingerprint, "dataset_source": dataset.source,
               "run_id": run_id, "seed": config.seed, "config": config.model_dump(mode="json"),
               "n_train_rows": len(train_frame), "n_test_rows": len(test_frame),
               # the rows the registered model was fitted on (a windows update counts its
               # boosting rounds from these)
               "n_fitted_rows": len(frame) if refitted is not None else len(train_frame),
               "refit": (f"refitted on all {len(frame)} labelled rows after the evaluation "
                         "(same algorithms, settings and weights; the test metrics are those "
                         f"of the model fitted on the {len(train_frame)} training rows)")
               if refitted is not None else
               "not refitted (not enough time left): the registered model is the evaluated one"}
    if semi_info is not None:
        lineage["semi_supervised"] = semi_info
    if private is not None:
        lineage["differential_privacy"] = private
    if privacy.actions:
        lineage["personal_data"] = {"policy": config.pii, "columns": dict(privacy.actions)}
    if checked.found is not None:
        # review: the rows go to the model's labeling project; the dataset's profile lists them
        checked.found.follow_up(workspace, model=name, run_id=run_id, task=task,
                                schema=dataset.schema, features=features)
        lineage["label_issues"] = checked.found.lineage()
    # the model learnt from transformed columns: it transforms every input the same way
    final.inputs = privacy.inputs
    if fairness is not None:  # --fairness-constraint: the registered model decides by group
        constrain(final, fairness, schema=dataset.schema)
    version = _register(config, workspace=workspace, observers=observers, name=name, task=task,
                        model=final, result=result, evaluation=evaluation, diagnosis=diagnosis,
                        importance=importance, explanation=explanation,
                        data_profile=data_profile, lineage=lineage,
                        curves=curves, reference=reference, label_issues=checked.found,
                        rule_findings=recorder.findings,
                        fairness=None if fairness is None else fairness.record)
    return TrainingOutcome(
        config=config, task=task, target_report=target_report, profile=data_profile,
        search=result,
        evaluation=evaluation, diagnosis=diagnosis, importance=importance, version=version,
        run_id=run_id, report_path=version.path / "report.html", elapsed_s=0.0,
        refitted=refitted is not None, semi_supervised=semi_info,
        label_issues=None if checked.found is None else checked.found.lineage(),
        fairness=None if fairness is None else fairness.record)


def _compare_semi_supervised(semi: SemiSupervised, evaluation: Evaluation,
                             test_frame: pd.DataFrame, task: Task
                             ) -> tuple[Evaluation, dict[str, JSONValue]]:
    """The kept model's test evaluation, and the comparison the report shows: each method's
    cross-validated score that chose, and the test score of labeled-only and the kept one."""
    from trainforge.evaluation.evaluate import evaluate

    labeled_test = evaluation.metrics.get(task.metric)
    kept_evaluation = evaluation if semi.model is None else evaluate(semi.model, test_frame)
    methods: list[JSONValue] = []
    for row in semi.comparison:
        test = (labeled_test if row["method"] == "labeled only" else
                kept_evaluation.metrics.get(task.metric) if row["method"] == semi.kept else None)
        methods.append({**row, f"test_{task.metric}": test})
    return kept_evaluation, {"kept": semi.kept, "unlabeled_rows": semi.n_unlabeled,
                             "chosen_on": semi.chosen_on, "methods": methods}


def _evaluate(result: SearchResult, *, task: Task, train_frame: pd.DataFrame,
              test_frame: pd.DataFrame) -> tuple[Evaluation, Diagnosis]:
    """Test metrics of the searched model, and the train/validation/test diagnosis."""
    from trainforge.evaluation.diagnosis import diagnose
    from trainforge.evaluation.evaluate import evaluate
    from trainforge.evaluation.metrics import baseline_score
    from trainforge.evaluation.truth import truth_of

    evaluation = evaluate(result.model, test_frame)
    test_score = evaluation.metrics.get(task.metric)
    baseline = baseline_score(task.metric, task.kind, truth_of(train_frame, task).values,
                              truth_of(test_frame, task).values, n_classes=len(task.classes))
    diagnosis = diagnose(metric=task.metric, train_score=result.train_score,
                         validation_score=result.validation_score,
                         test_score=test_score if test_score is not None else float("nan"),
                         higher_is_better=task.metric not in LOWER_IS_BETTER,
                         baseline_score=baseline, n_test_rows=len(test_frame))
    return evaluation, diagnosis


def _explained(model: TabularModel, test_frame: pd.DataFrame, train_frame: pd.DataFrame, *,
               observers: Sequence[object], seed: int,
               deadline: float | None) -> GlobalExplanation | None:
    """The report's global explanations (mean |SHAP|, dependence plots); None where the model
    has none. A failure here costs the report its section, never the trained model."""
    from trainforge.evaluation.explanations import global_explanation

    notify(observers, "on_phase", "explaining the predictions (SHAP values)")
    try:
        return global_explanation(model, test_frame, background=train_frame, seed=seed,
                                  deadline=deadline)
    except (ValueError, TypeError, ImportError, RuntimeError):
        log.warning("the report's explanations could not be computed", exc_info=True)
        return None


def _register(config: TrainConfig, *, workspace: Workspace, observers: Sequence[object],
              name: str, task: Task, model: TabularModel, result: SearchResult,
              evaluation: Evaluation, diagnosis: Diagnosis,
              importance: list[tuple[str, float, float]],
              explanation: GlobalExplanation | None, data_profile: Profile,
              lineage: dict[str, JSONValue], curves: dict[str, dict[str, Any]],
              reference: dict[str, Any], label_issues: RunLabelIssues | None,
              rule_findings: Sequence[Finding] = (),
              fairness: dict[str, Any] | None = None) -> ModelVersion:
    """Write the report, the profile and the monitoring reference, then the model package with
    them inside."""
    from trainforge.data.privacy_policy import HASH_KEY_FILE
    from trainforge.evaluation.model_card import DIAGNOSIS_FILE, EXPLANATIONS_FILE
    from trainforge.evaluation.report import model_info, write_report
    from trainforge.monitoring.reference import REFERENCE_FILE
    from trainforge.store.json_values import to_json_value

    personal = lineage.get("personal_data")  # what --pii did, shown in the data section
    private = lineage.get("differential_privacy")  # --dp-epsilon's budget, its own section
    with tempfile.TemporaryDirectory(prefix="trainforge-report-") as scratch:
        notify(observers, "on_phase", "writing the report")
        report_file = write_report(
            Path(scratch) / "report.html", title=name, task=task, evaluation=evaluation,
            diagnosis=diagnosis, leaderboard=[asdict(c) for c in result.leaderboard],
            profile=data_profile.to_dict(), importance=importance, explanation=explanation,
            model_info=model_info(model, lineage=lineage), learning_curves=curves,
            personal_data=personal if isinstance(personal, dict) else None,
            label_issues=None if label_issues is None else label_issues.for_report(task),
            rule_findings=rule_findings, fairness=fairness,
            privacy=private if isinstance(private, dict) else None)
        profile_file = Path(scratch) / "profile.json"
        data_profile.save_json(profile_file, label_issues=None if label_issues is None
                               else label_issues.for_profile(str(lineage["run_id"])))
        reference_file = Path(scratch) / REFERENCE_FILE
        reference_file.write_text(json.dumps(reference, allow_nan=False), encoding="utf-8")
        extra_files = {"report.html": report_file, "profile.json": profile_file,
                       REFERENCE_FILE: reference_file}
        # the model card's known limits (evaluation.model_card) read the diagnosis from here
        extra_files[DIAGNOSIS_FILE] = Path(scratch) / DIAGNOSIS_FILE
        extra_files[DIAGNOSIS_FILE].write_text(json.dumps(
            to_json_value(diagnosis.to_dict(), where="diagnosis"), allow_nan=False),
            encoding="utf-8")
        if label_issues is not None:
            extra_files.update(label_issues.write_files(Path(scratch)))
        if fairness is not None:
            from trainforge.registry.manifest import FAIRNESS_FILE

            extra_files[FAIRNESS_FILE] = Path(scratch) / FAIRNESS_FILE
            extra_files[FAIRNESS_FILE].write_text(json.dumps(fairness, allow_nan=False,
                                                             indent=1), encoding="utf-8")
        if explanation is not None:  # the model card's top features read it from here
            extra_files[EXPLANATIONS_FILE] = Path(scratch) / EXPLANATIONS_FILE
            extra_files[EXPLANATIONS_FILE].write_text(json.dumps(
                explanation.for_card(), allow_nan=False, indent=1), encoding="utf-8")
        if model.inputs is not None and model.inputs.hashed:
            extra_files[HASH_KEY_FILE] = Path(scratch) / HASH_KEY_FILE
            extra_files[HASH_KEY_FILE].write_bytes(model.inputs.key)
        notify(observers, "on_phase", "registering the model package")
        return workspace.registry.register(
            model, name=name,
            metrics={"test": evaluation.to_dict()["metrics"],
                     "validation": {task.metric: result.validation_score},
                     "train": {task.metric: result.train_score}},
            lineage=lineage,
            extra_files=extra_files)


def resume_training(run_id: str, *, workspace: Workspace, observers: Sequence[object] = (),
                    started_at: float | None = None,
                    time_budget_s: float | None = None) -> TrainingOutcome:
    """Run an interrupted training run again with its own settings; the networks it had
    trained or begun continue from their checkpoints (same seed: the same weights)."""
    from trainforge.store.runs import get_run

    run = get_run(workspace, run_id)
    if run["kind"] == "rl":
        raise ConfigError(f"run {run_id} is a reinforcement-learning run; resume it with "
                          f"`trainforge rl train --resume {run_id}`")
    if run["status"] == "succeeded":
        raise ConfigError(f"run {run_id} finished already (model {run['model_name']}:"
                          f"{run['model_version']}); there is nothing to resume")
    settings = dict(run["config"])
    if time_budget_s is not None:
        settings["time_budget_s"] = time_budget_s
    return run_training(TrainConfig(**settings), workspace=workspace, observers=observers,
                        started_at=started_at, resume_run=run_id)


def _target_of(config: TrainConfig, dataset: Dataset) -> str:
    """The user's --target; an image folder's default is its class folders' column."""
    if config.target:
        return config.target
    if dataset.columns == ["path", "label"] and str(dataset.schema["path"]) == "image":
        return "label"
    raise ConfigError(f"say which column to predict with --target (columns of "
                      f"{dataset.source}: {', '.join(dataset.columns[:12])})")


def _initial_network(config: TrainConfig, workspace: Workspace) -> tuple[str, dict[str, Any]]:
    """The algorithm and fixed settings that start from a registered network (--init-from)."""
    loaded = workspace.registry.load(str(config.init_from))  # every file's hash is checked
    for entry, member in zip(loaded.manifest["members"], loaded.tabular.members, strict=True):
        if getattr(member.estimator, "reports_epochs", False):
            source = f"{loaded.path}::{entry['estimator']['stem']}"
            return member.algorithm, {"init_from": source,
                                      "freeze_backbone": config.freeze_backbone}
    algorithms = ", ".join(sorted({m.algorithm for m in loaded.tabular.members}))
    raise ConfigError(f"--init-from {config.init_from}: that model holds no network (it is "
                      f"{algorithms}); start from a model trained on images or text")


def _default_name(config: TrainConfig) -> str:
    import re

    stem = Path(config.data).resolve().name.split(".")[0] if not config.sql else "sql"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-") or "model"

