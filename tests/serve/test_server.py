"""The uvicorn configuration `mara serve` runs: the compiled event loop and HTTP parser."""

from __future__ import annotations

import uvloop
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mara.serve.server import uvicorn_config


def test_mara_serve_runs_on_uvloop_and_httptools():
    config = uvicorn_config("mara.serve.app:app_from_env", factory=True, workers=2)
    assert config.workers == 2  # the other options pass through
    loop_factory = config.get_loop_factory()
    assert loop_factory is not None
    loop = loop_factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    assert import_from_string(HTTP_PROTOCOLS[config.http]) is HttpToolsProtocol
