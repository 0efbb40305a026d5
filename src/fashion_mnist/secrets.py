"""Mask the passwords that URLs carry in any text the project shows or records."""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@ — the password runs to the last "@" of the URL's
# authority (before any "/", "?", "#" or space), as urllib and requests read it.
_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/?#@]*):(?P<password>[^\s/?#]*)@"
)


def mask_url(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``.

    Args:
        text: Any text: a URL, a message or a traceback that holds URLs.

    Returns:
        The same text, each ``scheme://user:password@`` now ``scheme://user:***@``.
    """
    return _PASSWORD.sub(rf"\g<head>:{MASK}@", str(text))


def split_userinfo(url: str) -> tuple[str, str | None]:
    """``url`` without its ``user:password@``, and the Basic auth header it stood for.

    Args:
        url: An ``http(s)://`` URL, with or without a user and password.

    Returns:
        The URL as a request may send it, and ``"Basic ..."`` (the user and
        password, percent-decoded as requests does) or ``None`` without a user.
    """
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return bare, "Basic " + base64.b64encode(pair.encode()).decode()
