"""ServedModels: the champion of every registered problem, loaded at start-up and followed."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mara.compiled import compiled_cache
from mara.errors import MaraError, ModelNotFound, ModelUnavailable
from mara.home import Home, Problem
from mara.model import ModelBundle
from mara.registry import CHAMPION, Registry
from mara.serve.options import ServeOptions

__all__ = [
    "DEFAULT_FAST_TIMEOUT_S",
    "FULL_SPEED",
    "INTERPRETER_ONLY",
    "MAKING_FAST",
    "ServedModel",
    "ServedModels",
]

log = logging.getLogger("mara.serve")

FULL_SPEED = "full speed"
MAKING_FAST = "making fast"
INTERPRETER_ONLY = "interpreter: compiling is off"
# A version whose served form is not built by then answers with its own predictor (and is
# reported so) rather than hold back readiness or a swap forever. The largest forest met
# (6 classes, 600 trees) compiled in 34 s on an idle machine.
DEFAULT_FAST_TIMEOUT_S = ServeOptions.fast_timeout_s
# How often a follower looks at the alias stamp: one `stat`, microseconds.
STAMP_POLL_S = 0.25


@dataclass(frozen=True)
class ServedModel:
    """A champion bundle and the registry version it came from."""

    name: str
    version: str
    bundle: ModelBundle


class ServedModels:
    """The versions an alias names (the champions, or the challengers), by (phase, prob)."""

    def __init__(
        self,
        models: dict[tuple[str, str], ServedModel],
        unavailable: dict[tuple[str, str], str] | None = None,
        *,
        alias: str = CHAMPION,
    ):
        self._models = models
        self.unavailable = unavailable or {}
        self.alias = alias
        # Per problem: how its version answers (see `state`).
        self._states: dict[tuple[str, str], str] = {}

    @classmethod
    def load(cls, home: Path, *, alias: str = CHAMPION) -> ServedModels:
        """Load `models:/<phase>_<prob>@<alias>` for every problem that has one.

        A version that cannot be loaded is logged and left out: the others still serve.
        """
        registry = Registry(home)
        models, unavailable = {}, {}
        for mv in registry.served_models(alias):
            key = (mv.phase, mv.prob)
            try:
                models[key] = ServedModel(mv.name, mv.version, registry.load(mv.name))
            except MaraError as exc:
                log.error("%s/%s: not served: %s", *key, exc)
                unavailable[key] = str(exc)
        return cls(models, unavailable, alias=alias)

    def make_fast(
        self, home: Path, *, timeout_s: float = DEFAULT_FAST_TIMEOUT_S
    ) -> threading.Thread:
        """Make every served version fast; `ready` says when all are settled.

        Forests already in the cache (built by `mara train`, or by another worker) are
        loaded now, before this worker takes its first connection: milliseconds each.
        The others are built by a background thread; each answers with the forest's own
        predictor until its served form is attached, and `/health` is 503 meanwhile, so
        traffic that waits for readiness meets full speed only.
        """
        cache = compiled_cache(home)
        pending = []
        for key, model in self.items():
            if model.bundle.is_fast_cached(cache):
                self._states[key] = _make_fast(key, model, cache, timeout_s)
            else:
                self._states[key] = MAKING_FAST
                pending.append((key, model))
        if pending:
            # Workers that start together begin at different forests: while one compiles a
            # forest, another compiles the next instead of waiting on the first one's lock.
            turn = os.getpid() % len(pending)
            pending = pending[turn:] + pending[:turn]

        def run() -> None:
            for key, model in pending:
                self._states[key] = _make_fast(key, model, cache, timeout_s)

        thread = threading.Thread(target=run, name="mara-make-fast", daemon=True)
        thread.start()
        return thread

    def state(self, key: tuple[str, str]) -> str:
        """How a problem's version answers: FULL_SPEED, MAKING_FAST or `interpreter: why`."""
        served = self._models.get(key)
        if served is not None and served.bundle.at_full_speed:
            return FULL_SPEED  # also when a build that outlived its timeout attached later
        return self._states.get(key, INTERPRETER_ONLY)

    @property
    def ready(self) -> bool:
        """Whether every served version is at full speed or settled on its own predictor."""
        return all(self.state(key) != MAKING_FAST for key in self._models)

    def follow(
        self,
        home: Path,
        *,
        interval_s: float,
        stop: threading.Event,
        compile_models: bool = True,
        timeout_s: float = DEFAULT_FAST_TIMEOUT_S,
        on_swap: Callable[[Problem, str], None] | None = None,
    ) -> threading.Thread:
        """Load champions that moved and swap them in without a pause; `on_swap(problem,
        version)` hears each swap (the app tells its metrics).

        The alias stamp of the home (which every move through mara replaces) is looked at
        every STAMP_POLL_S, MLflow is asked when it changed, and every `interval_s` anyway
        (for moves made elsewhere). A new version is loaded and made fast beside the old
        one, which keeps answering until the swap; the swap replaces one dict, so a request
        sees either version whole.
        """

        def run() -> None:
            registry = Registry(home)
            cache = compiled_cache(home) if compile_models else None
            stamp = Home(home).aliases_moved()
            seen, asked = _identity(stamp), time.monotonic()
            while not stop.wait(min(STAMP_POLL_S, interval_s)):
                now = _identity(stamp)
                if now == seen and time.monotonic() - asked < interval_s:
                    continue
                seen, asked = now, time.monotonic()
                try:
                    self._refresh(registry, cache, timeout_s, on_swap)
                except MaraError as exc:  # the store is down: keep serving what we have
                    log.warning("could not check for new champions: %s", exc)

        thread = threading.Thread(target=run, name="mara-follow", daemon=True)
        thread.start()
        return thread

    def _refresh(
        self,
        registry: Registry,
        cache: Path | None,
        timeout_s: float,
        on_swap: Callable[[Problem, str], None] | None,
    ) -> None:
        for mv in registry.served_models(self.alias):
            key = (mv.phase, mv.prob)
            current = self._models.get(key)
            if current is not None and current.version == mv.version:
                continue
            served = ServedModel(mv.name, mv.version, registry.load(mv.name, mv.version))
            state = _make_fast(key, served, cache, timeout_s) if cache else INTERPRETER_ONLY
            self._states[key] = state
            self._models = {**self._models, key: served}
            self.unavailable.pop(key, None)
            if on_swap is not None:
                on_swap(Problem(*key), mv.version)
            log.info("%s/%s: %s is now %s v%s (%s)", *key, self.alias, mv.name, mv.version, state)

    def find(self, problem: Problem) -> ServedModel | None:
        """The problem's version, or None."""
        return self._models.get((problem.phase, problem.prob))

    def get(self, problem: Problem) -> ServedModel:
        """The champion for a problem, or ModelNotFound (404)."""
        key = (problem.phase, problem.prob)
        try:
            return self._models[key]
        except KeyError:
            if key in self.unavailable:
                raise ModelUnavailable(
                    f"{problem} has a champion that could not be loaded; see the server log"
                ) from None
            raise ModelNotFound(f"no model is served for {problem}") from None

    def names(self) -> list[str]:
        """Served problems as `phase/prob`, sorted."""
        return sorted(f"{p}/{q}" for p, q in self._models)

    def items(self) -> list[tuple[tuple[str, str], ServedModel]]:
        """(phase, prob) and model, sorted by problem."""
        return sorted(self._models.items())


def _make_fast(key: tuple[str, str], served: ServedModel, cache: Path, timeout_s: float) -> str:
    """Make one version fast within `timeout_s`; its state (FULL_SPEED or why not).

    The build runs in its own thread so that a stuck one cannot hold its caller; if it ends
    later, the forest attaches its served form then.
    """
    outcome: list[str] = []

    def build() -> None:
        try:
            fast = served.bundle.make_fast(cache)
            outcome.append(FULL_SPEED if fast else "interpreter: the served form disagreed")
        except Exception as exc:  # the forest's own predictor keeps answering
            log.exception("%s: making the forest fast failed", "/".join(key))
            outcome.append(f"interpreter: making it fast failed: {exc}")

    thread = threading.Thread(target=build, name="mara-make-fast-one", daemon=True)
    started = time.perf_counter()
    thread.start()
    thread.join(timeout_s)
    state = outcome[0] if outcome else f"interpreter: not fast after {timeout_s:g} s"
    log.info(
        "%s v%s: %s (%s, %.1f s)",
        "/".join(key),
        served.version,
        state,
        served.bundle.learner,
        time.perf_counter() - started,
    )
    return state


def _identity(path: Path) -> tuple[int, int] | None:
    """The stamp's inode and mtime: a move replaces the file, so either changes."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns
