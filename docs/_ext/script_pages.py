"""Write the page of the real-data example scripts (``examples/*.py`` that
are neither gallery examples, ``plot_*.py``, nor helpers, ``_*.py``).

They take a data folder (``--data``) and minutes to hours, so the gallery does not run
them; this page shows what each does (its docstring) and its code.
"""

import ast
import os


def scripts(examples_dir):
    """Names of the scripts the gallery does not run, sorted."""
    return sorted(
        f for f in os.listdir(examples_dir) if f.endswith(".py") and not f.startswith(("plot_", "_"))
    )


def write_script_page(examples_dir, path):
    """Write ``path`` (Markdown) listing every script with its docstring and code."""
    rel = os.path.relpath(examples_dir, os.path.dirname(path))
    out = [
        "# Scripts on real photos",
        "",
        "The classic transfer-learning assignments, end to end. Each takes a data",
        "folder with one sub-folder of images per class (`--data FOLDER`; without it,",
        "the built-in sample) and runs for minutes to hours on real photos, so they",
        "are shown here rather than run while the site builds;",
        "`--size 64 --limit-per-class 12 --epochs 1` gives a quick check.",
        "",
    ]
    for name in scripts(examples_dir):
        with open(os.path.join(examples_dir, name), encoding="utf-8") as fh:
            doc = ast.get_docstring(ast.parse(fh.read())) or ""
        out += [
            f"## `examples/{name}`",
            "",
            "```text",
            doc,
            "```",
            "",
            "```{literalinclude} " + f"{rel}/{name}",
            ":language: python",
            "```",
            "",
        ]
    text = "\n".join(out)
    if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
