"""Clients for end-to-end tests: one batch at a time, steady load, waiting for a swap."""

import threading
import time
from dataclasses import dataclass

import httpx
from eventually import eventually
from problems import binary_frame


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


@dataclass(frozen=True)
class Answer:
    """One answer under load: when sent and answered, and the server's x-mara-* headers."""

    sent: float
    at: float
    status: int
    worker: str
    version: str
    full_speed: str


class Load:
    """Clients posting one batch after another to phase-1/prob-1 (a binary problem of
    `problems.binary_frame`) until stopped (bounded), keeping each answer and who gave it."""

    def __init__(self, url: str, clients: int = 2, limit: int = 20_000):
        columns = ["amount", "age", "noise", "channel", "region"]
        rows = binary_frame(100, seed=5)[columns].values.tolist()
        self.body = {"id": "load", "columns": columns, "rows": rows}
        self.answers: list[Answer] = []
        self.limit = limit
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(url,)) for _ in range(clients)]

    def _run(self, url: str) -> None:
        # A connection per request: the workers share the listening socket, so each new
        # connection may go to either of them.
        with httpx.Client(base_url=url, timeout=30, headers={"connection": "close"}) as client:
            while not self._stop.is_set() and len(self.answers) < self.limit:
                sent = time.monotonic()
                response = client.post("/phase-1/prob-1/predict", json=self.body)
                headers = response.headers
                self.answers.append(
                    Answer(
                        sent,
                        time.monotonic(),
                        response.status_code,
                        headers.get("x-mara-worker", ""),
                        headers.get("x-mara-version", ""),
                        headers.get("x-mara-full-speed", ""),
                    )
                )

    def first_answer(
        self, version: str, workers: set[str], since: float, timeout_s: float
    ) -> dict[str, float]:
        """When each worker first answered `version` after `since` (waiting up to
        `timeout_s`)."""

        def first() -> dict[str, float]:
            found: dict[str, float] = {}
            for answer in list(self.answers):
                if answer.version == version and answer.at > since:
                    found.setdefault(answer.worker, answer.at)
            return found

        return eventually(
            lambda: found if set(found := first()) >= workers else None,
            f"every worker of {workers} to answer v{version}",
            timeout_s=timeout_s,
            every_s=0.1,
            detail=lambda: str(first()),
        )

    def answered_again(self, since: dict[str, float], timeout_s: float) -> None:
        """Wait until each worker of `since` has answered a request sent after its time."""

        def waiting() -> set[str]:
            answers = list(self.answers)
            return {
                w
                for w, t in since.items()
                if not any(a.worker == w and a.sent > t for a in answers)
            }

        eventually(
            lambda: not waiting(),
            "every worker to answer a request sent after its swap",
            timeout_s=timeout_s,
            every_s=0.1,
            detail=lambda: f"still waiting for {waiting()}",
        )

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
