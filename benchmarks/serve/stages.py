"""Where a request's time goes: each stage of the request path in process, and the whole over HTTP.

Trains (or reuses) the generated network problem (41 features), then, for batches of 1, 100,
1,000 and 10,000 rows, alternates the measurements round after round, so all meet the same
neighbours on this shared machine:

- in process, the functions the predict handler calls, one stage at a time, in its order:
  parse, matrix, forest, drift, answer (the JSON response), capture (header and body to a real
  capture file, and its metric), then what the server does once the answer is sent: metrics
  (Prometheus), summary (the dashboard's line, queued to its writer thread), logging (the
  per-request line, through the queue the server logs through) and free (the parsed request's
  Python objects given back); with the garbage collector's threshold the server sets, and
  again with Python's own, to show what the threshold saves;
- over HTTP, the same body posted to a real `mara serve --workers 1` on loopback, capture on,
  by two clients on kept-alive connections, in turn (which goes first alternates by round):
  httpx, as most Python users would, and a lean client (one `sendall` of a request encoded
  before the clock starts, then reading `Content-Length` bytes), whose figure is the server's
  floor. The handler's own time (`server_ms`, from its start to the capture written) is read
  back from the capture through mara's capture reader.

Both paths run once untimed before they are timed (each size's code and data in the caches,
as on a server under steady traffic), and each request is followed by a pause, so it meets a
server that has finished the previous one's work after the answer: these are latencies of a
warm, otherwise idle server; throughput is `versus_mlflow.py`'s.

Wall time on a shared machine includes waiting for a core, for the clients and the server
alike, so CPU time is reported beside it: the in-process run's (every thread of this
process, until the summary's and the log's threads have done their part), each client's (its
thread's, per request), and the server's (every thread of the server process, from the
kernel's per-thread run time, from before a request to the end of the pause after it), so
work done after the answer counts on both sides. Beside them, from the same kernel counters,
how long the in-process thread, the server's event loop (its main thread, request and pause)
and the lean client's thread were ready to run but waited for a core.

Writes benchmarks/serve/stages.md and stages.svg.

    .venv/bin/python benchmarks/serve/stages.py [--home bench_home] [--rounds 40]
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import orjson
import traffic
from lean_client import LeanClient
from rich.progress import Progress

from mara.capture import CaptureIndex, CaptureWriter
from mara.compiled import compiled_cache
from mara.home import Problem
from mara.monitor import SummaryWriter, summary_record
from mara.outcome import Outcome
from mara.registry import Registry
from mara.serve import telemetry
from mara.serve.app import YOUNG_GC_THRESHOLD
from mara.serve.batch import parse_batch
from mara.serve.errors import json_response
from mara.serve.logs import logging_off_the_request_path
from mara.serve.models import ServedModel
from mara.serve.process import ServerProcess

HERE = Path(__file__).parent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import machine  # noqa: E402

STAGES = (
    "parse",
    "matrix",
    "forest",
    "drift",
    "answer",
    "capture",
    "metrics",
    "summary",
    "logging",
    "free",
)
AFTER_THE_ANSWER = ("metrics", "summary", "logging", "free")
CLIENTS = ("lean", "httpx")
# After each in-process run: the summary's and the log's threads wake every 50 ms to take
# what it queued; done by then, they neither go uncounted nor take the lock from a client.
SETTLE_S = 0.12
# After each request, so that its work after the answer is done before the next one arrives:
# each is timed as it meets a server with nothing else to do, and its server CPU is its own.
PAUSE_S = 0.05
PYTHON_GC = gc.get_threshold()  # Python's own thresholds, before anything changes them
log = logging.getLogger("mara.serve")


class InProcess:
    """The predict handler's stages, timed one by one on the served model version."""

    def __init__(self, home: Path, scratch: Path):
        version = Registry(home).served_models()[0].version
        bundle = Registry(home).load(traffic.MODEL)
        if not bundle.make_fast(compiled_cache(home)):
            raise SystemExit("the compiled forest disagreed with LightGBM")
        self.served = ServedModel(traffic.MODEL, version, bundle)
        self.capture = CaptureWriter(scratch)
        self.summaries = SummaryWriter(scratch)
        gc.collect()  # as the server does once its models are loaded
        gc.freeze()

    def run(self, body: bytes, *, young_gc: int = YOUNG_GC_THRESHOLD) -> dict[str, float]:
        """Milliseconds per stage for one request body, and the CPU time it cost ("cpu").

        `young_gc` is the collector's threshold for the run (the server's by default). The
        CPU time is the whole process's until the summary's and the log's threads (which wake
        every 50 ms) have done what the run queued, as the server's is counted; waiting for
        them also keeps them from taking the interpreter lock from a client later.
        """
        gc.set_threshold(young_gc, *PYTHON_GC[1:])
        bundle, clock = self.served.bundle, time.perf_counter
        cpu, waited = time.process_time(), this_thread()[1]
        marks = [clock()]
        batch = parse_batch(body)
        marks.append(clock())
        matrix, quality = bundle.prepare(batch.columns, batch.n_rows)
        marks.append(clock())
        predictions = bundle.predict_matrix(matrix)
        marks.append(clock())
        report = bundle.drift.score(matrix)
        marks.append(clock())
        json_response({"id": batch.id, "predictions": predictions, "drift": report.drift})
        marks.append(clock())
        outcome = Outcome(
            problem=Problem(traffic.PHASE, traffic.PROB),
            status=200,
            seconds=0.001,
            id=batch.id,
            version=self.served.version,
            quality=quality,
            report=report,
            predictions=predictions,
            binary=bundle.is_binary,
        )
        self.capture.append_answer(outcome, body)
        telemetry.observe_capture(outcome.problem, len(body), 0.001)
        marks.append(clock())
        telemetry.observe_request(outcome, self.served)
        marks.append(clock())
        record = summary_record(outcome)
        self.summaries.record(record, detector=bundle.drift, matrix=matrix, report=report)
        marks.append(clock())
        log.info(
            "%s id=%s rows=%d drift=%d ms=%.2f quality=%s",
            traffic.MODEL,
            batch.id,
            batch.n_rows,
            report.drift,
            1.0,
            quality.as_dict(),
        )
        marks.append(clock())
        del batch  # the summary's thread still holds the matrix and predictions, not the rows
        marks.append(clock())
        spans = np.diff(marks) * 1000
        waited = this_thread()[1] - waited
        gc.set_threshold(YOUNG_GC_THRESHOLD, *PYTHON_GC[1:])  # the clients run as the server
        time.sleep(SETTLE_S)
        cpu = (time.process_time() - cpu) * 1000
        return dict(zip(STAGES, spans.tolist(), strict=True)) | {"cpu": cpu, "waited": waited}

    def close(self) -> None:
        self.capture.close()
        self.summaries.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("bench_home"))
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    requests = traffic.prepare(args.home)
    batches = traffic.bodies(requests)
    traffic.forget_captures(args.home)
    scratch = Path(tempfile.mkdtemp(prefix="mara-stages-"))
    # The server logs each request at INFO to its log file: so does the in-process run.
    logging.basicConfig(level=logging.INFO, filename=scratch / "stages.log")
    in_process = InProcess(args.home, scratch)
    path = f"/{traffic.PHASE}/{traffic.PROB}/predict"
    stages: dict[int, list[dict[str, float]]] = defaultdict(list)
    python_gc: dict[int, list[dict[str, float]]] = defaultdict(list)
    wall: dict[tuple[int, str], list[float]] = defaultdict(list)
    client_cpu: dict[tuple[int, str], list[float]] = defaultdict(list)
    client_wait: dict[tuple[int, str], list[float]] = defaultdict(list)
    server_cpu: dict[int, list[np.ndarray]] = defaultdict(list)  # (ran, waited) per request
    server = ServerProcess(args.home, workers=1, extra_args=("--follow", "0"))
    with (
        logging_off_the_request_path(),
        server,
        httpx.Client(base_url=server.url, timeout=120) as client,
        LeanClient(server.host, server.port) as lean,
        Progress(auto_refresh=False) as progress,  # no thread of its own: CPU is counted
    ):

        def post(
            name: str, size: int, batch_id: str, columns: list[str], rows: list, *, count: bool
        ) -> None:
            """One request of `size` rows by one client, then a pause (see PAUSE_S); `count`:
            its figures are kept."""
            body = traffic.encode(batch_id, columns, rows)
            request = lean.request(path, body)  # encoded before the clock starts
            pid = server.process.pid
            server_before = np.array([schedstat(pid)[0], schedstat(pid, pid)[1]])
            client_before = this_thread()
            cpu, started = time.thread_time(), time.perf_counter()
            if name == "lean":
                status, answer = lean.send(request)
            else:
                response = client.post(
                    path, content=body, headers={"content-type": "application/json"}
                )
                status, answer = response.status_code, response.content
            elapsed = (time.perf_counter() - started) * 1000
            client_ms = (time.thread_time() - cpu) * 1000
            client_waited = (this_thread() - client_before)[1]
            time.sleep(PAUSE_S)
            if count:
                wall[size, name].append(elapsed)
                client_cpu[size, name].append(client_ms)
                client_wait[size, name].append(client_waited)
                # Every thread's CPU; the event loop's (the main thread's) wait for a core.
                server_now = np.array([schedstat(pid)[0], schedstat(pid, pid)[1]])
                server_cpu[size].append(server_now - server_before)
            if status != 200:
                raise SystemExit(f"{name}: HTTP {status}: {answer[:200]!r}")
            if len(orjson.loads(answer)["predictions"]) != size:
                raise SystemExit(f"{size} rows sent, a different number answered")

        task = progress.add_task("rounds", total=args.rounds)
        for round_ in range(-2, args.rounds):  # two rounds to warm up, not counted
            for size, (columns, rows) in batches.items():
                # Each path once untimed first, so both are timed as warm as a busy server is.
                in_process.run(traffic.encode(f"{size}-{round_}-in", columns, rows))
                timed = {}
                # The stages with the server's collector threshold and with Python's, in turn.
                for young_gc in order_of(round_, (YOUNG_GC_THRESHOLD, PYTHON_GC[0])):
                    body = traffic.encode(f"{size}-{round_}-in", columns, rows)
                    timed[young_gc] = in_process.run(body, young_gc=young_gc)
                post("lean", size, f"{size}-{round_}-warm", columns, rows, count=False)
                for name in order_of(round_, CLIENTS):
                    post(name, size, f"{size}-{round_}-{name}", columns, rows, count=round_ >= 0)
                if round_ >= 0:
                    stages[size].append(timed[YOUNG_GC_THRESHOLD])
                    python_gc[size].append(timed[PYTHON_GC[0]])
            if round_ >= 0:
                progress.advance(task)
                progress.refresh()
    in_process.close()
    handler = server_ms(args.home)
    rows = []
    for size in batches:
        medians = {
            s: statistics.median(t[s] for t in stages[size]) for s in (*STAGES, "cpu", "waited")
        }
        total = sum(medians[s] for s in STAGES)
        row = {
            "rows": size,
            **medians,
            "sum": total,
            "before": total - sum(medians[s] for s in AFTER_THE_ANSWER),
            "server_cpu": statistics.median(ms[0] for ms in server_cpu[size]),
            "server_wait": statistics.median(ms[1] for ms in server_cpu[size]),
            "handler": statistics.median(handler[size]) if handler[size] else float("nan"),
            "python_gc": statistics.median(sum(t[s] for s in STAGES) for t in python_gc[size]),
            "whole": statistics.median(sum(t[s] for s in STAGES) for t in stages[size]),
            "whole_min": min(sum(t[s] for s in STAGES) for t in stages[size]),
            "python_gc_cpu": statistics.median(t["cpu"] for t in python_gc[size]),
        }
        for name in CLIENTS:
            times = np.asarray(wall[size, name])
            row[f"{name}_p50"] = float(np.percentile(times, 50))
            row[f"{name}_p99"] = float(np.percentile(times, 99))
            row[f"{name}_ratio"] = row[f"{name}_p50"] / total
            row[f"{name}_whole_ratio"] = row[f"{name}_p50"] / row["whole"]
            row[f"{name}_cpu"] = statistics.median(client_cpu[size, name])
            row[f"{name}_wait"] = statistics.median(client_wait[size, name])
            row[f"{name}_min"] = float(times.min())
        rows.append(row)
    write_results(rows, args.rounds)


def order_of(round_: int, pair: tuple) -> tuple:
    """The pair as given in even rounds, reversed in odd ones: neither always goes first."""
    return pair if round_ % 2 == 0 else pair[::-1]


def schedstat(pid: int, tid: int | None = None) -> np.ndarray:
    """Milliseconds on a core and milliseconds waiting for one so far, summed over every
    thread of a process, or of one thread (Linux schedstat, in ns)."""
    tasks = Path(f"/proc/{pid}/task")
    total = np.zeros(2)
    for task in [tasks / str(tid)] if tid is not None else tasks.iterdir():
        try:
            total += [int(field) for field in (task / "schedstat").read_text().split()[:2]]
        except (OSError, ValueError):  # a thread that just ended
            continue
    return total / 1e6


def this_thread() -> np.ndarray:
    """`schedstat` of the calling thread."""
    return schedstat(os.getpid(), threading.get_native_id())


def server_ms(home: Path) -> dict[int, list[float]]:
    """The handler's own milliseconds per batch size, as the server captured them."""
    batches = CaptureIndex(home, traffic.PHASE, traffic.PROB).refresh().batches()
    found: dict[int, list[float]] = defaultdict(list)
    for batch_id, ms in zip(batches["id"], batches["server_ms"], strict=True):
        head, client = str(batch_id).rsplit("-", 1)
        size, round_ = (int(part) for part in head.split("-", 1))
        if round_ >= 0 and client in CLIENTS:
            found[size].append(float(ms))
    return found


def write_results(rows: list[dict], rounds: int) -> None:
    after = ", ".join(AFTER_THE_ANSWER)
    lines = [
        f"Network problem (41 features, 3 categorical), median ms over {rounds} rounds, in "
        f"process and over HTTP alternately; one `mara serve` worker, capture on, clients on "
        f"the same machine ({machine()}).",
        "",
        f"Stages in process (the server runs {after} once the answer is sent):",
        "",
        f"| rows | {' | '.join(STAGES)} | in-process sum | of which before the answer "
        "| in-process CPU | waited for a core |",
        "| ---: " * (len(STAGES) + 5) + "|",
    ]
    for row in rows:
        cells = " | ".join(f"{row[s]:.3f}" for s in STAGES)
        lines.append(
            f"| {row['rows']:,} | {cells} | {row['sum']:.2f} | {row['before']:.2f} "
            f"| {row['cpu']:.2f} | {row['waited']:.2f} |"
        )
    lines += [
        "",
        "The whole request over HTTP, by client (lean: a pre-encoded request on one socket), "
        "against the in-process sum of stage medians and the median of whole in-process runs:",
        "",
        "| rows | in-process sum | in-process whole | handler (server_ms) | lean p50 / p99 "
        "| httpx p50 / p99 | lean / sum | lean / whole | httpx / sum | httpx / whole "
        "| lean client CPU | httpx client CPU | server CPU | server / in-process CPU "
        "| server's event loop waited for a core | lean client waited |",
        "| ---: " * 16 + "|",
    ]
    for row in rows:
        lines.append(
            f"| {row['rows']:,} | {row['sum']:.2f} | {row['whole']:.2f} | {row['handler']:.2f} "
            f"| {row['lean_p50']:.2f} / {row['lean_p99']:.2f} "
            f"| {row['httpx_p50']:.2f} / {row['httpx_p99']:.2f} "
            f"| {row['lean_ratio']:.2f}x | {row['lean_whole_ratio']:.2f}x "
            f"| {row['httpx_ratio']:.2f}x | {row['httpx_whole_ratio']:.2f}x "
            f"| {row['lean_cpu']:.2f} | {row['httpx_cpu']:.2f} "
            f"| {row['server_cpu']:.2f} | {row['server_cpu'] / row['cpu']:.2f}x "
            f"| {row['server_wait']:.2f} | {row['lean_wait']:.2f} |"
        )
    lines += [
        "",
        "The floor: the fastest of the rounds, whole in process and over HTTP by client (a "
        "round that met no neighbour shows what each path costs by itself):",
        "",
        "| rows | in-process whole | lean | httpx | lean / in-process | httpx / in-process |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['rows']:,} | {row['whole_min']:.2f} | {row['lean_min']:.2f} "
            f"| {row['httpx_min']:.2f} | {row['lean_min'] / row['whole_min']:.2f}x "
            f"| {row['httpx_min'] / row['whole_min']:.2f}x |"
        )
    lines += [
        "",
        f"The collector: every stage in process (median of each run's total, and its CPU "
        f"time) with Python's threshold for young objects ({PYTHON_GC[0]:,}) and with the "
        f"server's ({YOUNG_GC_THRESHOLD:,}), in turn:",
        "",
        f"| rows | ms at {PYTHON_GC[0]:,} | ms at {YOUNG_GC_THRESHOLD:,} "
        f"| CPU ms at {PYTHON_GC[0]:,} | CPU ms at {YOUNG_GC_THRESHOLD:,} | CPU saved |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        saved = 1 - row["cpu"] / row["python_gc_cpu"]
        lines.append(
            f"| {row['rows']:,} | {row['python_gc']:.2f} | {row['whole']:.2f} "
            f"| {row['python_gc_cpu']:.2f} | {row['cpu']:.2f} | {100 * saved:.0f} % |"
        )
    (HERE / "stages.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(rows)


def plot(rows: list[dict]) -> None:
    """Stacked stage times (hatched: after the answer) beside the HTTP latency, per size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 4.2))
    for ax, row in zip(axes, rows, strict=True):
        bottom = 0.0
        for stage in STAGES:
            hatch = "//" if stage in AFTER_THE_ANSWER else None
            ax.bar("in process", row[stage], bottom=bottom, label=stage, hatch=hatch)
            bottom += row[stage]
        ax.bar("lean\nHTTP p50", row["lean_p50"], color="0.25")
        ax.bar("httpx\nHTTP p50", row["httpx_p50"], color="0.6")
        ax.set_title(f"{row['rows']:,} rows (lean {row['lean_ratio']:.2f}x)", fontsize=10)
        ax.set_ylabel("ms")
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.suptitle(
        "Request path by stage in process, against the whole request over HTTP (two clients)"
    )
    figure.tight_layout()
    figure.savefig(HERE / "stages.svg")


if __name__ == "__main__":
    main()
