"""Clients for end-to-end tests: one batch at a time, steady load, waiting for a swap."""

import threading
import time

import httpx
from eventually import eventually


def send(client: httpx.Client, body: dict) -> list[float]:
    sent = {k: v for k, v in body.items() if k != "labels"}
    response = client.post("/p/q/predict", json=sent)
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def wait_for_version(client: httpx.Client, version: str, timeout_s: float = 120.0) -> None:
    eventually(
        lambda: client.get("/health").json()["models"]["p/q"]["version"] == version,
        f"the server to swap to v{version}",
        timeout_s=timeout_s,
    )


class SteadyTraffic:
    """A client that keeps sending one batch until stopped (bounded), keeping every status."""

    def __init__(self, url: str, body: dict, *, limit: int = 20_000):
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, body, limit), daemon=True)

    def _run(self, url: str, body: dict, limit: int) -> None:
        sent = {k: v for k, v in body.items() if k != "labels"}
        with httpx.Client(base_url=url, timeout=30) as client:
            while not self._stop.is_set() and len(self.statuses) < limit:
                self.statuses.append(client.post("/p/q/predict", json=sent).status_code)
                time.sleep(0.01)

    def __enter__(self) -> "SteadyTraffic":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)
