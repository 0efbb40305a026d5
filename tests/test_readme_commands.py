"""Every `make` command the README shows is one the Makefile accepts."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from tests.support.project import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
FENCE = re.compile(r"^[ \t]*```.*$", re.MULTILINE)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
SHELL_OPERATORS = {"&&", "||", ";", "|", "&"}


def code_in_order(markdown: str) -> list[str]:
    """The lines of fenced code blocks and the inline code spans, in reading order."""
    snippets = []
    for i, part in enumerate(FENCE.split(markdown)):
        # Splitting on the fences puts every code block at an odd index.
        snippets += part.splitlines() if i % 2 else INLINE_CODE.findall(part)
    return [snippet for snippet in snippets if snippet.strip()]


def make_commands(snippet: str) -> list[list[str]]:
    """The targets of each `make` command in a line of shell: `make a b X=1` gives [a, b]."""
    if not re.search(r"\bmake\b", snippet):
        return []  # prose in backticks (an error message) need not be shell
    # A trailing backslash continues a shell line; shlex would read it as an escape.
    words = shlex.split(snippet.rstrip().removesuffix("\\"), comments=True)
    commands = []
    for start, word in enumerate(words):
        if word != "make":
            continue
        targets = []
        for arg in words[start + 1 :]:
            if arg in SHELL_OPERATORS:
                break
            if "=" not in arg and not arg.startswith("-"):
                targets.append(arg)
        commands.append(targets)
    return commands


@pytest.fixture(scope="module")
def readme_targets() -> list[str]:
    return [
        target
        for snippet in code_in_order(README.read_text())
        for command in make_commands(snippet)
        for target in command
    ]


def test_make_accepts_every_readme_target_in_a_dry_run(readme_targets):
    assert "run" in readme_targets
    assert "test" in readme_targets
    for target in dict.fromkeys(readme_targets):
        result = subprocess.run(
            ["make", "--dry-run", "--directory", str(PROJECT_ROOT), target],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"make -n {target}: {result.stderr}"
