"""Sphinx configuration of the sktransfer documentation.

Build (offline, warnings are errors):  python -m sphinx -W -b html docs docs/_build/html
"""

import inspect
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # document this checkout, not an installed copy
sys.path.insert(0, HERE)

from _ext.benchmark_pages import write_benchmark_pages  # noqa: E402
from _ext.script_pages import write_script_page  # noqa: E402

import sktransfer  # noqa: E402

project = "sktransfer"
copyright = "sktransfer developers"
release = version = sktransfer.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "_templates",
    "_ext",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]
templates_path = ["_templates"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# -- API reference -------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False
numpydoc_xref_param_type = False


def _documented_methods(cls):
    """The public methods a class page shows: those sktransfer defines with a
    docstring, inherited from sktransfer's own bases included. scikit-learn's
    (``get_params``, ``score``) and Keras' (``compile``) are documented on
    their sites; an override without a docstring (a Keras callback hook) is
    not shown with Keras' docstring."""
    names = []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        owner = next(k for k in cls.__mro__ if name in vars(k))
        member = vars(owner)[name]
        member = getattr(member, "__func__", member)  # static and class methods
        if owner.__module__.startswith("sktransfer") and inspect.isfunction(member) and member.__doc__:
            names.append(name)
    return names


def _public_classes():
    """``{name as the API page writes it: class}`` for every public class."""
    import importlib

    found = {}
    for name in sktransfer.__all__:
        if name in sktransfer._SUBMODULES:
            module = importlib.import_module(f"sktransfer.{name}")
            found.update({f"sktransfer.{name}.{n}": getattr(module, n) for n in module.__all__})
        elif name != "__version__":
            found[f"sktransfer.{name}"] = getattr(sktransfer, name)
    return {name: obj for name, obj in found.items() if inspect.isclass(obj)}


autosummary_context = {
    "sktransfer_methods": {name: _documented_methods(cls) for name, cls in _public_classes().items()}
}

# -- Gallery -------------------------------------------------------------------
# Only the plot_*.py examples run while the docs build (seconds each, offline, on
# the built-in sample); the real-data scripts (a data folder argument, minutes)
# are shown with their code but not run.
sphinx_gallery_conf = {
    "examples_dirs": os.path.join(ROOT, "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"^(?!plot_).*\.py$",
    "plot_gallery": "True",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "min_reported_time": 1,
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "sktransfer"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
# Without a default mode the theme logs a console error on a first visit (no stored mode).
html_context = {"default_mode": "light"}


_REF = re.compile(r":(?:ref|term|doc):`([^`<]*?)(?:\s*<[^`]*>)?`")


def _plain_foreign_refs(app, what, name, obj, options, lines):
    """scikit-learn's docstrings (``set_fit_request``, ``score``) point into
    scikit-learn's own site (``:ref:`accuracy_score```, ``:term:`meta-estimator```),
    which this site lacks: keep the words, drop the link."""
    module = getattr(obj, "__module__", "") or ""
    if not module.startswith("sktransfer"):
        lines[:] = [_REF.sub(lambda m: m.group(1).strip(), line) for line in lines]


def _write_generated_pages(app):
    # Benchmark pages from the committed JSON results; the scripts' page from examples/.
    write_benchmark_pages(os.path.join(ROOT, "benchmarks", "results"), os.path.join(HERE, "benchmarks"))
    write_script_page(os.path.join(ROOT, "examples"), os.path.join(HERE, "scripts.md"))


def setup(app):
    app.connect("builder-inited", _write_generated_pages)
    app.connect("autodoc-process-docstring", _plain_foreign_refs)
