"""HTML building blocks of the report: escaping, tables, embedded figures, the page.

Everything returns a string of HTML; text from the caller is escaped here.
The page is self-contained: inline CSS, PNG figures as ``data:`` URIs, no
JavaScript and no reference to any other file or address.
"""

import base64
import html
import io
import numbers

import matplotlib.pyplot as plt

from .._utils.jsonable import to_python
from ..metrics import format_cell

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
.meta{color:#666}nav a{margin-right:1em}
table{border-collapse:collapse;margin:.6em 0 1em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
td.text{text-align:left;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}.note{color:#8a5300;background:#fff6e5;padding:.4em .8em}
.verdict{font-weight:bold;font-size:1.1em}
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _short(value, limit=80):
    text = repr(to_python(value))
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _cell(value):
    if isinstance(value, str):
        return f'<td class="text">{_e(value)}</td>'
    if value is None or isinstance(value, numbers.Number):
        return f"<td>{_e(format_cell(value))}</td>"
    return f'<td class="text">{_e(_short(value))}</td>'


def _table(header, rows, table_id=None):
    """An HTML table; `rows` are lists whose first item is the row label."""
    ident = f' id="{_e(table_id)}"' if table_id else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(f"<tr><th>{_e(r[0])}</th>" + "".join(_cell(v) for v in r[1:]) + "</tr>" for r in rows)
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(fig, alt, caption=""):
    """The figure as an embedded PNG; the figure is closed."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">{cap}</figure>'


def _note(text):
    return f'<p class="note">{_e(text)}</p>'


def _page(title, meta, sections):
    """The whole document: `title`, a `meta` line of text, a navigation bar and
    one ``<section>`` per ``(id, heading, html)`` in `sections`."""
    nav = "".join(f'<a href="#{i}">{_e(h)}</a>' for i, h, _ in sections)
    body = "".join(f'<section><h2 id="{i}">{_e(h)}</h2>{content}</section>' for i, h, content in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="meta">{_e(meta)}</p><nav>{nav}</nav>'
        f"{body}</body></html>\n"
    )
