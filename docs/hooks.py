"""MkDocs hooks: pages made from the project's own files, so the site cannot disagree with them.

- `benchmarks/<name>/index.md`: one page per benchmark, its results files (results.md first)
  and its plots, with the command that reproduces it. The figures are never copied by hand.
- `index.md`: the README, its links made relative to the site.
- the layout block of `home.md`: `mara.home.LAYOUT`.
- `api/openapi.json` and the endpoint table on `api.md`: the OpenAPI document the server
  serves at /openapi.json, for an example problem.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
PICTURES = (".png", ".svg")
# The benchmarks whose make target is not bench-<folder name>.
TARGETS = {
    "serve": "make bench-serve, bench-serve-stages, bench-serve-mlflow, bench-serve-auth, "
    "bench-serve-evaluation-day, bench-compile",
    "train": "make bench-train, bench-train-wall",
}


def benchmark_names() -> list[str]:
    """Benchmarks with a results file, by folder name."""
    return sorted(
        path.name
        for path in BENCHMARKS.iterdir()
        if path.is_dir() and any(p.name.startswith("results.") for p in path.iterdir())
    )


def csv_table(path: Path) -> str:
    """A results CSV as a Markdown table."""
    with path.open(newline="") as file:
        rows = list(csv.reader(file))
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return f"## {path.name}\n\n" + "\n".join(lines) + "\n"


def benchmark_page(name: str) -> str:
    """A benchmark's page: how to reproduce it, then each of its results files."""
    folder = BENCHMARKS / name
    documents = sorted(
        (p for p in folder.iterdir() if p.suffix == ".md"), key=lambda p: (p.stem != "results", p)
    )
    target = TARGETS.get(name, f"make bench-{name.replace('_', '-')}")
    parts = [
        f"# Benchmark: {name.replace('_', ' ')}\n",
        f"Reproduce with `{target}` (code in `benchmarks/{name}/`). The figures below are the "
        "benchmark's own results files, as it last wrote them.\n",
    ]
    for document in documents:
        text = document.read_text()
        # A results file's own title becomes a section of the page.
        text = re.sub(r"^# ", "## ", text, flags=re.MULTILINE)
        if not text.lstrip().startswith("## "):
            text = f"## {document.name}\n\n{text}"
        parts.append(text)
    if not documents and (folder / "results.csv").exists():
        parts.append(csv_table(folder / "results.csv"))
    pictures = sorted(p.name for p in folder.iterdir() if p.suffix in PICTURES)
    if pictures:
        parts.append("## Plots\n")
        parts.extend(f"![{picture}]({picture})\n" for picture in pictures)
    return "\n".join(parts)


def openapi_table(document: dict) -> str:
    """The endpoints of an OpenAPI document as a Markdown table."""
    rows = ["| method | path | summary |", "| --- | --- | --- |"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            rows.append(f"| {method.upper()} | `{path}` | {operation.get('summary', '')} |")
    return "\n".join(rows)


def _openapi() -> dict:
    from mara.serve.openapi import openapi_document

    return openapi_document(["phase-1/prob-1"], max_rows=100_000)


def index_page() -> str:
    """The README as the site's first page: `docs/x.md` links become `x.md`."""
    return (ROOT / "README.md").read_text().replace("](docs/", "](")


def on_config(config):
    # The Benchmarks entry of the nav becomes a section: the overview, then one page each.
    nav = config["nav"]
    for i, entry in enumerate(nav):
        if entry == {"Benchmarks": "benchmarks.md"}:
            pages = [{"Overview": "benchmarks.md"}] + [
                {name.replace("_", " "): f"benchmarks/{name}/index.md"}
                for name in benchmark_names()
            ]
            nav[i] = {"Benchmarks": pages}
    return config


def on_files(files: Files, config) -> Files:
    files.append(File.generated(config, "index.md", content=index_page()))
    for name in benchmark_names():
        files.append(
            File.generated(config, f"benchmarks/{name}/index.md", content=benchmark_page(name))
        )
        for picture in (BENCHMARKS / name).iterdir():
            if picture.suffix in PICTURES:
                files.append(
                    File.generated(
                        config, f"benchmarks/{name}/{picture.name}", abs_src_path=str(picture)
                    )
                )
    files.append(
        File.generated(config, "api/openapi.json", content=json.dumps(_openapi(), indent=2))
    )
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri == "home.md":
        from mara.home import layout_text

        return markdown.replace("{{ home_layout }}", layout_text())
    if page.file.src_uri == "api.md":
        return markdown.replace("{{ openapi_table }}", openapi_table(_openapi()))
    if page.file.src_uri == "benchmarks.md":
        links = "\n".join(
            f"- [{n.replace('_', ' ')}](benchmarks/{n}/index.md)" for n in benchmark_names()
        )
        return markdown.replace("{{ benchmark_list }}", links)
    return markdown
