"""One self-contained HTML report of a run.

:func:`write_report` writes a single HTML file that needs nothing else: the
figures are PNG images embedded as ``data:`` URIs, the CSS is inline, there
is no JavaScript and no reference to any other file or web address, so the
report can be mailed, archived or opened offline. The test set is predicted
once; every table and figure is computed from that one pass.
"""

from ._write import write_report

__all__ = ["write_report"]
