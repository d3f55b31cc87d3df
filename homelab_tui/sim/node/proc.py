"""What one command of the simulated shell runs with: its privileges, environment and streams.
stdin is text from a pipe or a file, or the SSH channel read lazily; stdout and stderr are the
channel (paced per line) or a buffer a pipe or redirection reads afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import asyncssh


class Input:
    """A command's stdin: text from a pipe or file, or the SSH channel read lazily."""

    def __init__(self, text: str = "", reader: asyncssh.SSHReader | None = None) -> None:
        self._text = text
        self._reader = reader

    async def readline(self) -> str:
        if self._reader is not None:
            return await self._reader.readline()
        line, sep, rest = self._text.partition("\n")
        self._text = rest
        return line + sep

    async def read(self) -> str:
        if self._reader is not None:
            return await self._reader.read()
        text, self._text = self._text, ""
        return text


class Sink:
    """A command's stdout or stderr: the SSH channel (paced per line) or a buffer."""

    def __init__(self, write: Callable[[str], object] | None = None, delay: float = 0.0) -> None:
        self._write = write
        self._delay = delay
        self._buffer: list[str] = []

    async def emit(self, text: str) -> None:
        if self._write is None:
            self._buffer.append(text)
        elif not self._delay:
            self._write(text)
        else:
            for line in text.splitlines(keepends=True):
                self._write(line)
                await asyncio.sleep(self._delay)

    async def line(self, text: str = "") -> None:
        await self.emit(text + "\n")

    def text(self) -> str:
        return "".join(self._buffer)


def discard() -> Sink:
    return Sink(lambda _text: None)


@dataclass
class Proc:
    """The context one command runs in: privileges, environment and streams."""

    root: bool
    env: dict[str, str]
    stdin: Input
    out: Sink
    err: Sink


async def need_root(proc: Proc, message: str) -> bool:
    """Whether the command runs as root; if not, it says `message` on stderr."""
    if not proc.root:
        await proc.err.line(message)
    return proc.root
