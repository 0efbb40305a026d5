"""Every `make` command the README shows exists, and the two a newcomer needs come first."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from tests.support.project import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
MAKEFILE = PROJECT_ROOT / "Makefile"
FENCE = re.compile(r"^[ \t]*```.*$", re.MULTILINE)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
RULE = re.compile(r"^([^\s#.=:$][^=:]*?)\s*::?(?!=)", re.MULTILINE)
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


def makefile_targets(makefile: str) -> set[str]:
    """The explicit targets of a Makefile, without special targets and file rules."""
    return {
        target
        for rule in RULE.findall(makefile)
        for target in rule.split()
        if "$" not in target and "/" not in target
    }


@pytest.fixture(scope="module")
def readme_targets() -> list[str]:
    return [
        target
        for snippet in code_in_order(README.read_text())
        for command in make_commands(snippet)
        for target in command
    ]


def test_the_parsers_read_the_shapes_the_readme_uses():
    markdown = (
        "Run:\n\n```bash\nmake run  # set-up\n```\n\nthen `make test A='-m \"x y\"'`."
    )

    assert code_in_order(markdown) == ["make run  # set-up", "make test A='-m \"x y\"'"]
    assert make_commands("cd x && make lint format && make") == [["lint", "format"], []]
    assert makefile_targets(
        "A := 1\n.PHONY: a\na: b ## doc\n$(X)/y:\n\tcmd\nc d::\n"
    ) == {
        "a",
        "c",
        "d",
    }


def test_every_make_command_in_the_readme_names_a_makefile_target(readme_targets):
    targets = makefile_targets(MAKEFILE.read_text())

    assert readme_targets
    assert sorted(set(readme_targets) - targets) == []


def test_the_readme_shows_make_run_and_make_test_before_any_other_make_command(
    readme_targets,
):
    first_two = list(dict.fromkeys(readme_targets))[:2]

    assert first_two == ["run", "test"]


def test_make_accepts_every_readme_target_in_a_dry_run(readme_targets):
    for target in dict.fromkeys(readme_targets):
        result = subprocess.run(
            ["make", "--dry-run", "--directory", str(PROJECT_ROOT), target],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"make -n {target}: {result.stderr}"
