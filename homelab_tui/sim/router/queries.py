"""RouterOS API queries: `?name=value`, `?-name`, `?<name=value`, `?>name=value` and the `?#`
operations (`!`, `&`, `|`, `.`, stack indexes) evaluated against one item, as the API manual
defines them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .menus import ARGUMENT_VALUE_FAILURE, FALSE_WORDS, TRUE_WORDS, SimTrap


def _comparable(value: str) -> tuple[int, int | str]:
    """Order numbers and ids (*1A) numerically, everything else as text."""
    if value.isdigit():
        return (0, int(value))
    if re.fullmatch(r"\*[0-9A-Fa-f]+", value):
        return (0, int(value[1:], 16))
    return (1, value)


def _same(actual: str, wanted: str) -> bool:
    if actual in ("true", "false") and wanted.lower() in TRUE_WORDS | FALSE_WORDS:
        return (actual == "true") == (wanted.lower() in TRUE_WORDS)
    return actual == wanted


def _apply_operations(stack: list[bool], operations: str) -> None:
    """`?#...`: indexes, `!`, `&`, `|` and `.` as the API manual defines them."""

    def pop() -> bool:
        return stack.pop() if stack else True  # below the stack lie endless `true`s

    def peek(index: int) -> bool:
        return stack[-1 - index] if index < len(stack) else True

    position = 0
    while position < len(operations):
        char = operations[position]
        if char.isdigit():
            end = position
            while end < len(operations) and operations[end].isdigit():
                end += 1
            value = peek(int(operations[position:end]))
            if end == len(operations):
                stack[:] = [value]
            else:
                stack.append(value)
                if operations[end] == ".":
                    end += 1  # "." after an index does nothing
            position = end
            continue
        if char == "!":
            stack.append(not pop())
        elif char in "&|":
            right, left = pop(), pop()
            stack.append(left and right if char == "&" else left or right)
        elif char == ".":
            stack.append(peek(0))
        else:
            raise SimTrap(f"unknown query operation {char}", ARGUMENT_VALUE_FAILURE)
        position += 1


def query_matches(item: Mapping[str, str], queries: Sequence[str]) -> bool:
    """Evaluate API query words (without their leading `?`) against one item."""
    stack: list[bool] = []
    for query in queries:
        if query.startswith("#"):
            _apply_operations(stack, query[1:])
        elif query.startswith("-"):
            stack.append(query[1:] not in item)
        elif query[:1] in ("<", ">"):
            name, _, wanted = query[1:].partition("=")
            if name not in item:
                stack.append(False)
            else:
                actual, limit = _comparable(item[name]), _comparable(wanted)
                if actual[0] != limit[0]:
                    actual, limit = (1, item[name]), (1, wanted)
                stack.append(actual < limit if query[0] == "<" else actual > limit)
        else:
            name, has_value, wanted = query.removeprefix("=").partition("=")
            stack.append(name in item and (not has_value or _same(item[name], wanted)))
    return all(stack)
