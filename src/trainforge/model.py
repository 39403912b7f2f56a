"""The SDK's model objects: a registered model version you can predict with, and what each
job returns (the model it registered plus the job's outcome)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Protocol, TypeAlias, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

from trainforge.algorithms.contributions import Contributions, ModelExplainer
from trainforge.algorithms.model import ProbabilityFrame
from trainforge.algorithms.network_explanations import STEPS
from trainforge.data.task import SUPERVISED_KINDS, TaskKind
from trainforge.json_value import JSONValue
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.explain import explainer_for
from trainforge.serving.network_explain import class_of, network_attributions, write_heat_map

if TYPE_CHECKING:  # the outcomes are named in quotes below: loading them loads every job
    from trainforge.data.task import Task
    from trainforge.evaluation.diagnosis import Diagnosis
    from trainforge.evaluation.evaluate import Evaluation
    from trainforge.evaluation.segments import AnomalyProfile, SegmentProfile
    from trainforge.jobs.rl import RLOutcome  # noqa: F401
    from trainforge.jobs.segments import AnomaliesOutcome, SegmentsOutcome  # noqa: F401
    from trainforge.jobs.train import TrainingOutcome  # noqa: F401
    from trainforge.rl.evaluation import Evaluation as PolicyEvaluation

# a table: a frame, records (one mapping of column to value per row), or a file to read
Rows: TypeAlias = pd.DataFrame | Sequence[Mapping[str, object]] | str | Path


class _JobOutcome(Protocol):
    @property
    def run_id(self) -> str: ...


Outcome = TypeVar("Outcome", bound=_JobOutcome)


def _as_frame(data: Rows) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        from trainforge.data.read import read_table

        return read_table(data).frame
    return pd.DataFrame(list(data))


class Model:
    """A model version from the registry: ``predict``, ``predict_proba`` and its manifest."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self._explainer: ModelExplainer | None = None  # built at the first explain()

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def version(self) -> int:
        return self.loaded.version

    @property
    def ref(self) -> str:
        return self.loaded.ref

    @property
    def task(self) -> Task:
        return self.loaded.model.task

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.loaded.model.task.classes)

    @property
    def manifest(self) -> dict[str, JSONValue]:
        return self.loaded.manifest

    @property
    def metrics(self) -> dict[str, JSONValue]:
        return dict(self.loaded.manifest.get("metrics", {}))

    @property
    def report_path(self) -> Path:
        return self.loaded.path / "report.html"

    def predict(self, data: Rows) -> np.ndarray:
        """One per row, in order: labels (classifiers), values (regressors), the segment
        (clustering; 0 the largest, -1 noise), or 1 for an anomaly and 0 otherwise."""
        return self.loaded.tabular.predict(_as_frame(data))

    def anomaly_score(self, data: Rows) -> np.ndarray:
        """An anomaly model's score per row: higher is more anomalous (``predict`` flags the
        rows above the model's threshold)."""
        return self.loaded.tabular.anomaly_score(_as_frame(data))

    def predict_proba(self, data: Rows) -> pd.DataFrame:
        """One column per class, named by the class label; rows sum to 1."""
        frame = _as_frame(data)
        proba = self.loaded.tabular.predict_proba(frame)
        return ProbabilityFrame(proba, columns=list(self.classes), index=frame.index)

    def explain(self, data: Rows) -> Contributions:
        """Each row's contributions (SHAP values) over the model's input columns, in its
        output units: ``values[row, output, feature]`` and ``base_values[row, output]``, the
        outputs being a classifier's classes (probabilities) or a regressor's value, so that
        ``base_values + values.sum(axis=2)`` is ``predict_proba`` (or ``predict``). Exact for
        tree members; see ``trainforge.algorithms.contributions``. Raises NotExplainable for a
        model that has none (clustering, anomaly, images).

        Example:
            >>> explained = model.explain(rows)
            >>> explained.features[explained.values[0, 1].argmax()]  # what raised row 0 most
            'capital_gain'
        """
        if self._explainer is None:
            self._explainer = explainer_for(self.loaded)
        return self._explainer.explain(_as_frame(data))

    def explain_images(self, images: Sequence[str | Path], *, folder: str | Path,
                       steps: int = STEPS) -> list[Path]:
        """For an image network: which pixels each image's prediction rests on (integrated
        gradients, ``serving.network_explain``), drawn beside the image into one PNG per image
        in ``folder``; returns the files, in order."""
        done = network_attributions(self.loaded, [str(p) for p in images], reads="image",
                                    steps=steps)
        return [write_heat_map(a, Path(folder) / f"{i:04d}-{Path(image).stem}.png",
                               title=f"{Path(image).name}: {class_of(self.loaded, a) or 'value'}")
                for i, (image, a) in enumerate(zip(images, done, strict=True))]

    def explain_texts(self, texts: Sequence[str], *, top_k: int = 5,
                      steps: int = STEPS) -> list[list[tuple[str, float]]]:
        """For a text network: each text's ``top_k`` words (tokens) that raised its
        prediction most, with their integrated-gradients attributions."""
        done = network_attributions(self.loaded, list(texts), reads="text", steps=steps)
        return [a.top_tokens(top_k) for a in done]

    # ---- what scikit-learn looks for on a fitted estimator ----------------------------------
    def __sklearn_tags__(self) -> Tags:
        """A classifier or a regressor to scikit-learn (``is_classifier``, its scorers)."""
        kind = self.task.kind
        return Tags(estimator_type="classifier" if kind.is_classification else
                    "regressor" if kind is TaskKind.REGRESSION else None,
                    target_tags=TargetTags(required=kind in SUPERVISED_KINDS),
                    classifier_tags=ClassifierTags() if kind.is_classification else None,
                    regressor_tags=RegressorTags() if kind is TaskKind.REGRESSION else None)

    @property
    def classes_(self) -> np.ndarray:
        """The class labels in ``predict_proba``'s column order (classifiers only)."""
        if not self.task.kind.is_classification:
            raise AttributeError(f"classes_ is for classifiers; {self.ref} is a "
                                 f"{self.task.kind.value} model")
        return np.asarray(self.classes, dtype=object)

    @property
    def feature_names_in_(self) -> np.ndarray:
        """The input columns the model reads, in its order."""
        return np.asarray([f.name for f in self.loaded.tabular.features], dtype=object)

    @property
    def n_features_in_(self) -> int:
        return len(self.loaded.tabular.features)

    def score(self, data: Rows, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Accuracy on ``data`` for a classifier, R² for a regressor: scikit-learn's default
        scores (``cross_val_score`` without ``scoring``)."""
        predicted = self.predict(data)
        if self.task.kind.is_classification:
            # labels compare as strings, as the model learned them
            truth = np.asarray(y).astype(str)
            return float(accuracy_score(truth, predicted.astype(str),
                                        sample_weight=sample_weight))
        return float(r2_score(np.asarray(y, dtype=np.float64), predicted,
                              sample_weight=sample_weight))

    def act(self, observation: ArrayLike) -> np.ndarray:
        """A policy's deterministic action for one observation (or one per row of a batch).

        Raises:
            ConfigError: the model is a table model, not a policy.
            ObservationShapeMismatch: the observation is not of the trained shape.
        """
        if not self.loaded.is_policy:
            from trainforge.errors import ConfigError

            raise ConfigError(f"{self.ref} is a {self.task.kind.value} model: it predicts "
                              "rows (.predict), it does not act; train a policy with "
                              "tf.train_agent")
        return self.loaded.model.act(observation)  # type: ignore[union-attr]  # a policy

    def __repr__(self) -> str:
        return f"<trainforge model {self.ref}: {self.task.describe()}>"


class _Produced(Model, Generic[Outcome]):
    """A model a job just made, with the job's outcome (how it was found, how it did)."""

    def __init__(self, loaded: LoadedModel, outcome: Outcome) -> None:
        super().__init__(loaded)
        self.outcome = outcome

    @property
    def run_id(self) -> str:
        """The run in the store that made it (``trainforge runs show RUN``)."""
        return self.outcome.run_id


class TrainedModel(_Produced["TrainingOutcome"]):
    """What ``train()`` returns: the registered model plus how it was found and how it did."""

    @property
    def evaluation(self) -> Evaluation:
        """Metrics on the held-out test split, which model selection never saw."""
        return self.outcome.evaluation

    @property
    def leaderboard(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(c) for c in self.outcome.search.leaderboard])

    @property
    def diagnosis(self) -> Diagnosis:
        """Train, validation and test scores side by side: does it overfit, beat a baseline?"""
        return self.outcome.diagnosis


class SegmentsModel(_Produced["SegmentsOutcome"]):
    """What ``cluster()`` returns: the registered clustering model and what it found."""

    @property
    def labels(self) -> np.ndarray:
        """Each row's segment in the table it was fitted on, in order (-1: noise)."""
        return np.asarray(self.outcome.result.labels)

    @property
    def segments(self) -> list[SegmentProfile]:
        """Each segment in words: size, share, the features that set it apart, typical values."""
        return list(self.outcome.described.segments)

    @property
    def candidates(self) -> pd.DataFrame:
        """Every method and number of clusters compared, with its scores."""
        return pd.DataFrame(self.outcome.candidates)


class AnomaliesModel(_Produced["AnomaliesOutcome"]):
    """What ``find_anomalies()`` returns: the registered detector and what it found."""

    @property
    def scores(self) -> np.ndarray:
        """Each row's anomaly score in the table it was fitted on, in order."""
        return np.asarray(self.outcome.result.scores)

    @property
    def is_anomaly(self) -> np.ndarray:
        """True for each row of that table scored above the threshold."""
        return np.asarray(self.outcome.result.is_anomaly)

    @property
    def anomalies(self) -> list[AnomalyProfile]:
        """The top anomalies, each with the features that drive its score."""
        return list(self.outcome.described.anomalies)


class TrainedPolicy(_Produced["RLOutcome"]):
    """What ``train_agent()`` returns: the registered policy plus how it was trained and how
    it did."""

    @property
    def evaluation(self) -> PolicyEvaluation:
        """``(mean, std, returns)`` over the evaluation episodes, deterministic actions."""
        return self.outcome.evaluation

    @property
    def algorithm(self) -> str:
        return self.outcome.algorithm
