"""The model registry: versioned, verified model packages with aliases and lineage.

    registry = Workspace().registry
    version = registry.register(model, name="churn", metrics={"roc_auc": 0.91},
                                lineage={"run_id": run_id, "dataset_fingerprint": fp})
    registry.alias("churn", version.version, "production")
    loaded = registry.load("churn@production")
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from trainforge.errors import ModelDeployed, ModelNotFound, RegistryError
from trainforge.registry import package, shared
from trainforge.registry.loaded import LoadedModel
from trainforge.registry.manifest import build_manifest, model_from_manifest, save_members
from trainforge.registry.records import ModelSummary, ModelVersion
from trainforge.registry.refs import ModelRef, check_alias, check_name
from trainforge.store import model_cards
from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import FileStoreHandle
from trainforge.store.tables import model_aliases, model_names, models

if TYPE_CHECKING:
    from trainforge.algorithms.model import TabularModel
    from trainforge.rl.package import PolicyModel

_PUBLISH_ATTEMPTS = 20  # a failed attempt means a version's directory or row already existed
log = logging.getLogger(__name__)


class Registry:
    """Model versions of one workspace: packages under ``<artifacts>/models``, rows in the store."""

    def __init__(self, workspace: FileStoreHandle) -> None:
        self.workspace = workspace  # a Workspace composes its registry; the registry never imports it

    @property
    def root(self) -> Path:
        return self.workspace.artifacts / "models"

    # ---- writing ------------------------------------------------------------------------------
    def register(self, model: TabularModel | PolicyModel, *, name: str, metrics: dict[str, Any],
                 lineage: dict[str, Any], extra_files: Mapping[str, Path] | None = None,
                 description: str = "") -> ModelVersion:
        """Store ``model`` as the next version of ``name``, all or nothing.

        Args:
            metrics: ``{metric: value}``, or grouped by split (``{"test": {...}, ...}``);
                listings show the task's metric (from ``test`` when grouped).
            lineage: where the model came from: ``dataset_fingerprint``, ``run_id``, ``params``,
                ``seed``...; python and library versions are added.
            extra_files: files to copy into the package, by name (``report.html``...).
        """
        check_name(name)
        staging = package.make_staging(self.root / name)
        try:
            members = save_members(model, staging)
            package.copy_extra_files(extra_files or {}, staging)
            files = package.seal_files(staging)
            for _ in range(_PUBLISH_ATTEMPTS):
                published = self._publish(model, staging, name=name, metrics=metrics,
                                          lineage=lineage, members=members, files=files,
                                          description=description)
                if published is not None:
                    return published
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        raise RegistryError(f"could not register {name!r}: the next {_PUBLISH_ATTEMPTS} versions "
                            f"already have directories in {self.root / name}; move them away")

    def _publish(self, model: TabularModel | PolicyModel, staging: Path, *, name: str, metrics: dict[str, Any],
                 lineage: dict[str, Any], members: list[dict[str, Any]],
                 files: dict[str, dict[str, Any]], description: str) -> ModelVersion | None:
        """Publish as the next version; None when that directory or row exists already
        (left by a lost database, or another store sharing these artifacts)."""
        version = self._allocate_version(name)
        created_at = utc_now()
        manifest = build_manifest(model, name=name, version=version,
                                  created_at=created_at.isoformat(), description=description,
                                  metrics=metrics, lineage=lineage, members=members, files=files)
        # the card names the version: written now that it is known, again on a retry
        manifest["files"] = {**files, **_write_card(manifest, staging)}
        digest = package.write_manifest(staging, manifest)
        target, key = self.root / name / str(version), self._key(name, version)
        store = self.workspace.artifact_store
        if store is not None and shared.is_published(store, key):
            return None  # another workspace sharing the bucket has this version: the next
        if not package.publish(staging, target):
            return None
        if store is not None:
            try:
                shared.publish(store, target, key=key, files=manifest["files"])
            except BaseException:
                target.rename(staging)  # not shared, so not registered: the caller removes it
                raise
        row = {"name": name, "version": version, "run_id": manifest["lineage"].get("run_id"),
               "dataset_fingerprint": manifest["lineage"].get("dataset_fingerprint"),
               "task_kind": model.task.kind.value, "description": description,
               "manifest": manifest, "manifest_sha256": digest,
               "path": key, "created_at": created_at}
        try:
            with self.workspace.engine.begin() as connection:
                connection.execute(sa.insert(models).values(row))
        except sa.exc.IntegrityError:
            target.rename(staging)  # a row for this version exists: try the next one
            return None
        except BaseException:
            self._unshare(key)
            target.rename(staging)  # no row, so no package: the caller removes staging
            raise
        return self._to_version(row, aliases={})

    def _allocate_version(self, name: str) -> int:
        """Take the next version number of ``name``: atomically, and never one given before
        (not even one since deleted)."""
        for _ in range(_PUBLISH_ATTEMPTS):
            try:
                with self.workspace.engine.begin() as connection:
                    taken = connection.execute(
                        sa.update(model_names).where(model_names.c.name == name)
                        .values(last_version=model_names.c.last_version + 1)
                        .returning(model_names.c.last_version)).scalar()
                    if taken is not None:
                        return int(taken)
                    # the first version of a name; directories left by a lost database count
                    on_disk = [int(p.name) for p in (self.root / name).iterdir()
                               if p.name.isascii() and p.name.isdigit()]
                    first = max(on_disk, default=0) + 1
                    connection.execute(sa.insert(model_names).values(
                        name=name, last_version=first, created_at=utc_now()))
                    return first
            except sa.exc.IntegrityError:
                continue  # another process registered the first version at the same moment
        raise RegistryError(f"could not take a version number for {name!r}; retry")

    def alias(self, name: str, version: int, alias: str) -> None:
        """Point ``name@alias`` at ``version``, moving the alias if it exists."""
        check_alias(alias)
        self.resolve(f"{name}:{version}")
        with self.workspace.engine.begin() as connection:
            connection.execute(sa.delete(model_aliases).where(
                model_aliases.c.name == name, model_aliases.c.alias == alias))
            connection.execute(sa.insert(model_aliases).values(
                name=name, alias=alias, version=version, updated_at=utc_now()))

    def unalias(self, name: str, alias: str) -> None:
        """Remove ``name@alias`` (the version it pointed at stays); ModelNotFound if unset."""
        self.resolve(f"{name}@{alias}")
        with self.workspace.engine.begin() as connection:
            connection.execute(sa.delete(model_aliases).where(
                model_aliases.c.name == name, model_aliases.c.alias == alias))

    def delete(self, name: str, version: int | None = None, *, force: bool = False
               ) -> list[int]:
        """Remove one version (or, with no version, every version) of ``name``: its files, its
        row and the aliases pointing at it. Returns the versions removed.

        A version a deployment serves is not deleted (ModelDeployed names the deployments)
        unless ``force``, which removes those deployments in the same transaction."""
        if version is not None:
            doomed = [self.resolve(f"{name}:{version}")[1]]
        else:
            doomed = [v.version for v in self.versions(name)]
        if not force:  # before any file moves: a refused deletion must not disturb a load
            with self.workspace.engine.connect() as connection:
                _undeploy(connection, name, doomed, version=version, force=False)
        moved = []
        try:
            for number in doomed:
                directory = self.root / name / str(number)
                if directory.exists():
                    moved.append((directory, package.set_aside(directory)))
            with self.workspace.engine.begin() as connection:
                # again in the deleting transaction: a deploy may have come in between
                _undeploy(connection, name, doomed, version=version, force=force)
                for table in (model_aliases, models):
                    connection.execute(sa.delete(table).where(
                        table.c.name == name, table.c.version.in_(doomed)))
                model_cards.forget_notes(connection, name, doomed)
        except BaseException:
            for directory, aside in moved:  # the rows are still there: so are the files
                aside.rename(directory)
            raise
        for _, aside in moved:
            shutil.rmtree(aside, ignore_errors=True)
        for number in doomed:
            self._unshare(self._key(name, number))
        return doomed

    # ---- reading ------------------------------------------------------------------------------
    def resolve(self, ref: str) -> tuple[str, int]:
        """``(name, version)`` that ``ref`` (NAME, NAME:VERSION or NAME@ALIAS) points at."""
        parsed = ModelRef.parse(ref)
        of_name = models.c.name == parsed.name
        if parsed.alias is not None:
            query = sa.select(model_aliases.c.version).where(
                model_aliases.c.name == parsed.name, model_aliases.c.alias == parsed.alias)
        elif parsed.version is not None:
            query = sa.select(models.c.version).where(of_name, models.c.version == parsed.version)
        else:
            query = sa.select(sa.func.max(models.c.version)).where(of_name)
        with self.workspace.engine.connect() as connection:
            version = connection.execute(query).scalar()
        if version is None:
            raise ModelNotFound(ref, self._names())
        return parsed.name, int(version)

    def load(self, ref: str) -> LoadedModel:
        """The fitted model ``ref`` points at, after checking every file against its hash."""
        name, version = self.resolve(ref)
        row = self._row(name, version)
        return load_package(self._directory(row), manifest_sha256=row["manifest_sha256"])

    def show(self, ref: str) -> dict[str, Any]:
        """The version's manifest, plus the aliases pointing at it and its directory."""
        name, version = self.resolve(ref)
        row = self._row(name, version)
        aliases = sorted(a for a, v in self._aliases(name).items() if v == version)
        return {**row["manifest"], "aliases": aliases,
                "path": str(self.workspace.artifacts / row["path"])}

    def package_file(self, ref: str, file_name: str) -> bytes | None:
        """A file kept in the package beside the model (``reference.json``), checked against
        the manifest's hash; None when the version has none (an older package)."""
        name, version = self.resolve(ref)
        row = self._row(name, version)
        directory = self._directory(row)
        listed = package.read_manifest(directory, sha256=row["manifest_sha256"]).get("files", {})
        if file_name not in listed:
            return None
        package.verify_file(directory, file_name, listed[file_name])
        content: bytes = (directory / file_name).read_bytes()
        return content

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        with self.workspace.engine.connect() as connection:
            rows = connection.execute(sa.select(models).where(models.c.name == name)
                                      .order_by(models.c.version)).all()
        if not rows:
            raise ModelNotFound(name, self._names())
        aliases = self._aliases(name)
        return [self._to_version(dict(row._mapping), aliases=aliases) for row in rows]

    def list_models(self) -> list[ModelSummary]:
        """One summary per model name, by name."""
        latest = (sa.select(models.c.name, sa.func.max(models.c.version).label("latest"),
                            sa.func.count().label("n_versions"))
                  .group_by(models.c.name).subquery())
        query = (sa.select(models, latest.c.n_versions)
                 .join(latest, sa.and_(models.c.name == latest.c.name,
                                       models.c.version == latest.c.latest))
                 .order_by(models.c.name))
        with self.workspace.engine.connect() as connection:
            rows = connection.execute(query).all()
            alias_rows = connection.execute(sa.select(model_aliases)).all()
        aliases: dict[str, dict[str, int]] = {}
        for alias_row in alias_rows:
            aliases.setdefault(alias_row.name, {})[alias_row.alias] = alias_row.version
        return [_summary(dict(row._mapping), aliases.get(row.name, {})) for row in rows]

    # ---- helpers ------------------------------------------------------------------------------
    def _directory(self, row: Mapping[str, Any]) -> Path:
        """The version's package on this machine: under the artifacts folder, or (with a shared
        artifact store, the truth then) its copy in the cache, fetched when missing."""
        store = self.workspace.artifact_store
        if store is None:
            return self.workspace.artifacts / str(row["path"])
        return shared.fetch(store, self.workspace.artifact_cache, key=str(row["path"]),
                            manifest_sha256=row["manifest_sha256"])

    def _key(self, name: str, version: int) -> str:
        """Where a version's package is, relative to the artifacts (and in the shared store)."""
        return (self.root / name / str(version)).relative_to(self.workspace.artifacts).as_posix()

    def _unshare(self, key: str) -> None:
        """Remove a package from the shared store, if any; a failure is logged, not raised:
        the version is already gone from the registry, and files without a row are inert."""
        store = self.workspace.artifact_store
        if store is None:
            return
        try:
            shared.unpublish(store, key=key)
        except Exception:
            log.warning("could not remove %s/%s from the artifact store", store.location, key,
                        exc_info=True)

    def _row(self, name: str, version: int) -> Mapping[str, Any]:
        with self.workspace.engine.connect() as connection:
            row = connection.execute(sa.select(models).where(
                models.c.name == name, models.c.version == version)).first()
        if row is None:  # deleted between resolve and now
            raise ModelNotFound(f"{name}:{version}", self._names())
        return dict(row._mapping)

    def _names(self) -> list[str]:
        with self.workspace.engine.connect() as connection:
            return list(connection.execute(sa.select(models.c.name).distinct()).scalars())

    def _aliases(self, name: str) -> dict[str, int]:
        with self.workspace.engine.connect() as connection:
            rows = connection.execute(sa.select(model_aliases.c.alias, model_aliases.c.version)
                                      .where(model_aliases.c.name == name)).all()
        return {row.alias: row.version for row in rows}

    def _to_version(self, row: Mapping[str, Any], *, aliases: dict[str, int]) -> ModelVersion:
        created_at = as_utc(row["created_at"])
        assert created_at is not None  # the column is NOT NULL
        return ModelVersion(
            name=row["name"], version=row["version"],
            path=self.workspace.artifacts / row["path"], created_at=created_at,
            task=row["task_kind"], metrics=dict(row["manifest"].get("metrics", {})),
            run_id=row["run_id"], dataset_fingerprint=row["dataset_fingerprint"],
            description=row["description"],
            aliases=tuple(sorted(a for a, v in aliases.items() if v == row["version"])))


def _undeploy(connection: sa.Connection, name: str, doomed: list[int], *, version: int | None,
              force: bool) -> None:
    """Refuse to delete what a deployment serves, or (forced) remove its deployments."""
    from trainforge.store import deployments

    if force:
        deployments.remove_serving(connection, model_name=name, versions=doomed)
        return
    serving = deployments.serving(connection, model_name=name, versions=doomed)
    if serving:
        what = f"{name}:{version}" if version is not None else f"model {name!r}"
        raise ModelDeployed(what, serving)


def _write_card(manifest: dict[str, Any], staging: Path) -> dict[str, dict[str, Any]]:
    """Write the automatic part of the model card (model_card.json, MODEL_CARD.md) from the
    manifest and the files staged beside it; returns their hashes for the manifest."""
    # imported here: listing and showing models must not pay for the evaluation package
    from trainforge.evaluation.model_card import (
        CARD_FILE,
        MARKDOWN_FILE,
        MAX_FILE_BYTES,
        build_card,
        card_json,
        complete_card,
    )
    from trainforge.evaluation.model_card_render import card_markdown

    def staged(name: str) -> bytes | None:
        path = staging / name
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_bytes()

    card = build_card(manifest, staged)
    (staging / CARD_FILE).write_text(card_json(card), encoding="utf-8")
    # the package's Markdown has no written part: that lives in the store, and may change
    (staging / MARKDOWN_FILE).write_text(card_markdown(complete_card(card, {})),
                                         encoding="utf-8")
    return {name: package.seal_file(staging / name) for name in (CARD_FILE, MARKDOWN_FILE)}


def load_package(directory: Path, *, manifest_sha256: str | None = None) -> LoadedModel:
    """Load a package directory directly, e.g. one copied to a machine without the store.

    Every file is checked against the manifest's hashes before anything is deserialised; the
    manifest itself is checked when its ``manifest_sha256`` (from the registry) is given.
    """
    manifest = package.read_manifest(directory, sha256=manifest_sha256)
    package.verify_files(directory, manifest)
    model = model_from_manifest(manifest, directory)
    return LoadedModel(name=str(manifest.get("name")), version=int(manifest.get("version", 0)),
                       model=model, manifest=manifest, path=directory)


def _summary(row: Mapping[str, Any], aliases: dict[str, int]) -> ModelSummary:
    metric = str(row["manifest"]["task"]["metric"])
    value = primary_metric(row["manifest"].get("metrics", {}), metric)
    created_at = as_utc(row["created_at"])
    assert created_at is not None  # the column is NOT NULL
    return ModelSummary(
        name=row["name"], latest_version=row["version"], n_versions=row["n_versions"],
        aliases=dict(sorted(aliases.items())), task=row["task_kind"], metric=metric,
        metric_value=value, created_at=created_at)


def primary_metric(metrics: Mapping[str, Any], metric: str) -> float | None:
    """The task metric's value from flat ``{metric: value}`` metrics, or from their ``test``
    (else ``validation``) section when metrics are grouped by split."""
    for section in (metrics, metrics.get("test"), metrics.get("validation")):
        if isinstance(section, Mapping):
            value = section.get(metric)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
    return None
