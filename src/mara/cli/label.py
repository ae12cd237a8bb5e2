"""`mara label`: late labels into the home's ledger, or posted to a running server."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mara.cli.app import App, problem_options
from mara.errors import MaraError


@click.command()
@problem_options
@click.option(
    "--url",
    default=None,
    help="POST the labels (JSONL files) to this running server instead of writing the home's "
    "ledger; the token comes from MARA_TOKEN or --token-file.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="With --url: a file holding the token (its first line).",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def label(
    app: App,
    phase: str,
    prob: str,
    url: str | None,
    token_file: Path | None,
    files: tuple[Path, ...],
) -> None:
    """Take late labels (JSONL `{"id", "labels"}`, or CSV/Parquet `id,row,label`).

    Every file is checked before anything is written: one bad line rejects them all. Labels
    written here are recorded as sent by "local"; posted with --url, by the token's name.
    """
    from mara.labels import read_label_file
    from mara.labels.ingest import label_problem

    if url is not None:
        _post_labels(url, phase, prob, files, _client_token(token_file))
        return

    labels = [(str(path), read_label_file(path)) for path in files]
    reports = label_problem(app.home, phase, prob, labels)
    for (source, _), report in zip(labels, reports, strict=True):
        click.echo(f"{source}:\n" + report.summary())


def _client_token(token_file: Path | None) -> str | None:
    """The token a client command sends: --token-file's first line, else MARA_TOKEN."""
    if token_file is not None:
        lines = token_file.read_text().splitlines()
        return lines[0].strip() if lines else None
    return os.environ.get("MARA_TOKEN") or None


def _post_labels(
    url: str, phase: str, prob: str, files: tuple[Path, ...], token: str | None
) -> None:
    """POST each JSONL file's lines as one set to a server; stop at the first refusal."""
    import httpx
    import orjson

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for path in files:
        if path.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
            raise MaraError(f"{path}: only JSONL label files can be posted (--url)")
        try:
            lines = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        except (OSError, orjson.JSONDecodeError) as exc:
            raise MaraError(f"{path}: not a JSONL label file ({exc})") from None
        endpoint = f"{url.rstrip('/')}/{phase}/{prob}/labels"
        try:
            answer = httpx.post(endpoint, content=orjson.dumps(lines), headers=headers, timeout=60)
        except httpx.HTTPError as exc:
            raise MaraError(f"cannot reach {endpoint}: {exc}") from None
        try:
            body = answer.json()
        except ValueError:
            body = {"detail": answer.text[:200]}
        if not answer.is_success:
            raise MaraError(f"{path}: {answer.status_code} {body.get('detail', body)}")
        click.echo(
            f"{path}: rows labelled {body['rows_labelled']}, ids joined {body['ids_joined']} "
            f"of {body['ids']}"
        )
