"""The simulated shell's parser: a command line split into pipelines joined by `;`, `&&` and
`||` (words by `shlex`: quotes, no `$` expansion, no subshells; redirections kept as words), and
the option parsing its commands share (`-qxF`, `-o file`, `--long=value`)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from typing import Any


class ShellSyntaxError(Exception):
    pass


REDIRECTS = frozenset({">", ">>", "<", ">&", "&>"})
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def parse_command_line(script: str) -> list[tuple[str, list[list[str]]]]:
    """Split one line into (connector, pipeline) pairs; a pipeline is a list of word lists.

    The connector is how the pipeline hangs on the previous one: `;`, `&&` or `||`.
    """
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as exc:  # "No closing quotation"
        raise ShellSyntaxError("Unterminated quoted string") from exc
    chain: list[tuple[str, list[list[str]]]] = []
    pipeline: list[list[str]] = []
    words: list[str] = []
    connector = ";"
    for token in tokens:
        if token in ("&&", "||", ";", "|"):
            if not words:
                raise ShellSyntaxError(f'"{token}" unexpected')
            pipeline.append(words)
            words = []
            if token != "|":
                chain.append((connector, pipeline))
                pipeline, connector = [], token
        elif token in REDIRECTS or not token or not set(token) <= set("();<>|&"):
            words.append(token)
        else:
            raise ShellSyntaxError(f'"{token}" unexpected (not supported by the simulated shell)')
    if words:
        pipeline.append(words)
    elif pipeline:
        raise ShellSyntaxError("end of file unexpected")
    if pipeline:
        chain.append((connector, pipeline))
    elif connector in ("&&", "||"):
        raise ShellSyntaxError("end of file unexpected")
    return chain


def parse_flags(args: list[str], with_value: Iterable[str] = ()) -> tuple[set[str], dict[str, str], list[str]]:
    """Short-option parsing (`-qxF`, `-o file`, `--long`): (flags, values, operands)."""
    takes_value = set(with_value)
    flags: set[str] = set()
    values: dict[str, str] = {}
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            operands.extend(args[i:])
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name not in takes_value:
                flags.add(name)
                continue
            if not eq and i < len(args):
                value, i = args[i], i + 1
            values[name] = value
        elif arg.startswith("-") and len(arg) > 1:
            for pos, char in enumerate(arg[1:], start=1):
                if f"-{char}" in takes_value:
                    rest = arg[pos + 1 :]
                    if not rest and i < len(args):
                        rest, i = args[i], i + 1
                    values[f"-{char}"] = rest
                    break
                flags.add(f"-{char}")
        else:
            operands.append(arg)
    return flags, values, operands


def parse_cli_options(words: list[str]) -> dict[str, Any]:
    """`--flag=value`, `--flag value`, bare `--flag`, repeated flags (lists) → dict without dashes."""
    options: dict[str, Any] = {}
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("--"):
            continue
        name, eq, value = word[2:].partition("=")
        if not eq:
            if i < len(words) and not words[i].startswith("-"):
                value, i = words[i], i + 1
            else:
                value = True
        if name in options:
            previous = options[name]
            options[name] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            options[name] = value
    return options
