"""Shadow evidence: how a challenger did on live traffic it scored beside the champion.

The server's shadow scoring keeps the challenger's predictions for live batches; once late
labels join those batches, both models are judged on the very rows the champion answered,
traffic later than anything the challenger learned from. That is the strongest evidence a
gate can have, and the gate uses it in place of the forward-chained traffic when there is
enough of it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mara.capture import CaptureIndex, shadow_scores
from mara.improve.gate import MetricDifference, paired_bootstrap
from mara.labels import shadowed_traffic
from mara.serve.shadow import agreed_rows
from mara.spec import ProblemSpec

__all__ = ["ShadowEvidence", "shadow_evidence"]


@dataclass(frozen=True)
class ShadowEvidence:
    """A challenger's shadow record against the champion it shadowed."""

    champion: str
    challenger: str
    rows: int
    agreement: float | None
    labelled: MetricDifference | None

    @property
    def labelled_rows(self) -> int:
        """Shadowed rows with a late label."""
        return 0 if self.labelled is None else self.labelled.rows

    def summary(self) -> str:
        """One line: how much was shadowed, how often the two agreed, how each scored."""
        if not self.rows:
            return f"challenger v{self.challenger}: no live batch shadowed yet"
        line = (
            f"challenger v{self.challenger} shadowed {self.rows} rows answered by "
            f"v{self.champion}, agreeing on {self.agreement:.1%}"
        )
        if self.labelled is None:
            return f"{line}; none labelled yet"
        diff = self.labelled
        return (
            f"{line}; on {diff.rows} labelled rows {diff.metric} champion {diff.champion:.4f}, "
            f"challenger {diff.challenger:.4f}, gain {diff.difference:+.4f} "
            f"[{diff.low:+.4f}, {diff.high:+.4f}]"
        )


def shadow_evidence(
    home: Path,
    spec: ProblemSpec,
    champion: str,
    challenger: str,
    classes: list[Any],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    trusted: Collection[str] | None = None,
) -> ShadowEvidence:
    """Agreement on every shadowed row the champion answered, and both models' metric (with
    a paired bootstrap interval of the gain) on those of them that are labelled."""
    scores = shadow_scores(home, spec.phase, spec.prob)
    scores = scores[(scores["version"] == challenger) & (scores["champion_version"] == champion)]
    if scores.empty:
        return ShadowEvidence(champion, challenger, 0, None, None)
    index = CaptureIndex(Path(home), spec.phase, spec.prob).refresh()
    served = index.rows(scores["key"].unique().tolist(), features=())
    both = served.merge(scores, on=["key", "row"], how="inner")
    agreement = agreed_rows(both["prediction"].tolist(), both["shadow_prediction"].tolist())
    labelled = shadowed_traffic(home, spec.phase, spec.prob, challenger, (), trusted=trusted)
    labelled = labelled[labelled["model_version"] == champion]
    difference = None
    if len(labelled):
        try:
            difference = paired_bootstrap(
                labelled["prediction"].tolist(),
                labelled["shadow_prediction"].tolist(),
                labelled["label"].tolist(),
                classes,
                resamples=resamples,
                confidence=confidence,
                seed=4,
            )
        except ValueError:  # the labelled rows hold one class: no AUC yet
            difference = None
    return ShadowEvidence(champion, challenger, len(both), agreement / len(both), difference)
