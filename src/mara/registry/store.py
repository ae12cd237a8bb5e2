"""Registry: log, register, promote and load model versions in an MLflow store."""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mara.errors import RegistryError
from mara.files import replace_whole
from mara.home import Home
from mara.model import ModelBundle
from mara.registry.history import AliasMove, rollback_target

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ModelVersion",
    "Registry",
    "tracking_uri",
]

CHAMPION = "champion"
CHALLENGER = "challenger"
_MOVE_KIND = "alias-move"
# What the user configured, read before mlflow.set_tracking_uri() writes its own choice into
# the environment (where a later Registry, or a child process, would mistake it for theirs).
_USER_URIS = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
_PIP_REQUIREMENTS = ["mara", "lightgbm", "catboost", "numpy", "pandas"]


def tracking_uri(home: Path) -> str:
    """MLFLOW_TRACKING_URI when set, else the embedded sqlite store in the home."""
    configured = _USER_URIS["MLFLOW_TRACKING_URI"]
    return configured or f"sqlite:///{Home(Path(home).resolve()).mlflow_db()}"


def _stamp_move(home: Path, line: str) -> None:
    # Written aside then renamed: a watcher sees a new inode, whatever the mtime resolution.
    # Servers watch this stamp (a `stat` every fraction of a second) and ask MLflow only
    # when it changed.
    replace_whole(Home(home).aliases_moved(), line.encode(), durable=False)


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a problem's model."""

    name: str
    version: str
    run_id: str
    phase: str
    prob: str


class Registry:
    """MLflow tracking and model registry for one project home.

    With the embedded default, runs and versions go to `<home>/mlflow.db` and
    artifacts to `<home>/mlartifacts`; no server is needed.
    """

    def __init__(self, home: Path, *, uri: str | None = None):
        self.home = Path(home)
        self.uri = uri or tracking_uri(self.home)
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        for name, value in _USER_URIS.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def experiment(self, name: str) -> str:
        """The id of the experiment `name`, created on first use."""
        with _registry_errors(f"looking up experiment {name!r}"):
            found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:"):
            location = Home(self.home.resolve()).artifacts(name).as_uri()
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except MlflowException as exc:
            raise RegistryError(f"cannot create experiment {name!r}: {exc}") from exc

    @contextlib.contextmanager
    def run(self, experiment: str, name: str) -> Iterator[str]:
        """An MLflow run in `experiment`; MLflow's failures surface as RegistryError."""
        with _registry_errors(f"run {name!r}"):
            experiment_id = self.experiment(experiment)
            with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
                yield run.info.run_id

    def log(
        self,
        *,
        params: dict[str, object] | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Log to the active run."""
        with _registry_errors("logging to the run"):
            if params:
                mlflow.log_params(params)
            if metrics:
                mlflow.log_metrics(metrics)
            if tags:
                mlflow.set_tags(tags)

    def log_bundle(self, bundle: ModelBundle) -> ModelVersion:
        """Log the bundle in the active run and register it as a new version."""
        from mara.registry.pyfunc import BUNDLE_ARTIFACT, BundleModel

        spec = bundle.spec
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bundle.pkl"
            path.write_bytes(pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL))
            run_id = mlflow.active_run().info.run_id
            # Registered through the client, not log_model(registered_model_name=...), whose
            # "Created version ..." lines would interleave with mara's own output.
            try:
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=BundleModel(),
                    artifacts={BUNDLE_ARTIFACT: str(path)},
                    pip_requirements=_PIP_REQUIREMENTS,
                )
                self._ensure_registered(spec.name)
                created = self.client.create_model_version(
                    spec.name, info.model_uri, run_id=run_id, model_id=info.model_id
                )
            except MlflowException as exc:
                raise RegistryError(f"cannot register {spec.name}: {exc}") from exc
        with _registry_errors(f"tagging {spec.name}"):
            self.client.set_registered_model_tag(spec.name, "phase", spec.phase)
            self.client.set_registered_model_tag(spec.name, "prob", spec.prob)
        return ModelVersion(spec.name, str(created.version), run_id, spec.phase, spec.prob)

    def _ensure_registered(self, name: str) -> None:
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise

    def champion_version(self, name: str) -> str | None:
        """The version the `champion` alias points at, or None."""
        return self.alias_version(name, CHAMPION)

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version an alias points at, or None."""
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None

    def versions(self, name: str) -> list[str]:
        """Every registered version of a model, oldest first."""
        with _registry_errors(f"listing versions of {name}"):
            found = self.client.search_model_versions(f"name = '{name}'")
        return sorted((str(v.version) for v in found), key=int)

    def version_params(self, name: str, version: str) -> dict[str, str]:
        """The parameters logged by the run that registered `version` (its training settings)."""
        known = self.versions(name)
        if version not in known:
            listed = ", ".join(known) or "none"
            raise RegistryError(f"{name} has no version {version} (versions: {listed})")
        with _registry_errors(f"reading the run of {name} v{version}"):
            run_id = self.client.get_model_version(name, version).run_id
            return dict(self.client.get_run(run_id).data.params) if run_id else {}

    def promote(self, name: str, version: str, *, by: str = "train", reason: str = "") -> None:
        """Move the `champion` alias to `version`, and record the move."""
        self.move_alias(name, CHAMPION, version, by=by, reason=reason)

    def rollback(self, name: str) -> tuple[str | None, str | None]:
        """Bring back the champion before the current one, from the alias history.

        Returns (the champion before, the one now); the second is None, and nothing moves,
        when the history holds no earlier champion.
        """
        current = self.champion_version(name)
        target = rollback_target(self.alias_history(name), current)
        if target is not None:
            self.promote(name, target, by="rollback", reason=f"rolled back from v{current}")
        return current, target

    def move_alias(self, name: str, alias: str, version: str, *, by: str, reason: str) -> None:
        """Point `alias` at `version` and record the move in the alias history.

        Each move is a small MLflow run in the problem's experiment (tag `mara.kind` =
        alias-move), so the history lives in the tracking store with everything else.
        """
        before = self.alias_version(name, alias)
        try:
            self.client.set_registered_model_alias(name, alias, version)
        except MlflowException as exc:
            raise RegistryError(f"cannot point {name}@{alias} at v{version}: {exc}") from exc
        at_ns = time.time_ns()
        _stamp_move(self.home, f"{name}@{alias} v{version} {at_ns}\n")
        tags = {
            "mara.kind": _MOVE_KIND,
            "mara.alias": alias,
            "mara.from": before or "",
            "mara.to": version,
            "mara.by": by,
            "mara.reason": reason[:4000],
            "mara.at_ns": str(at_ns),
        }
        with _registry_errors(f"recording the move of {name}@{alias}"):
            run = self.client.create_run(
                self.experiment(name),
                run_name=f"{alias}: v{before or '-'} -> v{version}",
                tags=tags,
            )
            self.client.set_terminated(run.info.run_id)

    def alias_history(self, name: str) -> list[AliasMove]:
        """Every recorded alias move of a model, oldest first."""
        with _registry_errors(f"reading the alias history of {name}"):
            found = self.client.get_experiment_by_name(name)
            if found is None:
                return []
            runs = self.client.search_runs(
                [found.experiment_id],
                filter_string=f"tags.`mara.kind` = '{_MOVE_KIND}'",
                max_results=50_000,
            )
        moves = [
            AliasMove(
                alias=run.data.tags["mara.alias"],
                from_version=run.data.tags.get("mara.from") or None,
                to_version=run.data.tags["mara.to"],
                by=run.data.tags.get("mara.by", ""),
                reason=run.data.tags.get("mara.reason", ""),
                at=int(run.data.tags["mara.at_ns"]) / 1e9,
                run_id=run.info.run_id,
            )
            for run in runs
        ]
        return sorted(moves, key=lambda move: move.at)

    def load(self, name: str, ref: str = f"@{CHAMPION}") -> ModelBundle:
        """Load a bundle through the registry: `models:/<name>@champion` by default."""
        uri = f"models:/{name}{ref}" if ref.startswith("@") else f"models:/{name}/{ref}"
        try:
            return mlflow.pyfunc.load_model(uri).unwrap_python_model().bundle
        except (MlflowException, OSError) as exc:
            raise RegistryError(f"cannot load {uri}: {exc}") from exc

    def served_models(self, alias: str = CHAMPION) -> list[ModelVersion]:
        """Every registered model that has `alias` (the champion), with its phase and problem."""
        served = []
        with _registry_errors("listing registered models"):
            models = self.client.search_registered_models()
        for model in models:
            version = model.aliases.get(alias)
            if version is None or "phase" not in model.tags or "prob" not in model.tags:
                continue
            mv = self.client.get_model_version(model.name, str(version))
            served.append(
                ModelVersion(
                    model.name,
                    str(version),
                    mv.run_id or "",
                    model.tags["phase"],
                    model.tags["prob"],
                )
            )
        return served


@contextlib.contextmanager
def _registry_errors(what: str) -> Iterator[None]:
    # An unreachable tracking server raises MlflowException; keep the cause, say what failed.
    try:
        yield
    except MlflowException as exc:
        raise RegistryError(f"MLflow failed while {what}: {exc.message}") from exc
