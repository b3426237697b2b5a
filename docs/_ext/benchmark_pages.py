"""Write one Markdown page per benchmark result (``benchmarks/results/*.json``).

Each result file carries ``date``, ``machine``, ``command`` and ``commit``;
the page shows them above the figures, so a number on the site always comes
with where, when and how it was measured. Figures are either ``tables``
(``{"caption", "columns", "rows"}``) or, as the benchmark scripts write them,
any list of flat dicts (one table row per dict).
"""

import json
import os

#: Keys every result file must have: a page without them would quote figures
#: without saying where they come from.
REQUIRED = ("date", "machine", "command", "commit")
_HEADER = ("title",) + REQUIRED + ("provenance", "tables", "notes")


def _cell(value):
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value)
    else:
        text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(columns, rows):
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _tables(result):
    """``(caption, columns, rows)`` for every table of a result."""
    for table in result.get("tables", []):
        yield table.get("caption", ""), table["columns"], table["rows"]
    for key, value in result.items():
        if key in _HEADER or not isinstance(value, list) or not value:
            continue
        if all(isinstance(row, dict) for row in value):
            columns = list(dict.fromkeys(k for row in value for k in row))
            yield key, columns, [[row.get(c) for c in columns] for row in value]


def render(name, result):
    """The Markdown page of one result file (``name`` without ``.json``)."""
    missing = [key for key in REQUIRED if not result.get(key)]
    if missing:
        raise ValueError(
            f"benchmarks/results/{name}.json lacks {', '.join(missing)}: every "
            "result must say when, where, how and from which commit it was measured"
        )
    commands = result["command"]
    commands = commands if isinstance(commands, list) else [commands]
    out = [
        f"# {result.get('title', name)}",
        "",
        f"- **date**: {result['date']}",
        f"- **machine**: {result['machine']}",
        f"- **commit**: `{result['commit']}`",
        f"- **file**: `benchmarks/results/{name}.json`",
    ]
    if result.get("provenance"):
        out.append(f"- **provenance**: {result['provenance']}")
    out += ["", "```bash", *commands, "```", ""]
    for caption, columns, rows in _tables(result):
        if caption:
            out += [f"**{caption}**", ""]
        out += [_table(columns, rows), ""]
    other = {k: v for k, v in result.items() if k not in _HEADER and not isinstance(v, list)}
    if other:
        out += [_table(["key", "value"], sorted(other.items())), ""]
    for note in result.get("notes", []):
        out += [note, ""]
    return "\n".join(out)


def write_benchmark_pages(results_dir, docs_dir):
    """Write ``docs_dir/generated/<name>.md`` for every ``results_dir/*.json``.

    Pages of results that no longer exist are removed; unchanged pages are
    not rewritten (so Sphinx does not rebuild them).
    """
    target = os.path.join(docs_dir, "generated")
    os.makedirs(target, exist_ok=True)
    names = sorted(f[:-5] for f in os.listdir(results_dir) if f.endswith(".json"))
    for stale in set(os.listdir(target)) - {f"{n}.md" for n in names}:
        os.remove(os.path.join(target, stale))
    for name in names:
        with open(os.path.join(results_dir, f"{name}.json"), encoding="utf-8") as fh:
            page = render(name, json.load(fh))
        path = os.path.join(target, f"{name}.md")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                if fh.read() == page:
                    continue
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(page)
    return names
