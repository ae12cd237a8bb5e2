"""Seeded synthetic problems shaped like the MLOps Marathon 2023 ones, in the organizers' layout.

Labels depend on the features through interactions and non-linear terms, with noise on top (a
logistic draw for fraud and credit; faint attacks and mislabelled records for network), so a
model can learn a good deal but never everything. Columns are named ``feature1..featureN`` as in
the competition, with the categoricals among them; the meaningful names live in this file only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mara.errors import MaraError
from mara.spec import ProblemSpec

__all__ = [
    "DEFAULT_ROWS",
    "KINDS",
    "MIN_ROWS",
    "NETWORK_CLASSES",
    "TARGET",
    "SynthError",
    "generate",
]

KINDS: tuple[str, ...] = ("fraud", "credit", "network", "network-multiclass")
# enough rows for stable metrics, few enough that LightGBM trains in seconds on two cores
DEFAULT_ROWS: dict[str, int] = {
    "fraud": 40_000,
    "credit": 20_000,
    "network": 30_000,
    "network-multiclass": 30_000,
}
TARGET = "label"
MIN_ROWS = 10

Rng = np.random.Generator


class SynthError(MaraError, ValueError):
    """A synthetic problem was asked for with an unknown kind or unusable options."""


def generate(
    kind: str, *, rows: int, seed: int, phase: str = "phase-1", prob: str = "prob-1"
) -> tuple[pd.DataFrame, ProblemSpec]:
    """Draw ``rows`` labelled rows of one kind; the same seed always gives the same frame.

    The frame holds ``feature1..featureN`` and the target ``label``; the spec says which
    features are numeric and which categorical, and names the problem ``phase``/``prob``.
    """
    if kind not in _GENERATORS:
        raise SynthError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if rows < MIN_ROWS:
        raise SynthError(f"rows must be >= {MIN_ROWS}, got {rows}")
    rng = np.random.default_rng(seed)
    columns, categorical, labels = _GENERATORS[kind](rng, rows)
    names = {name: f"feature{i}" for i, name in enumerate(columns, 1)}
    frame = pd.DataFrame({names[name]: values for name, values in columns.items()})
    frame[TARGET] = labels
    spec = ProblemSpec(
        phase=phase,
        prob=prob,
        numeric=tuple(names[c] for c in columns if c not in categorical),
        categorical=tuple(names[c] for c in columns if c in categorical),
        target=TARGET,
    )
    return frame, spec


def _pick(rng: Rng, levels: Sequence[Any], weights: Sequence[float], n: int) -> np.ndarray:
    """``n`` draws from ``levels`` with probabilities proportional to ``weights``."""
    p = np.asarray(weights, dtype=float)
    return np.asarray(levels)[rng.choice(len(levels), size=n, p=p / p.sum())]


def _effect(values: np.ndarray, table: dict[Any, float]) -> np.ndarray:
    """Each value's additive effect on the score, 0 for values not in ``table``."""
    out = np.zeros(len(values))
    for level, effect in table.items():
        out[values == level] = effect
    return out


def _rate(rng: Rng, a: float, b: float, n: int, *, zero: float = 0.0) -> np.ndarray:
    """A KDD-style rate in [0, 1] to two decimals, exactly 0 for a ``zero`` share of rows."""
    values = np.where(rng.random(n) < zero, 0.0, rng.beta(a, b, n))
    return values.round(2)


def _binary_labels(rng: Rng, score: np.ndarray, *, rate: float, sharpness: float) -> np.ndarray:
    """0/1 labels drawn from a logistic link on the standardized score, hitting ``rate``.

    Drawing (not thresholding) is the label noise: ``sharpness`` sets how far apart the
    classes are, and so roughly what AUC the best possible model reaches.
    """
    logit = sharpness * (score - score.mean()) / (score.std() or 1.0)
    low, high = -40.0, 40.0
    for _ in range(60):  # bisection: the mean probability rises with the intercept
        mid = (low + high) / 2
        if np.mean(_sigmoid(logit + mid)) < rate:
            low = mid
        else:
            high = mid
    return (rng.random(len(score)) < _sigmoid(logit + low)).astype(np.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


_Columns = dict[str, np.ndarray]
_Generated = tuple[_Columns, set[str], np.ndarray]


# ---------------------------------------------------------------------------------------------
# fraud: card transactions, a few % fraudulent

_SHOP_KINDS = (
    "grocery_pos", "gas_transport", "home", "shopping_pos", "kids_pets", "shopping_net",
    "entertainment", "food_dining", "personal_care", "health_fitness", "misc_pos", "misc_net",
    "grocery_net", "travel",
)  # fmt: skip
_SHOP_WEIGHTS = (10, 10, 9, 9, 9, 8, 7, 7, 7, 7, 6, 5, 3, 3)
_ONLINE = ("shopping_net", "misc_net", "grocery_net")
_SHOP_RISK = {"shopping_net": 0.8, "misc_net": 0.7, "grocery_pos": 0.5, "travel": 0.3,
              "health_fitness": -0.4, "home": -0.3, "kids_pets": -0.2}  # fmt: skip
_MERCHANTS = 600


def _fraud(rng: Rng, n: int) -> _Generated:
    # merchants are drawn Zipf-like, so most levels are rare; each has a fixed kind and risk
    popularity = 1.0 / np.arange(1, _MERCHANTS + 1) ** 1.1
    merchant_kind = _pick(rng, _SHOP_KINDS, _SHOP_WEIGHTS, _MERCHANTS)
    merchant_risk = rng.normal(0.0, 0.6, _MERCHANTS) + 2.0 * (rng.random(_MERCHANTS) < 0.03)
    merchant = rng.choice(_MERCHANTS, size=n, p=popularity / popularity.sum())
    shop = merchant_kind[merchant]
    online = np.isin(shop, _ONLINE)

    daytime = np.rint(rng.normal(14.0, 4.0, n)) % 24
    hour = np.where(rng.random(n) < 0.85, daytime, rng.integers(0, 24, n)).astype(np.int64)
    usual = rng.lognormal(3.6, 0.8, n)  # the customer's typical amount
    amount = usual * rng.lognormal(0.0, 0.6, n)
    amount *= np.where(rng.random(n) < 0.05, 1.0 + rng.pareto(1.5, n), 1.0)  # heavy tail
    age = np.clip(18 + rng.gamma(4.0, 7.0, n), 18, 95).astype(np.int64)
    velocity = rng.poisson(rng.gamma(2.0, 1.0, n))  # overdispersed: a few very busy cards
    account_days = rng.exponential(700.0, n).round()
    distance = rng.lognormal(3.5, 1.0, n).round(1)
    device = rng.beta(2.0, 5.0, n).round(3)

    night = (hour >= 22) | (hour <= 3)
    ratio = np.log(amount / usual)
    score = (
        1.6 * np.maximum(ratio - 0.4, 0.0)
        + 0.7 * night * (1.0 + online)
        + merchant_risk[merchant]
        + _effect(shop, _SHOP_RISK)
        + 0.5 * np.tanh((velocity - 4.0) / 2.0)
        + 0.9 * ((age >= 70) & online & (amount > 150))
        + 0.8 * np.exp(-account_days / 90.0)
        + 2.0 * online * (device - 0.3)
        + 0.15 * np.log1p(distance)
    )
    labels = _binary_labels(rng, score, rate=0.04, sharpness=2.2)

    # real feeds lose some values; the label was drawn from the true ones
    distance[rng.random(n) < 0.04] = np.nan
    account_days[rng.random(n) < 0.02] = np.nan
    columns = {
        "hour": hour,
        "merchant": np.char.mod("m_%03d", merchant),
        "amount": amount.round(2),
        "usual_amount": usual.round(2),
        "shop_kind": shop,
        "age": age,
        "city_pop": (10 ** rng.uniform(2.0, 6.5, n)).astype(np.int64),  # noise
        "distance_km": distance,
        "txn_24h": velocity.astype(np.int64),
        "account_days": account_days,
        "lat": rng.uniform(25.0, 49.0, n).round(4),  # noise
        "long": rng.uniform(-125.0, -67.0, n).round(4),  # noise
        "weekend": (rng.random(n) < 2 / 7).astype(np.int64),  # noise
        "device_score": device,
        "noise_a": rng.normal(0.0, 1.0, n).round(4),
        "noise_b": rng.uniform(0.0, 100.0, n).round(2),
    }
    return columns, {"merchant", "shop_kind"}, labels


# ---------------------------------------------------------------------------------------------
# credit: loan applications, most answers categorical, ~30% default

# level: (weight, effect on the default score)
_CREDIT_LEVELS: dict[str, dict[Any, tuple[float, float]]] = {
    "checking": {"<0": (27, 0.9), "0-200": (27, 0.4), ">=200": (6, -0.3), "none": (40, -0.9)},
    "history": {"critical": (29, -0.6), "delayed": (9, 0.3), "existing_paid": (53, 0.0),
                "all_paid": (5, 0.8), "none_taken": (4, 0.9)},
    "purpose": {"car_new": (23, 0.4), "car_used": (10, -0.6), "furniture": (18, 0.1),
                "radio_tv": (28, -0.3), "appliances": (1, 0.3), "repairs": (2, 0.3),
                "education": (5, 0.6), "vacation": (1, 0.4), "retraining": (1, -0.5),
                "business": (10, 0.2)},
    "savings": {"<100": (60, 0.4), "100-500": (10, 0.2), "500-1000": (6, -0.3),
                ">=1000": (5, -0.6), "unknown": (19, -0.4)},
    "employment": {"unemployed": (6, 0.3), "<1": (17, 0.4), "1-4": (34, 0.05),
                   "4-7": (17, -0.3), ">=7": (26, -0.2)},
    "personal": {"male_div": (5, 0.2), "female_div_mar": (31, 0.15), "male_single": (55, -0.1),
                 "male_mar_wid": (9, 0.0)},
    "debtors": {"none": (91, 0.0), "co_applicant": (4, 0.4), "guarantor": (5, -0.6)},
    "installment": {1: (14, -0.3), 2: (23, -0.1), 3: (16, 0.1), 4: (47, 0.35)},  # int-coded
    "property": {"real_estate": (28, -0.4), "savings_insurance": (23, 0.0), "car": (33, 0.05),
                 "unknown": (16, 0.45)},
    "plans": {"bank": (14, 0.4), "stores": (5, 0.3), "none": (81, 0.0)},
    "housing": {"rent": (18, 0.0), "own": (71, 0.0), "free": (11, 0.3)},
    "job": {"unskilled_nonres": (2, 0.0), "unskilled_res": (20, 0.0), "skilled": (63, 0.0),
            "highly_skilled": (15, 0.0)},  # noise
    "telephone": {"none": (60, 0.0), "yes": (40, 0.0)},  # noise
    "foreign": {"yes": (96, 0.1), "no": (4, -0.4)},
}  # fmt: skip


def _credit(rng: Rng, n: int) -> _Generated:
    cat = {}
    score = np.zeros(n)
    for name, levels in _CREDIT_LEVELS.items():
        values = _pick(rng, list(levels), [w for w, _ in levels.values()], n)
        cat[name] = values
        score += _effect(values, {level: e for level, (_, e) in levels.items()})

    duration = np.clip(np.rint(rng.gamma(3.0, 7.0, n)), 4, 72)
    duration = np.where(rng.random(n) < 0.5, np.ceil(duration / 6) * 6, duration)  # round terms
    amount = np.rint(rng.lognormal(7.9, 0.75, n) * (0.6 + duration / 50))
    age = np.clip(19 + rng.gamma(2.5, 7.0, n), 19, 80).astype(np.int64)
    monthly = amount / duration

    score += (
        0.5 * (duration > 36)
        + 0.02 * (duration - 20)
        + 0.6 * np.tanh(np.log(monthly / 250.0)) * (cat["installment"] >= 3)
        + 0.6 * (age < 25)
        + 0.3 * (age > 65)
        + 0.5 * ((cat["housing"] == "rent") & (age < 30))
        + 0.5 * ((cat["checking"] == "<0") & (cat["savings"] == "<100"))
    )
    labels = _binary_labels(rng, score, rate=0.30, sharpness=1.8)
    columns = {
        "checking": cat["checking"],
        "duration": duration.astype(np.int64),
        "history": cat["history"],
        "purpose": cat["purpose"],
        "amount": amount.astype(np.int64),
        "savings": cat["savings"],
        "employment": cat["employment"],
        "installment": cat["installment"].astype(np.int64),
        "personal": cat["personal"],
        "debtors": cat["debtors"],
        "residence_years": rng.integers(1, 5, n),  # noise
        "property": cat["property"],
        "age": age,
        "plans": cat["plans"],
        "housing": cat["housing"],
        "existing_credits": np.minimum(1 + rng.poisson(0.4, n), 4),
        "job": cat["job"],
        "dependents": 1 + (rng.random(n) < 0.15).astype(np.int64),
        "telephone": cat["telephone"],
        "foreign": cat["foreign"],
    }
    return columns, set(_CREDIT_LEVELS), labels


# ---------------------------------------------------------------------------------------------
# network: KDD-cup-like connection records, normal traffic and five kinds of attack

NETWORK_CLASSES = ("normal", "dos", "probe", "r2l", "u2r", "botnet")
_CLASS_WEIGHTS = (57, 20, 10, 6, 3, 4)
_NORMAL, _DOS, _PROBE, _R2L, _U2R, _BOTNET = range(6)
_PROTOCOLS = ("tcp", "udp", "icmp")
# protocol mix per class, in _PROTOCOLS order
_PROTOCOL_WEIGHTS = ((80, 15, 5), (45, 15, 40), (55, 15, 30), (1, 0, 0), (1, 0, 0), (60, 40, 0))
_SERVICES = {
    "tcp": (
        "http", "smtp", "ftp_data", "private", "ftp", "telnet", "other", "finger", "domain",
        "auth", "pop_3", "imap4", "IRC", "http_443", "ssh", "time", "urp", "X11", "whois",
        "login", "shell", "exec", "sunrpc", "nntp", "uucp", "gopher", "link", "courier",
        "ctf", "daytime", "discard", "echo", "csnet_ns", "bgp", "supdup", "iso_tsap",
        "hostnames", "klogin", "kshell", "ldap", "mtp", "name", "netbios_dgm", "netbios_ns",
        "netbios_ssn", "netstat", "nnsp", "sql_net", "systat", "vmnet", "printer",
    ),
    "udp": ("domain_u", "private", "ntp_u", "tftp_u", "other"),
    "icmp": ("ecr_i", "eco_i", "tim_i", "urp_i", "urh_i", "red_i"),
}  # fmt: skip
_FLAGS = ("SF", "S0", "REJ", "RSTR", "RSTO", "SH", "S1", "S2", "S3", "OTH")
_NORMAL_FLAG_WEIGHTS = (88, 2, 4, 1.5, 1.5, 0.5, 1, 0.7, 0.5, 0.3)
_LABEL_NOISE = 0.03


def _network_multiclass(rng: Rng, n: int) -> _Generated:
    columns, cls = _network_features(rng, n)
    # a few records are mislabelled, as when analysts tag traffic by hand
    noisy = rng.random(n) < _LABEL_NOISE
    cls = np.where(noisy, _pick(rng, range(6), _CLASS_WEIGHTS, n), cls)
    return columns, {"protocol", "service", "flag"}, np.asarray(NETWORK_CLASSES)[cls]


def _network(rng: Rng, n: int) -> _Generated:
    columns, categorical, labels = _network_multiclass(rng, n)
    return columns, categorical, (labels != "normal").astype(np.int64)


def _network_features(rng: Rng, n: int) -> tuple[_Columns, np.ndarray]:
    cls = _pick(rng, range(6), _CLASS_WEIGHTS, n)
    # how plainly an attack shows: each signature feature appears with this chance, so faint
    # attacks look like normal traffic and no single feature gives a class away
    strength = np.where(cls == _NORMAL, 0.0, rng.beta(1.3, 1.3, n))

    def shows(k: int, where: np.ndarray | bool = True) -> np.ndarray:
        return (cls == k) & where & (rng.random(n) < strength)

    protocol = np.empty(n, dtype=object)
    for k, weights in enumerate(_PROTOCOL_WEIGHTS):
        mask = cls == k
        protocol[mask] = _pick(rng, _PROTOCOLS, weights, int(mask.sum()))
    protocol = protocol.astype(str)
    tcp = protocol == "tcp"
    service = np.empty(n, dtype=object)
    for name, levels in _SERVICES.items():
        mask = protocol == name
        zipf = 1.0 / np.arange(1, len(levels) + 1) ** 1.3
        service[mask] = _pick(rng, levels, zipf, int(mask.sum()))
    flag = np.where(tcp, _pick(rng, _FLAGS, _NORMAL_FLAG_WEIGHTS, n), "SF").astype(object)

    def lognormal(mean: float, sigma: float, zero: float = 0.0) -> np.ndarray:
        values = np.rint(rng.lognormal(mean, sigma, n))
        return np.where(rng.random(n) < zero, 0, values).astype(np.int64)

    def rare(p: float) -> np.ndarray:
        return (rng.random(n) < p).astype(np.int64)

    c = {
        "duration": lognormal(3.0, 1.6, zero=0.85),
        "protocol": protocol,
        "service": service,
        "flag": flag,
        "src_bytes": lognormal(5.6, 1.3, zero=0.08),
        "dst_bytes": lognormal(7.0, 1.8, zero=0.30),
        "land": rare(0.0005),
        "wrong_fragment": rare(0.003) * rng.integers(1, 4, n),
        "urgent": rare(0.0005),  # noise
        "hot": rng.poisson(0.15, n),
        "num_failed_logins": rare(0.002),
        "logged_in": (tcp & (rng.random(n) < 0.75)).astype(np.int64),
        "num_compromised": rng.poisson(0.02, n),
        "root_shell": rare(0.002),
        "su_attempted": rare(0.001),  # noise
        "num_root": rng.poisson(0.03, n),
        "num_file_creations": rng.poisson(0.03, n),
        "num_shells": rare(0.001),
        "num_access_files": rng.poisson(0.01, n),
        "num_outbound_cmds": np.zeros(n, dtype=np.int64),  # constant, as in KDD
        "is_host_login": rare(0.0002),
        "is_guest_login": rare(0.004),
        "count": np.clip(lognormal(1.8, 1.0), 1, 511),
        "srv_count": np.clip(lognormal(1.6, 1.0), 1, 511),
        "serror_rate": _rate(rng, 1, 3, n, zero=0.9),
        "srv_serror_rate": _rate(rng, 1, 3, n, zero=0.9),
        "rerror_rate": _rate(rng, 1, 2, n, zero=0.88),
        "srv_rerror_rate": _rate(rng, 1, 2, n, zero=0.88),
        "same_srv_rate": _rate(rng, 8, 1.2, n),
        "diff_srv_rate": _rate(rng, 1, 8, n, zero=0.7),
        "srv_diff_host_rate": _rate(rng, 1, 3, n, zero=0.6),
        "dst_host_count": rng.integers(1, 256, n),
        "dst_host_srv_count": rng.integers(1, 256, n),
        "dst_host_same_srv_rate": _rate(rng, 3, 1.5, n),
        "dst_host_diff_srv_rate": _rate(rng, 1, 8, n, zero=0.5),
        "dst_host_same_src_port_rate": _rate(rng, 1, 4, n),
        "dst_host_srv_diff_host_rate": _rate(rng, 1, 6, n, zero=0.6),
        "dst_host_serror_rate": _rate(rng, 1, 3, n, zero=0.88),
        "dst_host_srv_serror_rate": _rate(rng, 1, 3, n, zero=0.88),
        "dst_host_rerror_rate": _rate(rng, 1, 3, n, zero=0.85),
        "dst_host_srv_rerror_rate": _rate(rng, 1, 3, n, zero=0.85),
    }

    def put(name: str, mask: np.ndarray, draw: Callable[[int], Any]) -> None:
        c[name][mask] = draw(int(mask.sum()))

    def beta(a: float, b: float) -> Callable[[int], np.ndarray]:
        return lambda m: rng.beta(a, b, m).round(2)

    def ints(low: int, high: int) -> Callable[[int], np.ndarray]:
        return lambda m: rng.integers(low, high, m)

    def choose(*levels: Any) -> Callable[[int], np.ndarray]:
        return lambda m: np.asarray(levels)[rng.integers(0, len(levels), m)]

    def zero(m: int) -> int:
        return 0

    # dos differs by protocol (an interaction): SYN floods over tcp, echo/udp floods otherwise
    put("flag", shows(_DOS, tcp), choose("S0", "S0", "S0", "REJ"))
    put("service", shows(_DOS, tcp), choose("private", "http", "telnet"))
    put("src_bytes", shows(_DOS, tcp), zero)
    put("dst_bytes", shows(_DOS), zero)
    put("serror_rate", shows(_DOS, tcp), beta(20, 1))
    put("srv_serror_rate", shows(_DOS, tcp), beta(20, 1))
    put("dst_host_serror_rate", shows(_DOS, tcp), beta(20, 1))
    put("same_srv_rate", shows(_DOS, tcp), beta(1, 10))
    put("dst_host_srv_count", shows(_DOS, tcp), ints(1, 30))
    put("service", shows(_DOS, protocol == "icmp"), choose("ecr_i"))
    put("src_bytes", shows(_DOS, ~tcp), choose(520, 1032, 1480))
    put("srv_count", shows(_DOS, ~tcp), ints(300, 512))
    put("same_srv_rate", shows(_DOS, ~tcp), choose(1.0))
    put("dst_host_srv_count", shows(_DOS, ~tcp), choose(255))
    put("dst_host_same_src_port_rate", shows(_DOS, ~tcp), beta(10, 1))
    put("wrong_fragment", shows(_DOS, ~tcp) & (rng.random(n) < 0.2), ints(1, 4))
    put("count", shows(_DOS), ints(100, 512))
    put("dst_host_count", shows(_DOS), choose(255))

    put("service", shows(_PROBE), lambda m: rng.choice(_SERVICES["tcp"], m))
    put("flag", shows(_PROBE, tcp), choose("REJ", "RSTO", "SH", "S0", "RSTR"))
    put("src_bytes", shows(_PROBE), ints(0, 20))
    put("dst_bytes", shows(_PROBE), zero)
    put("duration", shows(_PROBE) & (rng.random(n) < 0.3), ints(100, 5000))  # slow scans
    put("rerror_rate", shows(_PROBE), beta(5, 1.5))
    put("srv_rerror_rate", shows(_PROBE), beta(5, 1.5))
    put("diff_srv_rate", shows(_PROBE), beta(4, 2))
    put("same_srv_rate", shows(_PROBE), beta(1, 6))
    put("dst_host_diff_srv_rate", shows(_PROBE), beta(4, 2))
    put("dst_host_rerror_rate", shows(_PROBE), beta(5, 1.5))
    put("dst_host_same_src_port_rate", shows(_PROBE), beta(6, 1.5))

    put("service", shows(_R2L), choose("ftp", "ftp_data", "telnet", "imap4", "pop_3", "login"))
    put("num_failed_logins", shows(_R2L), lambda m: 1 + rng.poisson(0.8, m))
    put("is_guest_login", shows(_R2L), lambda m: (rng.random(m) < 0.5).astype(np.int64))
    put("hot", shows(_R2L), lambda m: rng.poisson(2.0, m))
    put("duration", shows(_R2L), lambda m: np.rint(rng.lognormal(4.0, 1.5, m)))
    put("dst_bytes", shows(_R2L), lambda m: np.rint(rng.lognormal(8.5, 1.5, m)))
    put("count", shows(_R2L), ints(1, 4))
    put("dst_host_srv_count", shows(_R2L), ints(1, 20))
    put("logged_in", shows(_R2L), choose(1))

    put("service", shows(_U2R), choose("telnet", "ftp_data", "login", "shell"))
    put("root_shell", shows(_U2R), lambda m: (rng.random(m) < 0.6).astype(np.int64))
    put("num_file_creations", shows(_U2R), lambda m: rng.poisson(1.5, m))
    put("num_shells", shows(_U2R), lambda m: rng.poisson(0.8, m))
    put("num_root", shows(_U2R), lambda m: rng.poisson(2.0, m))
    put("num_compromised", shows(_U2R), lambda m: rng.poisson(1.5, m))
    put("hot", shows(_U2R), lambda m: rng.poisson(3.0, m))
    put("duration", shows(_U2R), lambda m: np.rint(rng.lognormal(5.0, 1.5, m)))
    put("logged_in", shows(_U2R), choose(1))

    # beacons: small, regular transfers to many hosts over a few channels
    put("service", shows(_BOTNET, tcp), choose("IRC", "http", "private"))
    put("service", shows(_BOTNET, ~tcp), choose("domain_u", "private"))
    put("src_bytes", shows(_BOTNET), lambda m: np.rint(rng.lognormal(4.2, 0.15, m)))
    put("dst_bytes", shows(_BOTNET), lambda m: np.rint(rng.lognormal(5.0, 0.2, m)))
    put("duration", shows(_BOTNET), zero)
    put("srv_diff_host_rate", shows(_BOTNET), beta(6, 2))
    put("dst_host_srv_diff_host_rate", shows(_BOTNET), beta(6, 2))
    put("count", shows(_BOTNET), ints(20, 60))
    put("dst_host_same_srv_rate", shows(_BOTNET), beta(8, 1))
    put("logged_in", shows(_BOTNET), zero)

    c["service"] = c["service"].astype(str)
    c["flag"] = c["flag"].astype(str)
    return c, cls


_GENERATORS: dict[str, Callable[[Rng, int], _Generated]] = {
    "fraud": _fraud,
    "credit": _credit,
    "network": _network,
    "network-multiclass": _network_multiclass,
}
