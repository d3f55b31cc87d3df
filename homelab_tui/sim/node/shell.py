"""The simulated node's shell: runs command lines against the node's state, as `sh` (dash) on
that node would.

Shell subset: words are split with `shlex` (quotes, no `$` expansion, no subshells); `;`, `&&`,
`||`, `|`; `NAME=value` prefixes; redirections `>`, `>>`, `<`, `2>&1`, `>/dev/null`. Scripts
(`sh -c`, `sh file`, `sh -` from stdin) run line by line. A script that contains
`INSTALL_K3S_` is treated as the k3s install script, wherever it came from (curl or an upload).
Like dash, a pipeline's status is its last command's: when curl fails, `curl ... | sh -` runs an
empty script and exits 0, so plans must confirm an install with `systemctl is-active`. Commands
come from the registry of `homelab_tui.sim.node.commands`; a tool that an installer provides
(k3s, kubectl, kubeadm, ...) is found only once its file is in a PATH directory.
"""

from __future__ import annotations

import dataclasses
import posixpath
from typing import TYPE_CHECKING

from .commands import COMMANDS
from .commands.kubernetes import INSTALLER_MARKER, k3s_install
from .parser import ASSIGNMENT, REDIRECTS, ShellSyntaxError, parse_command_line
from .proc import Input, Proc, Sink, discard
from .state import PATH_DIRS, FsError, SimNodeState

if TYPE_CHECKING:
    from ..ssh_nodes import SshNodeSim

# Tools that exist only once something installed them (a file in one of PATH_DIRS).
INSTALLED_TOOLS = frozenset(
    {"k3s", "kubectl", "kubeadm", "kubelet", "crictl", "k3s-uninstall.sh", "k3s-agent-uninstall.sh", "k3s-killall.sh",
     "containerd"}
)


class NodeShell:
    """Runs command lines against one node's state, as `sh` on that node would. Commands reach
    the node through `state` and the SSH sim (`sim`: its cluster hooks, delays and reboot)."""

    def __init__(self, sim: SshNodeSim) -> None:
        self.sim = sim

    @property
    def state(self) -> SimNodeState:
        return self.sim.state

    async def run_line(self, line: str, proc: Proc) -> int:
        try:
            chain = parse_command_line(line)
        except ShellSyntaxError as exc:
            await proc.err.line(f"sh: 1: Syntax error: {exc}")
            return 2
        status = 0
        for connector, pipeline in chain:
            if (connector == "&&" and status != 0) or (connector == "||" and status == 0):
                continue
            status = await self._run_pipeline(pipeline, proc)
            if self.sim.rebooting:
                break
        return status

    async def run_script(self, text: str, proc: Proc) -> int:
        status = 0
        for line in text.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                status = await self.run_line(line, proc)
                if self.sim.rebooting:
                    break
        return status

    async def _run_pipeline(self, pipeline: list[list[str]], proc: Proc) -> int:
        stdin, status = proc.stdin, 0
        for index, words in enumerate(pipeline):
            last = index == len(pipeline) - 1
            out = proc.out if last else Sink()
            status = await self._run_simple(words, dataclasses.replace(proc, stdin=stdin, out=out))
            stdin = Input(out.text())
        return status

    async def _run_simple(self, words: list[str], proc: Proc) -> int:
        argv: list[str] = []
        files_out: list[tuple[str, Sink, bool]] = []
        out, err, stdin = proc.out, proc.err, proc.stdin
        i = 0
        while i < len(words):
            word = words[i]
            if word in REDIRECTS:
                fd = 2 if argv and argv[-1] == "2" and word != "<" else (0 if word == "<" else 1)
                if fd == 2:
                    argv.pop()
                if i + 1 >= len(words):
                    await proc.err.line("sh: 1: Syntax error: newline unexpected")
                    return 2
                target = words[i + 1]
                i += 2
                if word == ">&":
                    sink = out if target == "1" else err
                elif word == "<":
                    try:
                        stdin = Input(self.state.read(target, root=proc.root))
                    except FsError as exc:
                        await proc.err.line(f"sh: 1: cannot open {target}: {exc}")
                        return 2
                    continue
                elif target == "/dev/null":
                    sink = discard()
                elif not self.state.can_write(target, proc.root):
                    await proc.err.line(f"sh: 1: cannot create {target}: Permission denied")
                    return 2
                else:
                    sink = Sink()
                    files_out.append((target, sink, word == ">>"))
                if word == "&>":
                    out = err = sink
                elif fd == 2:
                    err = sink
                else:
                    out = sink
                continue
            argv.append(word)
            i += 1
        assignments: dict[str, str] = {}
        while argv and ASSIGNMENT.match(argv[0]):
            name, _, value = argv.pop(0).partition("=")
            assignments[name] = value
        if not argv:
            return 0
        env = {**proc.env, **assignments}
        status = await self.execute(argv, Proc(proc.root, env, stdin, out, err))
        for path, sink, append in files_out:
            self.state.write(path, sink.text(), root=proc.root, append=append)
        return status

    async def execute(self, argv: list[str], proc: Proc) -> int:
        """Run one command (already split into words) and return its exit status."""
        name = argv[0]
        if "/" in name:
            directory, base = posixpath.split(name)
            if directory in PATH_DIRS and base in COMMANDS and self.state.exists(name):
                return await COMMANDS[base](self, argv[1:], proc)
            return await self._run_file(name, argv[1:], proc)
        command = COMMANDS.get(name)
        if command is None or (name in INSTALLED_TOOLS and self.state.which(name) is None):
            await proc.err.line(f"sh: 1: {name}: not found")
            return 127
        return await command(self, argv[1:], proc)

    async def _run_file(self, path: str, args: list[str], proc: Proc) -> int:
        if not self.state.exists(path):
            await proc.err.line(f"sh: 1: {path}: not found")
            return 127
        if not self.state.mode(path) & 0o111 or not self.state.can_read(path, proc.root):
            await proc.err.line(f"sh: 1: {path}: Permission denied")
            return 126
        return await self.run_script_text(self.state.read(path, root=True), args, proc)

    async def run_script_text(self, text: str, args: list[str], proc: Proc) -> int:
        if INSTALLER_MARKER in text:
            return await k3s_install(self, args, proc)
        return await self.run_script(text, proc)
