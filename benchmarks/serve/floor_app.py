"""The HTTP floor: what any Python server of 1,000-row JSON batches pays before any model.

A bare ASGI app under the very uvicorn mara runs (uvloop, httptools): it reads the body,
parses it with orjson (as mara does) and answers as many predictions as rows, of the same
JSON shape as mara's answer. The CPU it spends per batch is the part of a request that no
model server in Python on this stack avoids; `evaluation_day.py` measures it beside mara and
MLflow to show how far mara's cost could fall, and so the ceiling on mara/MLflow.

    uvicorn --app-dir benchmarks/serve floor_app:app --loop uvloop --http httptools
"""

from __future__ import annotations

from typing import Any

import orjson

PREDICTION = 0.123456789012345  # a probability written at full precision, as mara's are


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Parse the batch, answer `{"id", "predictions", "drift"}`."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    status, answer = 200, b'{"status":"ok"}'
    if scope["method"] == "POST":
        data = orjson.loads(b"".join(chunks))
        rows = len(data.get("rows", data.get("dataframe_split", {}).get("data", [])))
        answer = orjson.dumps(
            {"id": data.get("id"), "predictions": [PREDICTION] * rows, "drift": 0}
        )
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})
