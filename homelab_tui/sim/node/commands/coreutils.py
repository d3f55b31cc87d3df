"""Text and file utilities of the simulated node (coreutils, grep, sed, test): what the plans'
checks and edits use. `sed` does `[address] s/pattern/replacement/flags` with BRE or ERE
patterns; `grep` -q/-x/-F/-w/-E/-v/-c/-i/-s; `head`/`tail` -n N; `wc -l`; `test`/`[` for
-e/-f/-d/-x/-s/-r, string comparisons and -n/-z."""

from __future__ import annotations

import asyncio
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..parser import parse_flags
from ..proc import Proc
from ..state import FsError
from .registry import command

if TYPE_CHECKING:
    from ..shell import NodeShell


@command("true")
async def succeed(shell: NodeShell, args: list[str], proc: Proc) -> int:
    return 0


@command("false")
async def fail(shell: NodeShell, args: list[str], proc: Proc) -> int:
    return 1


@command("echo")
async def echo(shell: NodeShell, args: list[str], proc: Proc) -> int:
    newline = not (args and args[0] == "-n")
    await proc.out.emit(" ".join(args[0 if newline else 1 :]) + ("\n" if newline else ""))
    return 0


@command("printf")
async def printf(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if not args:
        await proc.err.line("printf: usage: printf format [arg ...]")
        return 2
    fmt = args[0].replace("\\n", "\n").replace("\\t", "\t").replace("%%", "\0")
    values = args[1:] or [""]
    slots = max(fmt.count("%s"), 1)
    text = ""
    for start in range(0, len(values), slots):
        chunk = values[start : start + slots]
        chunk += [""] * (fmt.count("%s") - len(chunk))
        text += fmt.replace("%s", "{}").format(*chunk) if "%s" in fmt else fmt
    await proc.out.emit(text.replace("\0", "%"))
    return 0


@command("sleep")
async def sleep(shell: NodeShell, args: list[str], proc: Proc) -> int:
    await asyncio.sleep(float(args[0]) if args else 0)
    return 0


@command("cat")
async def cat(shell: NodeShell, args: list[str], proc: Proc) -> int:
    _flags, _values, paths = parse_flags(args)
    if not paths:
        await proc.out.emit(await proc.stdin.read())
        return 0
    status = 0
    for path in paths:
        try:
            await proc.out.emit(shell.state.read(path, root=proc.root))
        except FsError as exc:
            await proc.err.line(f"cat: {path}: {exc}")
            status = 1
    return status


async def _lines_of(shell: NodeShell, tool: str, paths: list[str], proc: Proc) -> list[str] | None:
    if not paths:
        return (await proc.stdin.read()).splitlines(keepends=True)
    try:
        return [line for path in paths for line in shell.state.read(path, root=proc.root).splitlines(keepends=True)]
    except FsError as exc:
        await proc.err.line(f"{tool}: cannot open '{paths[0]}' for reading: {exc}")
        return None


@command("head")
async def head(shell: NodeShell, args: list[str], proc: Proc) -> int:
    return await _head_or_tail(shell, "head", args, proc)


@command("tail")
async def tail(shell: NodeShell, args: list[str], proc: Proc) -> int:
    return await _head_or_tail(shell, "tail", args, proc)


async def _head_or_tail(shell: NodeShell, tool: str, args: list[str], proc: Proc) -> int:
    args = [f"-n{a[1:]}" if re.fullmatch(r"-\d+", a) else a for a in args]
    _flags, values, paths = parse_flags(args, with_value=("-n",))
    count = int(values.get("-n", "10"))
    lines = await _lines_of(shell, tool, paths, proc)
    if lines is None:
        return 1
    await proc.out.emit("".join(lines[:count] if tool == "head" else lines[-count:] if count else []))
    return 0


@command("wc")
async def wc(shell: NodeShell, args: list[str], proc: Proc) -> int:
    _flags, _values, paths = parse_flags(args)
    lines = await _lines_of(shell, "wc", paths, proc)
    if lines is None:
        return 1
    await proc.out.line(str(sum(1 for line in lines if line.endswith("\n"))))
    return 0


@command("tee")
async def tee(shell: NodeShell, args: list[str], proc: Proc) -> int:
    flags, _values, paths = parse_flags(args)
    text = await proc.stdin.read()
    status = 0
    for path in paths:
        try:
            shell.state.write(path, text, root=proc.root, append="-a" in flags or "--append" in flags)
        except FsError as exc:
            await proc.err.line(f"tee: {path}: {exc}")
            status = 1
    await proc.out.emit(text)
    return status


@command("grep")
async def grep(shell: NodeShell, args: list[str], proc: Proc) -> int:
    flags, values, operands = parse_flags(args, with_value=("-e",))
    if "-e" in values:
        operands.insert(0, values["-e"])
    if not operands:
        await proc.err.line("Usage: grep [OPTION]... PATTERNS [FILE]...")
        return 2
    pattern, paths = operands[0], operands[1:]
    if "-F" in flags:
        regex = re.escape(pattern)
    else:
        regex = pattern if "-E" in flags else _bre_to_python(pattern)
    if "-w" in flags:
        regex = rf"(?<![\w])(?:{regex})(?![\w])"
    if "-x" in flags:
        regex = rf"(?:{regex})\Z"
    compiled = re.compile(regex, re.IGNORECASE if "-i" in flags else 0)
    search = compiled.match if "-x" in flags else compiled.search
    sources: list[tuple[str, str]] = []
    status_error = False
    if not paths:
        sources.append(("(standard input)", await proc.stdin.read()))
    for path in paths:
        try:
            sources.append((path, shell.state.read(path, root=proc.root)))
        except FsError as exc:
            if "-s" not in flags:
                await proc.err.line(f"grep: {path}: {exc}")
            status_error = True
    selected = [
        line
        for _name, text in sources
        for line in text.splitlines()
        if (search(line) is not None) != ("-v" in flags)
    ]
    if "-q" in flags:
        return 0 if selected else (2 if status_error else 1)
    if "-c" in flags:
        await proc.out.line(str(len(selected)))
    else:
        for line in selected:
            await proc.out.line(line)
    return 2 if status_error else (0 if selected else 1)


@command("sed")
async def sed(shell: NodeShell, args: list[str], proc: Proc) -> int:
    flags, values, operands = parse_flags(args, with_value=("-e",))
    script = values.get("-e") or (operands.pop(0) if operands else "")
    try:
        substitution = _SedSubstitution.parse(script, extended="-E" in flags or "-r" in flags)
    except (ValueError, re.error) as exc:
        await proc.err.line(f"sed: -e expression #1, char 1: {exc}")
        return 1
    in_place = "-i" in flags or "--in-place" in flags
    if not operands:
        await proc.out.emit(substitution.apply(await proc.stdin.read()))
        return 0
    for path in operands:
        try:
            text = shell.state.read(path, root=proc.root)
        except FsError as exc:
            await proc.err.line(f"sed: can't read {path}: {exc}")
            return 2
        if not in_place:
            await proc.out.emit(substitution.apply(text))
        elif not shell.state.can_write(path, proc.root):
            await proc.err.line(f"sed: couldn't open temporary file {posixpath.dirname(path)}/sedAbC123: Permission denied")
            return 4
        else:
            shell.state.write(path, substitution.apply(text), root=proc.root)
    return 0


@command("test", "[")
async def test_expression(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if args and args[-1] == "]":
        args = args[:-1]
    negate = bool(args) and args[0] == "!"
    args = args[1:] if negate else args
    if len(args) == 2 and args[0] in ("-e", "-f", "-x", "-s", "-d", "-r"):
        op, path = args
        checks = {
            "-e": lambda: shell.state.exists(path) or shell.state.is_dir(path),
            "-f": lambda: shell.state.exists(path),
            "-d": lambda: shell.state.is_dir(path),
            "-x": lambda: path in shell.state.files and bool(shell.state.mode(path) & 0o111),
            "-s": lambda: bool(shell.state.files.get(path)),
            "-r": lambda: shell.state.exists(path) and shell.state.can_read(path, proc.root),
        }
        result = checks[op]()
    elif len(args) == 3 and args[1] in ("=", "!="):
        result = (args[0] == args[2]) == (args[1] == "=")
    elif len(args) == 2 and args[0] in ("-n", "-z"):
        result = bool(args[1]) == (args[0] == "-n")
    else:
        result = bool(args and args[0])
    return 0 if result != negate else 1


@command("mkdir")
async def mkdir(shell: NodeShell, args: list[str], proc: Proc) -> int:
    _flags, _values, paths = parse_flags(args, with_value=("-m",))
    for path in paths:
        if not shell.state.can_write(posixpath.join(path, ".probe"), proc.root):
            await proc.err.line(f"mkdir: cannot create directory '{path}': Permission denied")
            return 1
    return 0


@command("rm")
async def rm(shell: NodeShell, args: list[str], proc: Proc) -> int:
    flags, _values, paths = parse_flags(args)
    status = 0
    for path in paths:
        try:
            shell.state.remove(path, root=proc.root)
        except FsError as exc:
            if "-f" not in flags or "No such" not in str(exc):
                await proc.err.line(f"rm: cannot remove '{path}': {exc}")
                status = 1
    return status


async def _copy(shell: NodeShell, tool: str, source: str, target: str, proc: Proc, mode: int | None) -> int:
    try:
        content = shell.state.read(source, root=proc.root)
        keep_mode = shell.state.mode(source) if mode is None else mode
        shell.state.write(target, content, root=proc.root, mode=keep_mode)
    except FsError as exc:
        await proc.err.line(f"{tool}: cannot copy '{source}' to '{target}': {exc}")
        return 1
    return 0


@command("cp")
async def cp(shell: NodeShell, args: list[str], proc: Proc) -> int:
    _flags, _values, operands = parse_flags(args)
    if len(operands) != 2:
        await proc.err.line("cp: missing destination file operand")
        return 1
    return await _copy(shell, "cp", operands[0], operands[1], proc, None)


@command("install")
async def install(shell: NodeShell, args: list[str], proc: Proc) -> int:
    _flags, values, operands = parse_flags(args, with_value=("-m", "-o", "-g"))
    if len(operands) != 2:
        await proc.err.line("install: missing destination file operand")
        return 1
    return await _copy(shell, "install", operands[0], operands[1], proc, int(values.get("-m", "755"), 8))


@command("mv")
async def mv(shell: NodeShell, args: list[str], proc: Proc) -> int:
    _flags, _values, operands = parse_flags(args)
    status = await _copy(shell, "mv", operands[0], operands[1], proc, None) if len(operands) == 2 else 1
    if status == 0:
        shell.state.remove(operands[0], root=True)
    return status


@command("chmod")
async def chmod(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if len(args) < 2:
        await proc.err.line("chmod: missing operand")
        return 1
    spec, paths = args[0], args[1:]
    for path in paths:
        if path not in shell.state.files:
            await proc.err.line(f"chmod: cannot access '{path}': No such file or directory")
            return 1
        if not (proc.root or shell.state.owner(path) == shell.state.user):
            await proc.err.line(f"chmod: changing permissions of '{path}': Operation not permitted")
            return 1
        current = shell.state.mode(path)
        if spec.isdigit():
            shell.state.modes[path] = int(spec, 8)
        elif spec.endswith("+x"):
            shell.state.modes[path] = current | 0o111
        elif spec.endswith("-x"):
            shell.state.modes[path] = current & ~0o111
        else:
            await proc.err.line(f"chmod: invalid mode: '{spec}'")
            return 1
    return 0


def _bre_to_python(pattern: str) -> str:
    r"""Translate a POSIX basic regular expression (`\(x\)`, `a\+`) to Python syntax."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "(){}+?|" else char + nxt)
            i += 2
            continue
        out.append("\\" + char if char in "(){}+?|" else char)
        i += 1
    return "".join(out)


def _split_unescaped(text: str, delimiter: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2] if text[i + 1] != delimiter else delimiter)
            i += 2
        elif text[i] == delimiter:
            parts.append("".join(current))
            current = []
            i += 1
        else:
            current.append(text[i])
            i += 1
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class _SedSubstitution:
    """One `[address] s/pattern/replacement/flags` or `[address] d` sed command."""

    address: str  # "", "$", a line number, or a regex
    pattern: re.Pattern[str]
    replacement: str
    count: int  # 0 = all (g flag)
    delete: bool = False  # `d`: the addressed lines go

    @classmethod
    def parse(cls, script: str, extended: bool) -> _SedSubstitution:
        script = script.strip()
        address = ""
        if script.startswith("/"):
            end = script.index("/", 1)
            while script[end - 1] == "\\":
                end = script.index("/", end + 1)
            address, script = script[1:end], script[end + 1 :].lstrip()
            address = "/" + (address if extended else _bre_to_python(address))
        else:
            match = re.match(r"^(\$|\d+)?\s*", script)
            address, script = match.group(1) or "", script[match.end() :]
        if script == "d":
            return cls(address=address, pattern=re.compile(""), replacement="", count=1, delete=True)
        if not script.startswith("s") or len(script) < 2:
            raise ValueError("only the s and d commands are supported")
        parts = _split_unescaped(script[2:], script[1])
        if len(parts) != 3:
            raise ValueError("unterminated `s' command")
        pattern, replacement, flags = parts
        if not extended:
            pattern = _bre_to_python(pattern)
        replacement = re.sub(r"\\(\d)", r"\\g<\1>", replacement.replace("\\&", "\0")).replace("&", r"\g<0>")
        return cls(
            address=address,
            pattern=re.compile(pattern, re.IGNORECASE if "I" in flags else 0),
            replacement=replacement.replace("\0", "&"),
            count=0 if "g" in flags else 1,
        )

    def apply(self, text: str) -> str:
        lines = text.splitlines(keepends=True)
        for number, line in enumerate(lines, start=1):
            body, newline = (line[:-1], "\n") if line.endswith("\n") else (line, "")
            if self._addressed(body, number, len(lines)):
                lines[number - 1] = "" if self.delete else self.pattern.sub(self.replacement, body,
                                                                            count=self.count) + newline
        return "".join(lines)

    def _addressed(self, body: str, number: int, last: int) -> bool:
        if not self.address:
            return True
        if self.address == "$":
            return number == last
        if self.address.startswith("/"):
            return re.search(self.address[1:], body) is not None
        return number == int(self.address)
