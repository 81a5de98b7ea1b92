"""Run the documentation's code as a new user would: copied in order into an empty folder.

:func:`blocks_of_markdown` and :func:`blocks_of_rst` extract the code blocks of a page in
order. :class:`Reader` then plays them in an empty folder with a fresh virtualenv's ``bin``
first on the ``PATH``:

* a Python block whose first line is a comment naming a file (``# myshop.py``,
  ``# tests/conftest.py``) is written to that file; any other Python block is run with
  ``python -c`` in the folder and must succeed;
* in a console block, each ``$`` command is played when it is one a reader would type to
  follow along: ``export`` lines change the environment (as in the reader's shell);
  ``python -m flask_kashflow_links.testing`` starts the sandbox (on a free port) and the
  ``export`` lines it prints for the reader's API are applied, as the page asks the reader to
  paste them;
  ``flask --app myshop kashflow-links ...`` and ``python -m pytest`` must succeed. Commands
  with placeholders (``<link id>``), servers that never return (``flask run``, ``gunicorn``)
  and installs (the wheel is installed already) are not played.

A page may show a block for each of KashFlow's APIs: a block marked ``<!-- variant: soap -->``
(Markdown) or ``.. variant: soap`` (reStructuredText, a comment) on the line before it, blank
lines aside, is played only by a reader of that variant (``Reader(variant="soap")``), and one
marked ``rest`` only by a REST reader; unmarked blocks are for every reader.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import textwrap
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

#: A Python block naming the file it belongs in.
FILE_HEADER = re.compile(r"^# ([\w./-]+\.py)\s*$")
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. code-block:: (?P<language>\w+)\s*$")
_FENCE = re.compile(r"^```(?P<language>\w+)\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)
#: The mark of a block for one API, on the line before it.
_MARKDOWN_VARIANT = re.compile(r"^<!-- variant: (\w+) -->$")
_RST_VARIANT = re.compile(r"^\s*\.\. variant: (\w+)\s*$")
#: Where the sandbox's settings for a SOAP account begin, in what it prints.
SOAP_SETTINGS = "For an account on KashFlow's SOAP API"


@dataclass(frozen=True)
class Block:
    """One code block of a page."""

    language: str
    code: str
    #: ``page:line``, for failure messages.
    where: str
    #: The API whose readers play it (``"rest"``, ``"soap"``), or ``None`` for every reader.
    variant: str | None = None


def _variant_before(lines: list[str], pattern: re.Pattern[str]) -> str | None:
    """The variant marked on the last non-blank line of *lines*, if any."""
    for line in reversed(lines):
        if line.strip():
            match = pattern.match(line)
            return match.group(1) if match else None
    return None


def blocks_of_markdown(path: Path, section: str) -> list[Block]:
    """The fenced blocks of the ``## section`` of a Markdown page, in order."""
    text = path.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    part = text[start : end if end != -1 else len(text)]
    offset = text[:start].count("\n") + 1
    return [
        Block(
            m["language"],
            m["code"],
            f"{path.name}:{offset + part[: m.start()].count(chr(10))}",
            _variant_before(part[: m.start()].splitlines(), _MARKDOWN_VARIANT),
        )
        for m in _FENCE.finditer(part)
    ]


def blocks_of_rst(path: Path) -> list[Block]:
    """The ``.. code-block::`` blocks of a reStructuredText page, in order."""
    lines = path.read_text().splitlines()
    blocks = []
    for number, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        body: list[str] = []
        for following in lines[number + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        # Leading options (":caption: ...") and blank lines, then the code.
        while body and (not body[0].strip() or body[0].strip().startswith(":")):
            body.pop(0)
        code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        variant = _variant_before(lines[:number], _RST_VARIANT)
        blocks.append(Block(match["language"], code, f"{path.name}:{number + 1}", variant))
    return blocks


def commands_of(console: str) -> list[str]:
    """The ``$`` commands of a console block (continued lines joined), without output."""
    commands: list[str] = []
    continued = False
    for line in console.splitlines():
        if continued:
            commands[-1] = commands[-1][:-1] + " " + line.strip()
        elif line.startswith("$ "):
            commands.append(line[2:].strip())
        else:
            continue
        continued = commands[-1].endswith("\\")
    return commands


@dataclass
class Reader:
    """A new user following the pages in one empty folder, with *venv*'s ``bin`` on ``PATH``."""

    folder: Path
    venv: Path
    #: The API this reader follows the pages for: blocks marked for the other are skipped.
    variant: str = "rest"
    env: dict[str, str] = field(default_factory=dict)
    #: What was played, for failure messages.
    played: list[str] = field(default_factory=list)
    servers: list[subprocess.Popen[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        home = self.folder.parent / f"{self.folder.name}-home"
        home.mkdir(exist_ok=True)
        self.env = {
            "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    # -- blocks --------------------------------------------------------------------------------

    def read(self, blocks: list[Block]) -> None:
        """Play every block in order (those for another API's reader skipped)."""
        for block in blocks:
            if block.variant not in (None, self.variant):
                self.played.append(f"{block.where}: not played (for {block.variant})")
            elif block.language == "python":
                self.python(block)
            elif block.language == "console":
                for command in commands_of(block.code):
                    self.command(command, block.where)

    def python(self, block: Block) -> None:
        first = block.code.splitlines()[0]
        header = FILE_HEADER.match(first)
        if header:
            target = self.folder / header.group(1)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code)
            self.played.append(f"{block.where}: wrote {header.group(1)}")
            return
        self.run(["python", "-c", block.code], f"{block.where}: python block")

    # -- console -------------------------------------------------------------------------------

    def command(self, command: str, where: str) -> None:
        if command.startswith("export "):
            self.export(command, where)
        elif command.startswith("python -m flask_kashflow_links.testing"):
            self.start_sandbox(command, where)
        elif "<" in command:
            self.played.append(f"{where}: not played (a placeholder): {command}")
        elif command.startswith("flask --app myshop kashflow-links ") or command.startswith(
            "python -m pytest"
        ):
            self.run(["bash", "-c", command], f"{where}: $ {command}")
        else:
            self.played.append(f"{where}: not played: {command}")

    def export(self, command: str, where: str) -> None:
        """Run an ``export`` line in bash and keep the environment it leaves."""
        script = f"set -e\n{command}\nenv -0"
        result = self.run(["bash", "-c", script], f"{where}: $ {command}")
        self.env = dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)

    def start_sandbox(self, command: str, where: str) -> None:
        """Start the sandbox as the page says (on a free port), and paste the ``export``s it
        prints for this reader's API (the REST settings, then the SOAP ones)."""
        args = shlex.split(command)
        if "--port" in args:
            del args[args.index("--port") : args.index("--port") + 2]
        process = subprocess.Popen(
            [*args, "--port", "0"],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.servers.append(process)
        assert process.stdout is not None
        printed = []
        snippets = 0
        for line in process.stdout:
            printed.append(line)
            snippets += line.startswith("KASHFLOW_LINKS_ACCOUNTS")
            if snippets == 2:  # the REST settings' snippet, then the SOAP settings'
                break
        soap = next((i for i, line in enumerate(printed) if line.startswith(SOAP_SETTINGS)), None)
        assert soap is not None, f"{where}: the sandbox printed no SOAP settings"
        ours = printed[soap:] if self.variant == "soap" else printed[:soap]
        exports = [line.strip() for line in ours if line.startswith("export ")]
        assert exports, f"{where}: the sandbox printed no settings:\n{''.join(printed)}"
        self.played.append(f"{where}: started the sandbox")
        for line in exports:
            self.export(line, f"{where} (pasted from the sandbox)")

    # -- running -------------------------------------------------------------------------------

    def run(self, argv: list[str], what: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv, cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=600
        )
        self.played.append(what)
        if result.returncode != 0:
            raise AssertionError(
                f"{what} failed with exit status {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
                "--- played so far\n" + "\n".join(self.played)
            )
        return result

    def stop(self) -> None:
        for process in self.servers:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def clean_environment() -> dict[str, str]:
    """The pip settings of this machine only (where packages come from), nothing else."""
    return {k: v for k, v in os.environ.items() if k.startswith("PIP_")} | {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
