"""WorkerStates: which version each worker of a server answers, seen from any of them.

Each worker of `mara serve` holds its own models, and a connection reaches one worker. So
that `/health`, whichever worker answers it, can say what every worker answers, each worker
keeps a small file under the home (`Home.workers`), replaced whole whenever its versions or
their readiness change (looked at every POLL_S). A worker's file names the server it
belongs to (the supervisor's pid, MARA_SERVER_PID, set by `mara.serve.server.run`), so
servers sharing a home do not mix; a file whose process is gone is ignored and removed.
Ray's replicas are not started by that supervisor: each lists itself only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from mara.files import replace_whole
from mara.home import Home

if TYPE_CHECKING:  # the supervisor imports this module for its constant: kept light
    from mara.serve.models import ServedModels

__all__ = ["POLL_S", "SERVER_PID_ENV", "WorkerStates", "worker_state"]

log = logging.getLogger("mara.serve")

# How often a worker looks whether its own state changed: a dict compare, microseconds.
POLL_S = 0.25
# The pid of the process that started a server's workers (the process itself with one).
SERVER_PID_ENV = "MARA_SERVER_PID"


class WorkerStates:
    """This worker's state written under the home; every live worker's of its server read.

    `snapshot()` gives this worker's state: `{"status": "ok" | "starting", "models": {...}}`.
    """

    def __init__(self, home: Path, snapshot: Callable[[], dict[str, Any]]):
        self.folder = Home(home).workers()
        self.server = int(os.environ.get(SERVER_PID_ENV, os.getpid()))
        self.pid = os.getpid()
        self.path = self.folder / f"{self.server}-{self.pid}.json"
        self._snapshot = snapshot
        self._written: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mara-worker-state", daemon=True)

    def start(self) -> None:
        """Write this worker's state now, then whenever it changes."""
        self.write()
        self._thread.start()

    def close(self) -> None:
        """Stop writing and remove this worker's file: it no longer answers."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.path.unlink(missing_ok=True)

    def write(self) -> dict[str, Any]:
        """Write this worker's state if it changed since the last write; the state."""
        state = self._snapshot()
        if state == self._written:
            return state
        try:
            replace_whole(self.path, orjson.dumps({"pid": self.pid, **state}), durable=False)
        except OSError as exc:  # /health then shows this worker's last state, or none
            log.warning("could not write this worker's state: %s", exc)
            return state
        self._written = state
        return state

    def read(self) -> dict[int, dict[str, Any]]:
        """Every live worker of this server, by pid: its status and models (this one's fresh).

        This worker's file is brought up to date first: once it has answered that all are
        ready, no other worker reads an older state of it (and answers 503 after a 200).
        """
        own = self.write()
        states: dict[int, dict[str, Any]] = {}
        prefix = f"{self.server}-"
        with contextlib.suppress(FileNotFoundError):
            for path in self.folder.iterdir():
                if not path.name.startswith(prefix) or path.suffix != ".json":
                    continue  # another server's, or a file being written
                if path == self.path:
                    continue  # this worker's own state is the fresh one below
                try:
                    state = orjson.loads(path.read_bytes())
                    pid = int(state["pid"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # removed meanwhile, or not a state file
                if pid != self.pid and not _serves(pid, self.server):
                    path.unlink(missing_ok=True)  # a worker killed before it could remove it
                    continue
                states[pid] = state
        states[self.pid] = {"pid": self.pid, **own}
        return dict(sorted(states.items()))

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            self.write()


def worker_state(models: ServedModels) -> dict[str, Any]:
    """What this worker answers: its readiness and, per problem, version and speed."""
    return {
        "status": "ok" if models.ready else "starting",
        "models": {
            f"{p}/{q}": {
                "version": m.version,
                "full_speed": m.bundle.at_full_speed,
                "state": models.state((p, q)),
            }
            for (p, q), m in models.items()
        },
    }


def _serves(pid: int, server: int) -> bool:
    """Whether `pid` is still a worker of `server`: alive, and the server's child (a pid
    reused by another process after a worker was killed is not taken for the worker)."""
    if pid == server:
        return _exists(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: alive is the best there is
        return _exists(pid)
    state, parent = stat.rsplit(")", 1)[1].split()[:2]
    return state != "Z" and int(parent) == server  # a zombie is dead, not yet reaped


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
