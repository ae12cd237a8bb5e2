"""`POST /<phase>/<prob>/labels`: late labels sent to the server, checked and kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mara.capture import CaptureIndexes
from mara.errors import LabelError
from mara.home import Problem
from mara.labels import LabelLedger, entries_from_objects
from mara.labels.ingest import LabelReport, check_labels
from mara.serve.auth import sender
from mara.serve.batch import load_json
from mara.serve.errors import json_response

__all__ = ["LabelDesk", "post_labels"]


class LabelDesk:
    """Checks and keeps labels POSTed to the server, against the process's capture indexes.

    A problem's index stays held from the check to the ledger write, so two posts for one
    problem are taken one after the other (the second sees the first's rows as labelled).
    """

    def __init__(self, home: Path, indexes: CaptureIndexes):
        self.home = Path(home)
        self.indexes = indexes

    def take(
        self, problem: Problem, items: list[Any], classes: list[Any], *, sender: str
    ) -> LabelReport:
        """Check and write one POST's labels, recorded as sent by `sender` (a credential's
        name); LabelError when any is bad, nothing written."""
        entries = entries_from_objects(items)
        with self.indexes.use(problem) as index:
            checked = check_labels(
                entries, classes, index, source=f"POST /{problem}/labels", sender=sender
            )
            return checked.write(LabelLedger(self.home, problem.phase, problem.prob))


async def post_labels(request: Request) -> Response:
    """One `{"id", "labels"}` object or a list of them -> what was labelled and joined."""
    problem = Problem(request.path_params["phase"], request.path_params["prob"])
    served = request.app.state.models.get(problem)
    body = load_json(await request.body())
    items = body if isinstance(body, list) else [body]
    if not items:
        raise LabelError("no labels sent: an empty list")
    desk: LabelDesk = request.app.state.labels
    report = await run_in_threadpool(
        desk.take, problem, items, served.bundle.classes, sender=sender(request)
    )
    return json_response(report.as_dict())
