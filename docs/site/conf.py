"""Sphinx configuration of the lessons' static site (``make docs``, ``scripts/build_site.py``).

The notebooks are read as committed, executed in docs mode: nothing is run here.  Widgets
have no live kernel on a static page, so their widget view is never chosen: each shows the
static HTML card (``text/html``) or the text (``text/plain``) stored beside it.
"""

project = "aauth-kit"
author = "aauth-kit contributors"
copyright = "aauth-kit contributors, MIT License"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "README.md"]  # README: included in the index

# the committed outputs are the lesson: never execute
nb_execution_mode = "off"
# a widget view needs a kernel; the static card or text beside it is shown instead
nb_mime_priority_overrides = [("*", "application/vnd.jupyter.widget-view+json", None)]

html_theme = "sphinx_book_theme"
html_title = "aauth-kit: learn AAuth by running it"
html_static_path = ["_static"]
html_css_files = ["lessons.css"]
html_theme_options = {
    "repository_url": "https://github.com/aauth-kit/aauth-kit",
    "repository_branch": "main",
    "use_repository_button": True,
    "launch_buttons": {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
}
