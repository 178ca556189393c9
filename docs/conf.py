"""Sphinx configuration of the neurosim documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the repository
root. The package is documented as installed (``pip install -e ".[docs]"``): this file does not
put the repository on ``sys.path``, because the ``decoding/`` and ``datasets/`` folders are
installed as ``neurosim.decoding`` and ``neurosim.datasets`` and must not be imported as
top-level packages.
"""

import os
from datetime import date

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

import neurosim  # noqa: E402

# -- Project -------------------------------------------------------------------------------------

project = "neurosim"
author = "The neurosim developers"
copyright = f"{date.today().year}, {author}"
release = neurosim.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
# decoding_fmri.rst is included into decoding.rst (.. include::), not a page of its own
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store", "decoding_fmri.rst"]
root_doc = "index"
default_role = "py:obj"

# -- autodoc / autosummary / numpydoc ------------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# every documented public object is checked: parameters documented, in order, with types, and
# nothing documented that does not exist (numpydoc's validation, as MNE-Python and nilearn run it)
numpydoc_validation_checks = {"PR01", "PR02", "PR10", "GL08"}
numpydoc_validation_exclude = {
    r"\.__init__$",  # documented in the class docstring
    r"\.__call__$",
    r"^neurosim\.sparsey\.CSAStep$",  # a NamedTuple: its fields are documented one by one
    # not yet validated: the spiking engine (issue #12 is extending it)
    r"^neurosim\.(spiking|backends)\.",
}

# -- sphinx-gallery ------------------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    # run the examples in joblib workers when Sphinx is given -j (CI: -j auto); True follows -j
    "parallel": True,
}

# -- HTML ----------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"neurosim {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}


def _skip_sklearn_request_methods(app, what, name, obj, skip, options):
    """Skip the ``set_<method>_request`` methods scikit-learn generates on every estimator class
    (metadata routing); their docstrings refer to scikit-learn's own glossary."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_request_methods)
