"""Run the service under uvicorn, in one or more workers, draining on SIGTERM and SIGINT.

On the first SIGTERM or SIGINT a worker:
1. drains for `drain_delay_s`: `/health` answers 503 and every response says
   `Connection: close`, while the listener still takes connections, so a load balancer or a
   client moves its traffic elsewhere before anything is refused;
2. stops accepting (new connections are refused), reads the requests already sent on open
   connections, closes idle connections;
3. finishes every request in flight, for at most `grace_s` (then cancels what is left);
4. runs the app's shutdown (the capture is closed; every answered batch is already written);
5. exits 0.
A second SIGINT (Ctrl-C twice) skips the waiting. With several workers, a supervisor process
owns the listening socket, passes the signal on to every worker, restarts a worker that dies
while serving, and exits 0 once every worker has drained.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import time
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from mara.serve.drain import DRAIN

__all__ = ["DEFAULT_DRAIN_DELAY_S", "DEFAULT_GRACE_S", "DrainingServer", "run"]

log = logging.getLogger("mara.serve")

DEFAULT_DRAIN_DELAY_S = 1.0
DEFAULT_GRACE_S = 30.0
# After the listener closes, how long requests already on their way get to arrive.
_LINGER_S = 0.2


class DrainingServer(uvicorn.Server):
    """A uvicorn server that drains before it stops and exits 0 after a signal."""

    def __init__(self, config: uvicorn.Config, *, drain_delay_s: float = DEFAULT_DRAIN_DELAY_S):
        super().__init__(config)
        self.drain_delay_s = drain_delay_s
        self._stop_at: float | None = None
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded for uvicorn to re-raise after shutdown: a drained server exits 0.
        if DRAIN.draining:
            if sig == signal.SIGINT:
                self.force_exit = True
            return
        DRAIN.begin()
        self._stop_at = time.monotonic() + self.drain_delay_s

    async def on_tick(self, counter: int) -> bool:
        if self._stop_at is not None and not self.should_exit:
            if not self._announced:  # logged here: a signal handler must not take log locks
                self._announced = True
                log.info("draining for %g s: /health answers 503", self.drain_delay_s)
            if time.monotonic() >= self._stop_at:
                self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Accept what already waits in the backlog (two loop turns), then refuse new
        # connections, then let requests already sent arrive before idle connections close.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        for server in self.servers:
            server.close()
        await asyncio.sleep(_LINGER_S)
        await super().shutdown(sockets=sockets)


def run(config: uvicorn.Config, *, drain_delay_s: float = DEFAULT_DRAIN_DELAY_S) -> int:
    """Serve until a signal drains the server; the exit code (0 after a clean drain)."""
    if config.workers <= 1:
        server = DrainingServer(config, drain_delay_s=drain_delay_s)
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    return _Supervisor(config, drain_delay_s=drain_delay_s).run()


class _Supervisor:
    """Starts `config.workers` worker processes on one listening socket and drains them."""

    def __init__(self, config: uvicorn.Config, *, drain_delay_s: float):
        self.config = config
        self.drain_delay_s = drain_delay_s
        self._signal: int | None = None

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        sock = self.config.bind_socket()
        workers = [self._start(sock) for _ in range(self.config.workers)]
        failed = False
        while self._signal is None and not failed:
            time.sleep(0.2)
            for i, worker in enumerate(workers):
                if worker.is_alive() or self._signal is not None:
                    continue
                _forget(worker)
                if worker.exitcode == STARTUP_FAILURE:
                    log.error("worker %d could not start; stopping", worker.pid)
                    failed = True
                    break
                log.error("worker %d died (exit %s); starting another", worker.pid, worker.exitcode)
                workers[i] = self._start(sock)
        # Closed here first, the socket stops listening when the last worker closes its copy:
        # from then on a new connection is refused, never left in a backlog nobody accepts.
        sock.close()
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.join()
            _forget(worker)
        if failed:
            return STARTUP_FAILURE
        return 0 if all(worker.exitcode == 0 for worker in workers) else 1

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._signal = sig

    def _start(self, sock: socket.socket) -> multiprocessing.Process:
        worker = _SPAWN.Process(
            target=_work, args=(self.config, sock, self.drain_delay_s), name="mara-worker"
        )
        worker.start()
        return worker


_SPAWN = multiprocessing.get_context("spawn")


def _work(config: uvicorn.Config, sock: socket.socket, drain_delay_s: float) -> None:
    """A worker process: one draining server on the supervisor's socket."""
    config.configure_logging()
    server = DrainingServer(config, drain_delay_s=drain_delay_s)
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def _forget(worker: multiprocessing.Process) -> None:
    """Drop a finished worker's live Prometheus gauges, when workers share metrics files."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ and worker.pid is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
