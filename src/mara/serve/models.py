"""ServedModels: the champion of every registered problem, loaded at start-up and followed."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from mara.compiled import compiled_cache
from mara.errors import MaraError, ModelNotFound, ModelUnavailable
from mara.model import ModelBundle
from mara.registry import CHAMPION, Registry
from mara.serve import telemetry

__all__ = ["ServedModel", "ServedModels"]

log = logging.getLogger("mara.serve")


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

    def compile(self, home: Path) -> threading.Thread:
        """Attach compiled forests: cached ones now, the rest from a background thread.

        Until its forest is attached, a model serves with LightGBM's own predictor.
        """
        cache = compiled_cache(home)
        pending = []
        for key, served in self.items():
            if served.bundle.is_fast_cached(cache):
                self._attach(key, served, cache)
            else:
                pending.append((key, served))

        def run() -> None:
            for key, served in pending:
                self._attach(key, served, cache)

        thread = threading.Thread(target=run, name="mara-compile", daemon=True)
        thread.start()
        return thread

    @staticmethod
    def _attach(key: tuple[str, str], served: ServedModel, cache: Path) -> None:
        problem = "/".join(key)
        try:
            attached = served.bundle.make_fast(cache)
        except Exception:  # the interpreted booster keeps serving
            log.exception("%s: compiling the forest failed", problem)
            return
        log.info(
            "%s: %s",
            problem,
            "compiled forest attached"
            if attached
            else "compiled forest disagreed with LightGBM; not used",
        )

    def follow(
        self, home: Path, *, interval_s: float, stop: threading.Event, compile_models: bool = True
    ) -> threading.Thread:
        """Every `interval_s`, load champions that moved and swap them in without a pause.

        A new version is loaded beside the old one, which keeps answering until the swap;
        the swap replaces one dict, so a request sees either version whole. A forest that is
        not compiled yet is compiled after the swap, in the background: the new version
        answers with LightGBM's own predictor meanwhile, instead of waiting for the compiler.
        """

        def run() -> None:
            registry = Registry(home)
            cache = compiled_cache(home) if compile_models else None
            while not stop.wait(interval_s):
                try:
                    self._refresh(registry, cache)
                except MaraError as exc:  # the store is down: keep serving what we have
                    log.warning("could not check for new champions: %s", exc)

        thread = threading.Thread(target=run, name="mara-follow", daemon=True)
        thread.start()
        return thread

    def _refresh(self, registry: Registry, cache: Path | None) -> None:
        for mv in registry.served_models(self.alias):
            key = (mv.phase, mv.prob)
            current = self._models.get(key)
            if current is not None and current.version == mv.version:
                continue
            served = ServedModel(mv.name, mv.version, registry.load(mv.name, mv.version))
            later = cache is not None and not served.bundle.is_fast_cached(cache)
            if cache is not None and not later:
                self._attach(key, served, cache)
            self._models = {**self._models, key: served}
            self.unavailable.pop(key, None)
            if self.alias == CHAMPION:
                telemetry.observe_model(*key, mv.version)
            log.info("%s/%s: %s is now %s v%s", *key, self.alias, mv.name, mv.version)
            if later:
                threading.Thread(
                    target=self._attach, args=(key, served, cache), name="mara-compile", daemon=True
                ).start()

    def find(self, phase: str, prob: str) -> ServedModel | None:
        """The problem's version, or None."""
        return self._models.get((phase, prob))

    def get(self, phase: str, prob: str) -> ServedModel:
        """The champion for a problem, or ModelNotFound (404)."""
        try:
            return self._models[(phase, prob)]
        except KeyError:
            if (phase, prob) in self.unavailable:
                raise ModelUnavailable(
                    f"{phase}/{prob} has a champion that could not be loaded; see the server log"
                ) from None
            raise ModelNotFound(f"no model is served for {phase}/{prob}") from None

    def names(self) -> list[str]:
        """Served problems as `phase/prob`, sorted."""
        return sorted(f"{p}/{q}" for p, q in self._models)

    def items(self) -> list[tuple[tuple[str, str], ServedModel]]:
        """(phase, prob) and model, sorted by problem."""
        return sorted(self._models.items())
