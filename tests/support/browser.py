"""Headless Chromium (Debian's package) in a fresh profile that reaches only this machine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@contextlib.contextmanager
def fresh_browser(
    profile: Path, viewport: dict[str, int], allowed: str = "http://127.0.0.1:"
) -> Iterator[BrowserContext]:
    """A persistent context in a new ``profile`` folder, as a first-time user's browser.

    Every request whose URL does not start with ``allowed`` is aborted: the
    pages under test must not need the internet.
    """

    def local_only(route):
        if route.request.url.startswith(allowed):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=viewport,
        )
        try:
            context.route("**/*", local_only)
            yield context
        finally:
            context.close()
