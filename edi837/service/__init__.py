"""The gate as a service: an HTTP API and an operator page (issue 15).

``edi837 serve --data DIR`` runs it on uvicorn; ``edi837.service:app`` is the
app for any ASGI server (data folder from EDI837_SERVICE_DATA, configuration
from EDI837_SERVICE_CONFIG); :func:`create_app` builds one.  Needs the
``service`` extra (``pip install 'edi837[service]'``).  See docs/service.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    from .app import create_app as make

    return make(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "app":  # built on first use, from the environment
        from .app import app_from_env

        got = app_from_env()
        globals()["app"] = got
        return got
    raise AttributeError(name)
