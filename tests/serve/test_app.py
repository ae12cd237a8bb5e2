"""The app's lifespan: what it sets in the serving process, and gives back at shutdown."""

from __future__ import annotations

import asyncio
import gc
import shutil
from pathlib import Path

from mara.serve.app import YOUNG_GC_THRESHOLD, create_app


def test_the_collector_waits_for_more_new_objects_while_serving(trained_home: Path, tmp_path: Path):
    home = tmp_path / "home"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("captured_data", "logs"))
    app = create_app(home, compile_models=False, shadow_sample=0)
    before = gc.get_threshold()
    assert before[0] < YOUNG_GC_THRESHOLD
    seen: list[tuple[int, ...]] = []

    async def serve() -> None:
        async with app.router.lifespan_context(app):
            seen.append(gc.get_threshold())

    try:
        asyncio.run(serve())
    finally:
        gc.unfreeze()  # the lifespan froze this test process's objects
    assert seen == [(YOUNG_GC_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before
