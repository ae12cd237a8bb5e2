"""train_problem: fit, evaluate, log, register and maybe promote one problem's model."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mara.compiled import CompileAhead, compiled_cache
from mara.registry import Registry
from mara.spec import ProblemSpec, load_spec
from mara.train.config import TrainConfig
from mara.train.data import load_training_table
from mara.train.metrics import headline, score
from mara.train.recipe import fit_model
from mara.train.search import Progress

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "TrainResult", "make_served_fast", "train_problem"]


@dataclass
class TrainResult:
    """What one training run produced and decided."""

    spec: ProblemSpec
    version: str
    run_id: str
    metrics: dict[str, float]
    champion_before: str | None
    champion_metrics: dict[str, float] | None
    promoted: bool
    rows: dict[str, int] = field(default_factory=dict)
    # How the forest was chosen (ModelBundle.recipe): parameters, rounds, cross-validated score.
    recipe: dict[str, Any] = field(default_factory=dict)
    # Seconds training waited, once promoted, for the forest's served form: what was left of
    # a compile started beside the search, or the whole (None: not promoted, or not asked).
    compile_s: float | None = None

    @property
    def metric(self) -> str:
        """The headline metric's name."""
        return headline(self.metrics)

    def summary(self) -> str:
        """One paragraph for the terminal."""
        name, value = self.metric, self.metrics[self.metric]
        lines = [
            f"{self.spec.name} v{self.version}: holdout {name} {value:.4f} (rows: {self.rows})"
        ]
        if self.champion_before is None:
            lines.append("no champion yet: promoted")
        else:
            old = (self.champion_metrics or {}).get(name, float("nan"))
            verdict = "promoted" if self.promoted else "kept the champion"
            lines.append(
                f"champion v{self.champion_before} scores {old:.4f} on this holdout: {verdict}"
            )
        if self.compile_s is not None:
            lines.append(f"served form ready in {self.compile_s:.1f} s")
        return "\n".join(lines)


def train_problem(
    home: Path,
    phase: str,
    prob: str,
    *,
    config: TrainConfig = TrainConfig(),
    registry: Registry | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train a model for one problem, register it, and promote it if it is no worse.

    `progress` hears a line per candidate of the search (see `fit_model`).
    """
    spec = load_spec(home, phase, prob)
    registry = registry or Registry(home)
    table = load_training_table(home, spec, holdout=config.holdout, seed=config.seed)
    classes = table.classes
    # LightGBM's refit is compiled in another process while CatBoost's folds run here.
    with CompileAhead(compiled_cache(home)) as ahead:
        bundle = fit_model(
            spec,
            table.train_frame,
            table.labels.iloc[table.train],
            classes,
            config=config,
            progress=progress,
            refitted=ahead if config.compile else None,
        )
        holdout_frame = table.holdout_frame
        holdout_labels = table.labels.iloc[table.holdout].tolist()
        metrics = score(bundle.predict_frame(holdout_frame), holdout_labels, classes)
        metrics["trees"] = float(bundle.forest.trees)
        bundle.metrics = metrics
        rows = {"train": len(table.train), "holdout": len(table.holdout)}

        with registry.run(spec.name, f"train {spec.name}"):
            registry.log(
                params=asdict(config)
                | {"classes": len(classes)}
                | {f"rows_{k}": v for k, v in rows.items()}
                | {f"recipe_{k}": v for k, v in bundle.recipe.items()},
                metrics=metrics,
                tags={"phase": phase, "prob": prob, "mara.kind": "train"},
            )
            version = registry.log_bundle(bundle)
            champion = registry.champion_version(spec.name)
            champion_metrics = None
            if champion is not None:
                old = registry.load(spec.name)
                champion_metrics = score(old.predict_frame(holdout_frame), holdout_labels, classes)
                registry.log(metrics={f"champion_{k}": v for k, v in champion_metrics.items()})
            name = headline(metrics)
            promoted = champion is None or metrics[name] >= champion_metrics[name]
            compile_s = None
            if promoted and config.compile:
                # Before the alias moves: servers that follow it find the served form built.
                compile_s = make_served_fast(home, bundle)
            if promoted:
                reason = f"first version, holdout {name} {metrics[name]:.4f}"
                if champion is not None:
                    reason = (
                        f"holdout {name} {metrics[name]:.4f} >= champion v{champion}'s "
                        f"{champion_metrics[name]:.4f}"
                    )
                registry.promote(spec.name, version.version, by="train", reason=reason)
            registry.log(tags={"mara.promoted": str(promoted).lower()})
    return TrainResult(
        spec,
        version.version,
        version.run_id,
        metrics,
        champion,
        champion_metrics,
        promoted,
        rows,
        bundle.recipe,
        compile_s,
    )


def make_served_fast(home: Path, bundle: Any) -> float:
    """Build the promoted version's served form into the project's cache, so servers only
    load it; the seconds it took (milliseconds when it was cached already).

    A failure is logged, not raised: the version is promoted either way, and a server
    falls back to the forest's own predictor and reports it.
    """
    started = time.perf_counter()
    try:
        if not bundle.make_fast(compiled_cache(home)):
            log.warning("%s: the served form disagreed with the forest", bundle.spec.name)
    except Exception:
        log.exception("%s: building the served form failed", bundle.spec.name)
    return time.perf_counter() - started
