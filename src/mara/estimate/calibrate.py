"""Calibrators: how sure a model is, mapped to how often it is right.

A calibrator reads one number per row. Binary: the served score, the probability of the
positive class, maps to P(positive). Multiclass: the top class's probability maps to P(the
top class is the true one), top-label calibration, which is all an accuracy estimate needs.
`temperature` (multiclass only) instead rescales every class's log-probability by one
fitted temperature before the top one is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from sklearn.isotonic import IsotonicRegression

__all__ = [
    "BINARY_METHODS",
    "MULTICLASS_METHODS",
    "Calibrator",
    "confidence",
    "fit_calibrator",
    "hits",
]

BINARY_METHODS = ("none", "platt", "isotonic")
MULTICLASS_METHODS = ("none", "platt", "isotonic", "temperature")
_EPS = 1e-6


def confidence(scores: np.ndarray) -> np.ndarray:
    """What a calibrator reads: the score (binary), the top probability (multiclass)."""
    return scores if scores.ndim == 1 else scores.max(axis=1)


def hits(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """What a calibrator predicts: the positive class (binary), a right top class (multiclass)."""
    if scores.ndim == 1:
        return labels.astype(float)
    return (scores.argmax(axis=1) == labels).astype(float)


@dataclass(frozen=True)
class Calibrator:
    """One fitted calibration: `apply` turns raw scores into calibrated probabilities."""

    method: str
    params: dict[str, float | list[float]] = field(default_factory=dict)

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """P(positive) per row (binary) or P(the top class is right) per row (multiclass)."""
        if self.method == "temperature":
            return _softmax(np.log(np.clip(scores, _EPS, 1.0)) / self.params["t"]).max(axis=1)
        conf = confidence(scores)
        if self.method == "platt":
            return _sigmoid(self.params["a"] * _logit(conf) + self.params["b"])
        if self.method == "isotonic":
            return np.interp(conf, self.params["x"], self.params["y"])
        return conf.astype(float)

    def as_dict(self) -> dict:
        """JSON-ready form; `Calibrator(**d)` reads it back."""
        return {"method": self.method, "params": self.params}


def fit_calibrator(method: str, scores: np.ndarray, labels: np.ndarray) -> Calibrator:
    """Fit `method` on raw scores (n,) or (n, classes) and label codes (binary: 1 = positive)."""
    target = hits(scores, labels)
    if method == "none":
        return Calibrator("none")
    if method == "isotonic":
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        fitted.fit(confidence(scores), target)
        return Calibrator(
            "isotonic", {"x": fitted.X_thresholds_.tolist(), "y": fitted.y_thresholds_.tolist()}
        )
    if method == "platt":
        return Calibrator("platt", _platt(_logit(confidence(scores)), target))
    if method == "temperature":
        if scores.ndim != 2:
            raise ValueError("temperature scaling is for multiclass scores")
        return Calibrator("temperature", {"t": _temperature(scores, labels)})
    raise ValueError(f"unknown calibration {method!r}; known: {', '.join(MULTICLASS_METHODS)}")


def _platt(z: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Platt scaling: a logistic regression of the target on the logit of the score."""
    rate = float(np.clip(target.mean(), _EPS, 1 - _EPS))
    if target.min() == target.max():  # one outcome only: a constant is all the rows support
        return {"a": 0.0, "b": float(_logit(np.asarray(rate)))}

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        p = _sigmoid(ab[0] * z + ab[1])
        # A tiny ridge keeps a perfectly separated holdout from sending `a` to infinity.
        value = -np.mean(target * np.log(p + 1e-12) + (1 - target) * np.log(1 - p + 1e-12))
        residual = p - target
        grad = np.array([np.mean(residual * z), np.mean(residual)])
        return value + 1e-4 * ab[0] ** 2, grad + np.array([2e-4 * ab[0], 0.0])

    found = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return {"a": float(found.x[0]), "b": float(found.x[1])}


def _temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    logp = np.log(np.clip(scores, _EPS, 1.0))
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[rows, labels]))

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
