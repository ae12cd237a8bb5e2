"""What the token check costs predict: three servers side by side on one trained home.

- open: no token configured (every route open);
- tokens: tokens configured, predict left open (the default): the route table is consulted,
  no token is compared;
- guarded: `--guard-predict`, each request carrying a bearer token compared in constant time.

Each round sends the same 1-row and 1,000-row batches to the three servers in turn (one
kept-alive connection each, LeanClient), so the machine's load falls on all three alike; a
round's figure is the median of its requests, and each ratio to `open` is the geometric mean
of the per-round ratios, with the interval of two standard errors (of the mean log ratio).
Writes benchmarks/serve/auth.md.

    .venv/bin/python benchmarks/serve/auth.py [--home bench_home] [--rounds 30]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import traffic
from lean_client import LeanClient

from mara.serve.process import ServerProcess

HERE = Path(__file__).parent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import machine, publish  # noqa: E402

TOKEN = "bench-token-0123456789abcdef-0123"
SIZES = (1, 1_000)
PER_ROUND = 20
MODES = ("open", "tokens", "guarded")


def with_header(request: bytes, header: str) -> bytes:
    """The request with one more header line after its request line."""
    line, _, rest = request.partition(b"\r\n")
    return line + b"\r\n" + header.encode("latin-1") + b"\r\n" + rest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("bench_home"))
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    requests = traffic.prepare(args.home)
    traffic.forget_captures(args.home)
    batches = traffic.bodies(requests, SIZES)
    tokens = args.home / "bench-tokens"
    tokens.write_text(f"bench:{TOKEN}\n")
    options = ("--follow", "0", "--shadow-sample", "0")
    servers = {
        "open": ServerProcess(args.home, workers=1, extra_args=options),
        "tokens": ServerProcess(
            args.home, workers=1, extra_args=options, env={"MARA_TOKENS_FILE": str(tokens)}
        ),
        "guarded": ServerProcess(
            args.home,
            workers=1,
            extra_args=(*options, "--guard-predict"),
            env={"MARA_TOKENS_FILE": str(tokens)},
        ),
    }
    path = f"/{traffic.PHASE}/{traffic.PROB}/predict"
    ms: dict[tuple[str, int], list[float]] = {(m, n): [] for m in MODES for n in SIZES}
    try:
        for server in servers.values():
            server.start()
        clients = {m: LeanClient(s.host, s.port) for m, s in servers.items()}
        prepared = {}
        for mode, client in clients.items():
            for n in SIZES:
                request = client.request(path, traffic.encode(f"b{n}", *batches[n]))
                if mode == "guarded":
                    request = with_header(request, f"authorization: Bearer {TOKEN}")
                prepared[mode, n] = request
                status, body = client.send(request)  # warm up, and check it is answered
                assert status == 200, body[:200]
        for _ in range(args.rounds):
            for n in SIZES:
                for mode in MODES:
                    times = []
                    for _ in range(PER_ROUND):
                        started = time.perf_counter()
                        status, _ = clients[mode].send(prepared[mode, n])
                        times.append((time.perf_counter() - started) * 1000)
                        assert status == 200
                    ms[mode, n].append(statistics.median(times))
        for client in clients.values():
            client.close()
    finally:
        for server in servers.values():
            server.stop()
        traffic.forget_captures(args.home)
    lines = [
        "# What the token check costs predict",
        "",
        f"`.venv/bin/python benchmarks/serve/auth.py --rounds {args.rounds}`"
        f"; {machine()}. The machine was shared with other work while this ran: "
        "compare the ratios (measured side by side, interleaved), not the absolute times.",
        "",
        "| rows | mode | median ms (of round medians) | ratio to open: geometric mean of rounds "
        "[± 2 SE] |",
        "| ---: | --- | ---: | ---: |",
    ]
    for n in SIZES:
        for mode in MODES:
            logs = [math.log(a / b) for a, b in zip(ms[mode, n], ms["open", n], strict=True)]
            se = statistics.stdev(logs) / len(logs) ** 0.5
            mean = statistics.mean(logs)
            low, high = math.exp(mean - 2 * se), math.exp(mean + 2 * se)
            lines.append(
                f"| {n:,} | {mode} | {statistics.median(ms[mode, n]):.3f} | "
                f"{math.exp(mean):.3f} [{low:.3f}, {high:.3f}] |"
            )
    publish(HERE / "auth.md", lines)


if __name__ == "__main__":
    main()
