"""Jupyter Server authorizers that keep files from leaving a sandbox through the browser.

Jupyter has no setting for "no downloads". The /files handler and `?download=1` share the
"contents" resource with opening a file in the editor, so a resource-level rule cannot
tell them apart: the decision here looks at the handler class and the request. Refused:
- every request served by the /files handlers (FilesHandler, AuthenticatedFileHandler);
- any contents request whose query asks for `download`;
- the "nbconvert" resource (export, "download as"), whatever the handler.
Everything else falls through to the parent authorizer. Each refusal is logged and
reported to the hub's audit log.

`HubDownloadDenyingAuthorizer` is the one the notebook image uses under JupyterHub: after
the download rules, the hub's own access-scope check (JupyterHubAuthorizer) still applies.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.base.handlers import AuthenticatedFileHandler
from jupyter_server.files.handlers import FilesHandler

from shuyu.sandbox.report import report_event

DOWNLOAD_HANDLERS = (FilesHandler, AuthenticatedFileHandler)
DENIED_RESOURCES = frozenset({"nbconvert"})


def download_refusal(handler: Any, action: str, resource: str) -> str | None:
    """Why this request is a download (to be refused), or None when it is not."""
    if isinstance(handler, DOWNLOAD_HANDLERS):
        return "the /files handler serves raw file bytes to the browser"
    if resource in DENIED_RESOURCES:
        return f"the {resource} resource exports documents"
    if resource == "contents" and "download" in handler.request.query_arguments:
        return "a contents request asked for download"
    return None


class DownloadDenyingAuthorizer(Authorizer):
    """Refuses downloads; allows everything else the parent allows (all, for the base)."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        reason = download_refusal(handler, action, resource)
        if reason is not None:
            self.log.warning(
                "shuyu: refused %s %s for %s (%s/%s): %s",
                handler.request.method,
                handler.request.path,
                getattr(user, "username", "?"),
                resource,
                action,
                reason,
            )
            report_event(
                "sandbox.download",
                method=handler.request.method,
                path=handler.request.path,
                resource=resource,
                reason=reason,
            )
            return False
        return self._parent_allows(handler, user, action, resource)

    def _parent_allows(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        # the base Authorizer has no rule of its own: the identity provider has already
        # authenticated the user
        return True


try:
    from jupyterhub.singleuser.extension import JupyterHubAuthorizer
except ImportError:  # a plain Jupyter Server without jupyterhub installed
    JupyterHubAuthorizer = None


if JupyterHubAuthorizer is not None:

    class HubDownloadDenyingAuthorizer(DownloadDenyingAuthorizer, JupyterHubAuthorizer):  # type: ignore[misc]
        """Download rules first, then the hub's access-scope check."""

        def _parent_allows(self, handler: Any, user: Any, action: str, resource: str) -> bool:
            return bool(JupyterHubAuthorizer.is_authorized(self, handler, user, action, resource))
