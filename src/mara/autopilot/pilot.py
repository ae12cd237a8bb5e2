"""Autopilot: per problem, improve when a rule fires, promote on shadow evidence, and roll
back a new champion that does worse than its predecessor while it bakes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mara.autopilot.audit import AuditLog
from mara.autopilot.bake import Bake, judge_bake
from mara.autopilot.config import AutopilotConfig
from mara.autopilot.watch import Watch, improve_trigger, look
from mara.errors import MaraError
from mara.estimate import PerformanceEstimate, estimate_performance
from mara.improve import ScoreShift, improve_problem, score_shift
from mara.improve.data import short_of_floor
from mara.improve.shadow import ShadowEvidence, shadow_evidence
from mara.labels import training_classes
from mara.model import ModelBundle
from mara.registry import CHALLENGER, Registry
from mara.registry.history import ROLLBACK, rollback_target
from mara.spec import ProblemSpec, load_spec
from mara.train.data import load_training_table
from mara.train.learners import Cost, recipe_cost

__all__ = ["Autopilot"]

log = logging.getLogger("mara.autopilot")


@dataclass
class _Problem:
    """What the autopilot remembers of a problem between looks."""

    spec: ProblemSpec
    classes: list
    champion: str | None = None
    labelled_at_improve: int = 0
    improved_at: float = float("-inf")
    staged: str | None = None
    bake: Bake | None = None
    predecessor: ModelBundle | None = None
    # The baking champion's and its predecessor's forests' costs, as their recipes recorded
    # them: the latency limit allows the slowdown the recipe chose knowingly.
    costs: tuple[Cost | None, Cost | None] = (None, None)
    # The last estimates made, and when: at most one round every `estimate_every_s`.
    estimated_at: float = float("-inf")
    estimate: PerformanceEstimate | None = None
    bake_estimates: tuple[PerformanceEstimate, PerformanceEstimate] | None = None
    # The champion's predictions on the table's holdout, with the labels: (version, ...).
    holdout: tuple[str, list, list] | None = None


class Autopilot:
    """Looks at every served problem every `config.interval_s` and acts on the evidence.

    On start it resumes from the audit log (labelled rows at the last improve run, and when);
    the champion it finds then is taken as settled, not baking.
    """

    def __init__(
        self,
        home: Path,
        config: AutopilotConfig = AutopilotConfig(),
        *,
        registry: Registry | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.home = Path(home)
        self.config = config
        self.registry = registry or Registry(self.home)
        self.audit = AuditLog(self.home, self.registry)
        self.clock = clock
        self._problems: dict[str, _Problem] = {}

    def run(self, stop: threading.Event, *, looks: int | None = None) -> None:
        """Look at every problem, wait `interval_s`, again, until `stop` (or `looks` rounds)."""
        done = 0
        while not stop.is_set() and (looks is None or done < looks):
            try:
                self.step()
            except MaraError as exc:  # the store is down: look again next time
                log.error("could not look at the problems: %s", exc)
            done += 1
            stop.wait(self.config.interval_s)

    def step(self) -> list[dict]:
        """One look at every served problem; the decisions taken."""
        decisions = []
        for mv in self.registry.served_models():
            try:
                decisions += self._look(mv.phase, mv.prob)
            except MaraError as exc:  # one problem's trouble must not stop the others
                log.error("%s/%s: %s", mv.phase, mv.prob, exc)
            except Exception:  # nor a bug met on one problem's data: it is logged whole
                log.exception("%s/%s: the look failed", mv.phase, mv.prob)
        return decisions

    def _state(self, phase: str, prob: str) -> _Problem:
        name = f"{phase}_{prob}"
        if name not in self._problems:
            spec = load_spec(self.home, phase, prob)
            state = _Problem(spec, training_classes(self.home, spec))
            state.champion = self.registry.champion_version(name)
            for entry in self.audit.read(phase, prob):
                if entry["action"] == "improve":
                    state.labelled_at_improve = int(entry["evidence"].get("labelled_rows", 0))
                    state.improved_at = float(entry["at"])
            self._problems[name] = state
        return self._problems[name]

    def _look(self, phase: str, prob: str) -> list[dict]:
        state = self._state(phase, prob)
        name = state.spec.name
        now = self.clock()
        decisions = []
        champion = self.registry.champion_version(name)
        if champion != state.champion:
            decisions += self._new_champion(state, champion, now)
        watch = look(self.home, state.spec, trusted=self.config.improve.trusted_senders)
        if state.bake is not None:
            decisions += self._judge_bake(state, watch, now)
            if state.bake is not None:
                return decisions  # nothing else moves while a champion bakes
        new_labels = len(watch.labelled) - state.labelled_at_improve
        challenger = self.registry.alias_version(name, CHALLENGER)
        evidence = None
        if state.staged is not None and challenger == state.staged and challenger != champion:
            # Computed as improve would, once a look: improve is handed it, not left to redo it.
            evidence = shadow_evidence(
                self.home,
                state.spec,
                champion,
                challenger,
                state.classes,
                resamples=self.config.improve.resamples,
                confidence=self.config.improve.confidence,
                trusted=self.config.improve.trusted_senders,
            )
            if evidence.labelled_rows >= self.config.improve.shadow_rows:
                decisions += self._improve(state, "shadow evidence is in", now, shadow=evidence)
                return decisions
            if now - state.improved_at < self.config.shadow_wait_s:
                return decisions  # the staged challenger is still gathering its evidence
        if now - state.improved_at < self.config.cooldown_s:
            return decisions
        if now - state.estimated_at >= self.config.estimate_every_s and champion is not None:
            state.estimated_at = now
            since = int((now - self.config.estimate_window_s) * 1e9)
            state.estimate = self._estimate(state, champion, since, served_by=champion)
        realized = None
        if champion is not None and new_labels >= self.config.min_drift_labels:
            realized = self._realized(state, watch, champion)
        trigger = improve_trigger(
            watch, state.labelled_at_improve, self.config, state.estimate, realized
        )
        if trigger is not None:
            decisions += self._improve(state, trigger, now, shadow=evidence, realized=realized)
        return decisions

    def _realized(self, state: _Problem, watch: Watch, champion: str) -> ScoreShift | None:
        """The champion's score on the labelled rows it answered (as it answered them) against
        its score on the table's holdout, with an interval; None when it has too few."""
        answered = watch.labelled[watch.labelled["model_version"] == champion]
        improve = self.config.improve
        if short_of_floor(answered, improve.min_class_rows, improve.min_requests) is not None:
            return None
        if state.holdout is None or state.holdout[0] != champion:
            train = self.config.improve.train
            table = load_training_table(
                self.home, state.spec, holdout=train.holdout, seed=train.seed
            )
            bundle = self.registry.load(state.spec.name, champion)
            features = table.holdout_frame.reindex(columns=list(state.spec.features))
            labels = table.labels.iloc[table.holdout].tolist()
            state.holdout = (champion, bundle.predict_frame(features), labels)
        _, predicted, labels = state.holdout
        try:
            return score_shift(
                answered["prediction"].tolist(),
                answered["label"].tolist(),
                predicted,
                labels,
                state.classes,
                groups=answered["key"].tolist(),
                resamples=self.config.improve.resamples,
                confidence=self.config.improve.confidence,
            )
        except ValueError as exc:  # one class, or a prediction that is not a score
            log.warning("%s: no realized score for v%s: %s", state.spec.name, champion, exc)
            return None

    def _improve(
        self,
        state: _Problem,
        trigger: str,
        now: float,
        *,
        shadow: ShadowEvidence | None = None,
        realized: ScoreShift | None = None,
    ) -> list[dict]:
        spec = state.spec
        config = replace(self.config.improve, stage=self.config.shadow)
        log.info("%s: improving (%s)", spec.name, trigger)
        result = improve_problem(
            self.home, spec.phase, spec.prob, config=config, registry=self.registry, shadow=shadow
        )
        # The labels this improve consumed: those it read itself. A shadowed challenger's
        # judge reads only its shadowed rows, and its evidence may hold labels that came after
        # the look that called it: every label in by now counts as seen, or they would
        # trigger the next improve as new.
        seen = result.rows.get("labelled")
        if seen is None:
            seen = len(look(self.home, spec, trusted=self.config.improve.trusted_senders).labelled)
        state.labelled_at_improve = seen
        state.improved_at = now
        state.staged = result.challenger if result.staged else None
        action = "promote" if result.promoted else "stage" if result.staged else "keep"
        evidence = {
            "labelled_rows": seen,
            "champion": result.champion,
            "challenger": result.challenger,
            "judged_on": result.judged_on,
            **{f"rows_{k}": v for k, v in result.rows.items()},
        }
        for side, diff in (("judged", result.recent), ("holdout", result.holdout)):
            if diff is not None:
                evidence |= {
                    f"{side}_gain": diff.difference,
                    f"{side}_gain_low": diff.low,
                    f"{side}_gain_high": diff.high,
                }
                if diff.floor is not None:  # the bound the gate reads when the holdout is stale
                    evidence[f"{side}_gain_one_sided_low"] = diff.floor
        if result.weight is not None:  # the traffic weight, chosen on the traffic
            evidence |= {
                "traffic_weight": result.weight.weight,
                "traffic_weight_seconds": result.weight.seconds,
            }
        if result.shift is not None:  # the evidence for the rule the gate applied
            moved = result.shift
            evidence |= {
                "rule": result.rule,
                "champion_holdout": moved.holdout,
                "champion_recent": moved.recent,
                "champion_shift_low": moved.low,
                "champion_shift_high": moved.high,
            }
        why = {}
        if realized is not None:
            why = {
                "realized_champion": realized.recent,
                "realized_holdout": realized.holdout,
                "realized_shift_low": realized.low,
                "realized_shift_high": realized.high,
                "realized_rows": realized.rows,
            }
        entries = [
            self.audit.record(spec.phase, spec.prob, "improve", trigger, **evidence, **why),
            self.audit.record(spec.phase, spec.prob, action, result.reason, **evidence),
        ]
        log.info("%s: %s", spec.name, result.summary())
        if result.promoted:
            state.champion = self.registry.champion_version(spec.name)
            state.bake, state.predecessor = Bake(state.champion, result.champion, now), None
            state.bake_estimates, state.estimated_at = None, float("-inf")
        return entries

    def _new_champion(self, state: _Problem, champion: str | None, now: float) -> list[dict]:
        """A champion moved outside the autopilot (`mara promote`, `mara train`): bake it."""
        before, state.champion = state.champion, champion
        moves = [m for m in self.registry.alias_history(state.spec.name) if m.alias == "champion"]
        if champion is None or before is None or (moves and moves[-1].by == ROLLBACK):
            return []
        # Baked from the move itself: traffic answered before this look counts too.
        since = moves[-1].at if moves and moves[-1].to_version == champion else now
        state.bake, state.predecessor = Bake(champion, before, since), None
        state.bake_estimates, state.estimated_at = None, float("-inf")
        entry = self.audit.record(
            state.spec.phase,
            state.spec.prob,
            "bake",
            f"v{champion} replaced v{before} ({moves[-1].by if moves else 'outside mara'}); "
            f"watching it for {self.config.bake_s:.0f} s",
            champion=champion,
            predecessor=before,
        )
        return [entry]

    def _estimate(
        self, state: _Problem, version: str, since_ns: int, *, served_by: str
    ) -> PerformanceEstimate | None:
        """`version`'s estimated performance on the traffic `served_by` answered since then,
        or None when it cannot be made (the reason is logged)."""
        try:
            found = estimate_performance(
                self.home,
                state.spec.phase,
                state.spec.prob,
                version,
                since_ns,
                served_by=served_by,
                registry=self.registry,
            )
        except MaraError as exc:
            log.warning("%s: no estimate for v%s: %s", state.spec.name, version, exc)
            return None
        return found if found.n_rows else None

    def _judge_bake(self, state: _Problem, watch: Watch, now: float) -> list[dict]:
        bake = state.bake
        assert bake is not None
        spec = state.spec
        if state.predecessor is None:  # loaded once per bake, not at every look
            state.predecessor = self.registry.load(spec.name, bake.predecessor)
            champion = self.registry.load(spec.name, bake.version)
            state.costs = (recipe_cost(champion.recipe), recipe_cost(state.predecessor.recipe))
        predecessor = state.predecessor
        if now - state.estimated_at >= self.config.estimate_every_s:
            state.estimated_at = now
            since = int(bake.since * 1e9)
            both = [
                self._estimate(state, version, since, served_by=bake.version)
                for version in (bake.version, bake.predecessor)
            ]
            state.bake_estimates = None if None in both else (both[0], both[1])
        verdict = judge_bake(
            bake,
            watch,
            spec,
            predecessor,
            state.classes,
            self.config,
            state.bake_estimates,
            costs=state.costs,
        )
        if verdict.rollback:
            moves = self.registry.alias_history(spec.name)
            target = rollback_target(moves, bake.version) or bake.predecessor
            reason = f"autopilot: {verdict.reason}"
            self.registry.promote(spec.name, target, by=ROLLBACK, reason=reason)
            state.champion, state.bake, state.predecessor = target, None, None
            state.bake_estimates = None
            return [
                self.audit.record(
                    spec.phase, spec.prob, "rollback", reason, to=target, **verdict.evidence
                )
            ]
        if now - bake.since >= self.config.bake_s:
            state.bake, state.predecessor, state.bake_estimates = None, None, None
            return [
                self.audit.record(
                    spec.phase,
                    spec.prob,
                    "baked",
                    f"v{bake.version} kept after {self.config.bake_s:.0f} s: {verdict.reason}",
                    **verdict.evidence,
                )
            ]
        return []
