"""ServedModels: the champion of every registered problem, loaded once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mara.errors import ModelNotFound
from mara.model import ModelBundle
from mara.registry import Registry

__all__ = ["ServedModel", "ServedModels"]


@dataclass(frozen=True)
class ServedModel:
    """A champion bundle and the registry version it came from."""

    name: str
    version: str
    bundle: ModelBundle


class ServedModels:
    """Champions by (phase, prob)."""

    def __init__(self, models: dict[tuple[str, str], ServedModel]):
        self._models = models

    @classmethod
    def load(cls, home: Path) -> ServedModels:
        """Load `models:/<phase>_<prob>@champion` for every problem that has one."""
        registry = Registry(home)
        models = {}
        for mv in registry.served_models():
            bundle = registry.load(mv.name)
            models[(mv.phase, mv.prob)] = ServedModel(mv.name, mv.version, bundle)
        return cls(models)

    def get(self, phase: str, prob: str) -> ServedModel:
        """The champion for a problem, or ModelNotFound (404)."""
        try:
            return self._models[(phase, prob)]
        except KeyError:
            raise ModelNotFound(f"no model is served for {phase}/{prob}") from None

    def names(self) -> list[str]:
        """Served problems as `phase/prob`, sorted."""
        return sorted(f"{p}/{q}" for p, q in self._models)

    def items(self) -> list[tuple[tuple[str, str], ServedModel]]:
        """(phase, prob) and model, sorted by problem."""
        return sorted(self._models.items())
