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
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import struct
import sys
import time
from types import FrameType
from typing import Any, NoReturn

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from mara.serve.drain import DRAIN
from mara.serve.options import DRAIN_DELAY_S, GRACE_S
from mara.serve.workers import SERVER_PID_ENV

__all__ = [
    "DEFAULT_DRAIN_DELAY_S",
    "DEFAULT_GRACE_S",
    "DrainingServer",
    "run",
    "uvicorn_config",
    "usable_cores",
]

log = logging.getLogger("mara.serve")

DEFAULT_DRAIN_DELAY_S = DRAIN_DELAY_S
DEFAULT_GRACE_S = GRACE_S
# Once new handshakes are dropped, how long the connections already queued get to be accepted.
_ACCEPT_QUEUED_S = 0.1
# After the listener closes, how long requests already on their way get to arrive.
_LINGER_S = 0.2
# A supervised worker stops accepting this long after its supervisor dropped new handshakes.
_SUPERVISED_MARGIN_S = 0.3
_SO_ATTACH_FILTER = 26  # Linux, <asm-generic/socket.h>
# Named, not left to uvicorn's "auto", which falls back to the pure-Python event loop and
# HTTP parser (asyncio, h11) without a word when these are missing: `uvicorn[standard]`
# installs both.
EVENT_LOOP, HTTP_PARSER = "uvloop", "httptools"


class DrainingServer(uvicorn.Server):
    """A uvicorn server that drains before it stops and exits 0 after a signal."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        drain_delay_s: float = DEFAULT_DRAIN_DELAY_S,
        supervised: bool = False,
    ):
        super().__init__(config)
        self.drain_delay_s = drain_delay_s
        self.supervised = supervised
        self._stop_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded for uvicorn to re-raise after shutdown: a drained server exits 0.
        if DRAIN.draining and sig == signal.SIGINT:  # Ctrl-C twice: stop now
            self.force_exit = self.should_exit = True
        DRAIN.begin()

    async def on_tick(self, counter: int) -> bool:
        if DRAIN.since is not None and not self.should_exit:
            if self._stop_at is None:  # logged here: a signal handler must not take log locks
                margin = _SUPERVISED_MARGIN_S if self.supervised else 0.0
                self._stop_at = DRAIN.since + self.drain_delay_s + margin
                log.info("draining for %g s: /health answers 503", self.drain_delay_s)
            if time.monotonic() >= self._stop_at:
                self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Closing a listener resets the connections still queued in it, after their client
        # may have sent a request. So: drop new handshakes first (a supervisor does it for
        # its workers), accept what is queued, close; then let requests already sent on open
        # connections arrive before uvicorn closes the idle ones.
        if not self.supervised:
            for server in self.servers:
                for sock in server.sockets:
                    drop_new_connections(sock)
        await asyncio.sleep(_ACCEPT_QUEUED_S)
        for server in self.servers:
            server.close()
        await asyncio.sleep(_LINGER_S)
        await super().shutdown(sockets=sockets)


def drop_new_connections(sock: socket.socket | Any) -> None:
    """Drop every new handshake on a listening socket (a BPF filter), so none joins its queue.

    A client then retries its SYN, and is refused once the socket has closed: a clean
    "connection refused", never a reset after it sent its request.
    """
    drop_all = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0))  # BPF "ret #0"
    program = struct.pack("HL", 1, ctypes.addressof(drop_all))  # struct sock_fprog
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, program)
    except OSError as exc:  # not Linux: closing the listener is all there is
        log.debug("could not stop new handshakes: %s", exc)


def usable_cores() -> int:
    """The cores this process may run on: `mara serve`'s default number of workers.

    The affinity mask, not the machine's core count: a container or `taskset` limited to 2
    of 64 cores gets 2 workers, not 64 competing for 2 cores.
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def uvicorn_config(app: str, **options: Any) -> uvicorn.Config:
    """uvicorn's Config for `app` on uvloop and httptools; `options` as `uvicorn.Config` takes."""
    return uvicorn.Config(app, loop=EVENT_LOOP, http=HTTP_PARSER, **options)


def run(config: uvicorn.Config, *, drain_delay_s: float = DEFAULT_DRAIN_DELAY_S) -> NoReturn:
    """Serve until a signal drains the server, then end the process (0 after a clean drain)."""
    # Its workers (or this process, serving alone) name this server in their state files.
    os.environ[SERVER_PID_ENV] = str(os.getpid())
    if config.workers > 1:
        sys.exit(_Supervisor(config, drain_delay_s=drain_delay_s).run())
    server = DrainingServer(config, drain_delay_s=drain_delay_s)
    server.run()
    _exit(0 if server.started else STARTUP_FAILURE)


def _exit(code: int) -> NoReturn:
    """End a serving process once its app has shut down, skipping interpreter teardown.

    The app's shutdown has closed the capture; what is left are daemon threads (a forest
    still compiling in LLVM, the champion follower) that a full teardown can crash under.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


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
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                # SIGTERM, whatever came: a second SIGINT would cut a worker's drain short.
                os.kill(worker.pid, signal.SIGTERM)
        if self._signal is not None:
            # The workers drain meanwhile; then no new connection joins the shared queue.
            time.sleep(self.drain_delay_s)
            drop_new_connections(sock)
        # Closed here, the socket stops listening when the last worker closes its copy.
        sock.close()
        for worker in workers:
            worker.join()
            _forget(worker)
            if worker.exitcode != 0:
                log.error("worker %d exited with %s", worker.pid, worker.exitcode)
        if failed:
            return STARTUP_FAILURE
        return 0 if all(worker.exitcode == 0 for worker in workers) else 1

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._signal = sig

    def _start(self, sock: socket.socket) -> multiprocessing.Process:
        worker = _SPAWN.Process(
            target=_work,
            args=(self.config, sock, self.drain_delay_s, logging.getLogger().level),
            name="mara-worker",
        )
        worker.start()
        return worker


_SPAWN = multiprocessing.get_context("spawn")
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # as the CLI logs
_PR_SET_PDEATHSIG = 1


def _work(
    config: uvicorn.Config, sock: socket.socket, drain_delay_s: float, log_level: int
) -> None:
    """A worker process: one draining server on the supervisor's socket."""
    # A signal while the worker starts (before uvicorn's handlers) drains it once it serves.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda sig, frame: DRAIN.begin())
    _drain_when_orphaned()
    config.configure_logging()
    logging.basicConfig(level=log_level, format=_LOG_FORMAT)
    server = DrainingServer(config, drain_delay_s=drain_delay_s, supervised=True)
    server.run(sockets=[sock])
    _exit(0 if server.started else STARTUP_FAILURE)


def _drain_when_orphaned() -> None:
    """Ask Linux for a SIGTERM when the supervisor dies (even by SIGKILL): drain, never linger."""
    supervisor = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: an orphan serves until stopped by hand
        return
    if os.getppid() != supervisor:  # it died before the request took effect
        raise SystemExit(0)


def _forget(worker: multiprocessing.Process) -> None:
    """Drop a finished worker's live Prometheus gauges, when workers share metrics files."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ and worker.pid is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
