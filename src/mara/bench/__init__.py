"""Load generator for evaluation day: replay a requests file against a running mara server.

Typical use: ``render(run_bench(url, phase, prob, load_requests(path), concurrency=8))``.
"""

from mara.bench.client import BenchError, BenchRequest, load_requests, run_bench
from mara.bench.report import BenchResult, render

__all__ = ["BenchError", "BenchRequest", "BenchResult", "load_requests", "render", "run_bench"]
