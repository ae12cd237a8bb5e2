"""Where a request's time goes: each stage of the request path in process, and the whole over HTTP.

Trains (or reuses) the generated network problem (41 features), then, for batches of 1, 100,
1,000 and 10,000 rows, alternates two measurements round after round, so both meet the same
neighbours on this shared machine:

- in process, the functions the predict handler calls, one stage at a time: parse, matrix,
  forest, drift, answer (the JSON response), capture (header and body to a real capture file),
  logging (the per-request line, through the queue the server logs through), metrics
  (Prometheus), summary (the dashboard's line, queued to its writer thread) and free (the
  parsed request's Python objects given back, as when the handler returns);
- over HTTP, the same body posted to a real `mara serve --workers 1` on loopback, capture on,
  by one client with a kept-alive connection; the handler's own time (`server_ms`) is read
  back from the capture through mara's capture reader.

Wall time on a shared machine includes waiting for a core, for the client and the server
alike, so CPU time is reported beside it: the in-process run's own (its thread's), and the
server's (every thread of the server process, from the kernel's per-thread run time), from
the start of one request to the start of the next, so work done after the answer (the
summary's thread, the log's) counts too.

Writes benchmarks/serve/stages.md and stages.svg.

    .venv/bin/python benchmarks/serve/stages.py [--home bench_home] [--rounds 40]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import traffic
from rich.progress import Progress

from mara.capture import CaptureIndex, CaptureWriter
from mara.compiled import compiled_cache
from mara.monitor import SummaryWriter, batch_record
from mara.registry import Registry
from mara.serve import telemetry
from mara.serve.batch import parse_batch
from mara.serve.errors import json_response
from mara.serve.logs import logging_off_the_request_path
from mara.serve.models import ServedModel
from mara.serve.process import ServerProcess

HERE = Path(__file__).parent
STAGES = ("parse", "matrix", "forest", "drift", "answer", "capture", "logging", "metrics",
          "summary", "free")
log = logging.getLogger("mara.serve")


class InProcess:
    """The predict handler's stages, timed one by one on the served model version."""

    def __init__(self, home: Path, scratch: Path):
        version = Registry(home).served_models()[0].version
        bundle = Registry(home).load(traffic.MODEL)
        if not bundle.compile(compiled_cache(home)):
            raise SystemExit("the compiled forest disagreed with LightGBM")
        self.served = ServedModel(traffic.MODEL, version, bundle)
        self.capture = CaptureWriter(scratch)
        self.summaries = SummaryWriter(scratch)

    def run(self, body: bytes) -> dict[str, float]:
        """Milliseconds per stage for one request body, and their thread's CPU time ("cpu")."""
        bundle, clock = self.served.bundle, time.perf_counter
        cpu = time.thread_time()
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
        header = {
            "id": batch.id, "received_at": time.time(), "model_version": self.served.version,
            "predictions": predictions, "drift": report.drift, "drift_report": report.as_dict(),
            "quality": quality.as_dict(), "server_ms": 1.0,
        }
        self.capture.append_request(traffic.PHASE, traffic.PROB, header, body)
        marks.append(clock())
        log.info("%s id=%s rows=%d drift=%d ms=%.2f quality=%s", traffic.MODEL, batch.id,
                 batch.n_rows, report.drift, 1.0, header["quality"])
        marks.append(clock())
        telemetry.observe_batch(traffic.PHASE, traffic.PROB, 0.001, quality, report, self.served)
        telemetry.observe_capture(traffic.PHASE, traffic.PROB, len(body), 0.001)
        marks.append(clock())
        record = batch_record(
            phase=traffic.PHASE, prob=traffic.PROB, version=self.served.version, seconds=0.001,
            quality=quality, report=report, predictions=predictions, binary=bundle.is_binary,
        )
        self.summaries.record(record, detector=bundle.drift, matrix=matrix, report=report)
        marks.append(clock())
        del batch  # the summary's thread still holds the matrix and predictions, not the rows
        marks.append(clock())
        spans = np.diff(marks) * 1000
        return dict(zip(STAGES, spans.tolist(), strict=True)) | {
            "cpu": (time.thread_time() - cpu) * 1000
        }

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
    stages: dict[int, list[dict[str, float]]] = defaultdict(list)
    over_http: dict[int, list[float]] = defaultdict(list)
    server_cpu: dict[int, list[float]] = defaultdict(list)
    server = ServerProcess(args.home, workers=1, extra_args=("--follow", "0"))
    with (
        logging_off_the_request_path(),
        server,
        httpx.Client(base_url=server.url, timeout=120) as client,
        Progress() as progress,
    ):
        task = progress.add_task("rounds", total=args.rounds)
        previous: tuple[int, int, float] | None = None
        for round_ in range(-2, args.rounds):  # two rounds to warm up, not counted
            for size, (columns, rows) in batches.items():
                body = traffic.encode(f"{size}-{round_}", columns, rows)
                timed = in_process.run(body)
                cpu_now = cpu_ms(server.process.pid)
                if previous is not None and previous[1] >= 0:
                    server_cpu[previous[0]].append(cpu_now - previous[2])
                previous = (size, round_, cpu_now)
                started = time.perf_counter()
                response = client.post(f"/{traffic.PHASE}/{traffic.PROB}/predict", content=body,
                                       headers={"content-type": "application/json"})
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if len(response.json()["predictions"]) != size:
                    raise SystemExit(f"{size} rows sent, a different number answered")
                if round_ >= 0:
                    stages[size].append(timed)
                    over_http[size].append(elapsed)
            if round_ >= 0:
                progress.advance(task)
        time.sleep(0.5)  # the last request's work after its answer
        server_cpu[previous[0]].append(cpu_ms(server.process.pid) - previous[2])
    in_process.close()
    handler = server_ms(args.home)
    rows = []
    for size in batches:
        medians = {s: statistics.median(t[s] for t in stages[size]) for s in (*STAGES, "cpu")}
        total = sum(medians[s] for s in STAGES)
        http = np.asarray(over_http[size])
        rows.append({
            "rows": size, **medians, "sum": total,
            "server_cpu": statistics.median(server_cpu[size]),
            "handler": statistics.median(handler[size]) if handler[size] else float("nan"),
            "http_p50": float(np.percentile(http, 50)), "http_p99": float(np.percentile(http, 99)),
            "ratio": float(np.percentile(http, 50)) / total,
        })
    write_results(rows, args.rounds)


def cpu_ms(pid: int) -> float:
    """CPU milliseconds run so far by every thread of a process (Linux schedstat, in ns)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):  # a thread that just ended
            continue
    return total / 1e6


def server_ms(home: Path) -> dict[int, list[float]]:
    """The handler's own milliseconds per batch size, as the server captured them."""
    batches = CaptureIndex(home, traffic.PHASE, traffic.PROB).refresh().batches()
    found: dict[int, list[float]] = defaultdict(list)
    for batch_id, ms in zip(batches["id"], batches["server_ms"], strict=True):
        size, round_ = (int(part) for part in str(batch_id).split("-", 1))
        if round_ >= 0:
            found[size].append(float(ms))
    return found


def write_results(rows: list[dict], rounds: int) -> None:
    head = " | ".join(STAGES)
    lines = [
        f"Network problem (41 features, 3 categorical), median ms over {rounds} rounds, in "
        f"process and over HTTP alternately; one `mara serve` worker, capture on, one client "
        f"on the same machine ({traffic.machine()}).",
        "",
        f"| rows | {head} | in-process sum | handler (server_ms) | HTTP p50 | HTTP p99 "
        "| HTTP / in-process | in-process CPU | server CPU | server / in-process CPU |",
        "| ---: " * (len(STAGES) + 1) + "| ---: " * 8 + "|",
    ]
    for row in rows:
        cells = " | ".join(f"{row[s]:.3f}" for s in STAGES)
        lines.append(
            f"| {row['rows']:,} | {cells} | {row['sum']:.2f} | {row['handler']:.2f} | "
            f"{row['http_p50']:.2f} | {row['http_p99']:.2f} | {row['ratio']:.2f}x | "
            f"{row['cpu']:.2f} | {row['server_cpu']:.2f} | {row['server_cpu'] / row['cpu']:.2f}x |"
        )
    (HERE / "stages.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(rows)


def plot(rows: list[dict]) -> None:
    """Stacked stage times beside the HTTP latency, per batch size (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 4.2))
    for ax, row in zip(axes, rows, strict=True):
        bottom = 0.0
        for stage in STAGES:
            ax.bar("in process", row[stage], bottom=bottom, label=stage)
            bottom += row[stage]
        ax.bar("HTTP p50", row["http_p50"], color="0.4")
        ax.set_title(f"{row['rows']:,} rows ({row['ratio']:.2f}x)")
        ax.set_ylabel("ms")
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.suptitle("Request path by stage, in process, against the whole request over HTTP")
    figure.tight_layout()
    figure.savefig(HERE / "stages.svg")


if __name__ == "__main__":
    main()
