"""The cast's pages through the Jupyter server, on JupyterHub and Binder.

There the browser runs on another machine than the kernel, so the consent page and the
backend page at ``http://127.0.0.1:PORT`` cannot be opened.  jupyter-server-proxy, a
Jupyter server extension (in the ``[lab]`` extra and Binder's pins), serves them at
``{base_url}proxy/{port}/{path}``: it lets through only requests the Jupyter server
authenticates (the notebook's own user: on JupyterHub its owner), strips the prefix, sends
``/{path}`` to ``port`` on loopback with ``X-Forwarded-Prefix: {base_url}proxy/{port}``,
and puts the prefix back in front of a redirect's absolute path (``Location: /interaction``,
since 4.5).  The cast's forms and scripts use relative URLs, so its pages work unchanged
under the prefix; the ``proxy/absolute/{port}/`` form would instead pass the whole path on,
and every server would have to know its prefix.

* :func:`base_url`: the Jupyter server the browser reaches, when the kernel runs behind one;
* :func:`browser_url`: ``http://127.0.0.1:PORT/path`` as that browser opens it, and
  :class:`BrowserLink` a link to it in a notebook (a path alone is a link there too);
* :func:`proxied_origins`: the ``Origin`` a browser sends from a page served through the
  proxy, which the cast's origin checks (:func:`aauth_kit.asgi.own_origins`) accept then.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from html import escape
from urllib.parse import urlsplit

from .identifiers import DEV_HOSTS

#: The Jupyter server's URL (``http://127.0.0.1:8888/``) or base path (``/``) when its
#: proxy is the way to the cast but JupyterHub does not say so (a JupyterLab on a remote host).
PROXY_ENV = "AAUTH_KIT_SERVER_PROXY"
#: Set by JupyterHub (and so on Binder) for the user's server, and inherited by its kernels.
HUB_PREFIX_ENV = "JUPYTERHUB_SERVICE_PREFIX"
#: The server's public URL, which JupyterHub sets when its ``public_url`` is configured.
HUB_PUBLIC_URL_ENV = "JUPYTERHUB_PUBLIC_URL"


def base_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """The Jupyter server's URL ending in ``/`` — absolute when known, else its path — or
    ``None`` when the kernel does not run behind a Jupyter server's proxy."""
    explicit = environ.get(PROXY_ENV, "").strip()
    public = environ.get(HUB_PUBLIC_URL_ENV, "").strip()
    prefix = environ.get(HUB_PREFIX_ENV, "").strip()
    base = explicit or (public if public and prefix else prefix)
    if not base:
        return None
    if "://" not in base and not base.startswith("/"):
        base = "/" + base
    return base if base.endswith("/") else base + "/"


def browser_url(url: str, environ: Mapping[str, str] = os.environ) -> str:
    """``url`` as the browser opens it: a loopback ``http://127.0.0.1:PORT/path`` becomes
    ``{base_url}proxy/PORT/path`` behind a Jupyter server's proxy; anything else is unchanged."""
    base = base_url(environ)
    parts = urlsplit(url)
    if base is None or parts.scheme != "http" or parts.hostname not in DEV_HOSTS or not parts.port:
        return url
    return f"{base}proxy/{parts.port}{parts.path}" + (f"?{parts.query}" if parts.query else "")


class BrowserLink:
    """A URL shown in a notebook as a link that opens in a new tab, printed as the URL."""

    def __init__(self, url: str):
        self.url = url

    def __str__(self) -> str:
        return self.url

    __repr__ = __str__

    def _repr_html_(self) -> str:
        url = escape(self.url, quote=True)
        return f'<a href="{url}" target="_blank" rel="noopener">{url}</a>'


def proxied_origins(
    headers: Mapping[str, str], port: int, environ: Mapping[str, str] = os.environ
) -> set[str]:
    """The origins of the Jupyter server in front of the socket on ``port``, for a request
    jupyter-server-proxy forwarded: its own origin check, ``Origin`` against ``Host``.

    Only behind the proxy (:func:`base_url`), only with the prefix it sets for this port,
    and never when ``Host`` names ``port`` itself: a browser writes the ``Host`` of the URL it
    connected to, so such a request came straight to the socket (a name rebound to
    127.0.0.1 sends its own ``Host`` and ``Origin``) and not through the proxy."""
    base = base_url(environ)
    host = headers.get("host")
    if base is None or not host:
        return set()
    if headers.get("x-forwarded-prefix") != f"{urlsplit(base).path}proxy/{port}":
        return set()
    try:
        named = urlsplit(f"//{host}").port or 80  # the socket speaks http: no port means 80
    except ValueError:
        return set()
    if named == port:
        return set()
    return {f"http://{host}", f"https://{host}"}
