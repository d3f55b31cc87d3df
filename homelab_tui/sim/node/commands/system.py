"""System commands of the simulated node: who and what it is (hostname, hostnamectl, uname, id,
whoami), swap, privileges and scripts (sudo with its password prompt, sh/bash -c, `sh -` and
`sh file`), and systemd (systemctl, reboot, shutdown -r)."""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
import secrets
from typing import TYPE_CHECKING

from ..parser import ASSIGNMENT
from ..proc import Proc, need_root
from ..state import PATH_DIRS, FsError, os_pretty_name
from .kubernetes import k3s_service_started
from .packages import CONTAINER_RUNTIMES
from .registry import command

if TYPE_CHECKING:
    from ..shell import NodeShell


@command("hostname")
async def hostname(shell: NodeShell, args: list[str], proc: Proc) -> int:
    await proc.out.line(shell.state.address if args[:1] == ["-I"] else shell.state.hostname)
    return 0


@command("hostnamectl")
async def hostnamectl(shell: NodeShell, args: list[str], proc: Proc) -> int:
    words = [a for a in args if not a.startswith("-")]
    if "--static" in args or words == ["hostname"]:
        await proc.out.line(shell.state.hostname)
        return 0
    if words[:1] in (["set-hostname"], ["hostname"]) and len(words) == 2:
        if not await need_root(proc, "Could not set static hostname: Access denied"):
            return 1
        shell.state.hostname = words[1]
        return 0
    if words and words != ["status"]:
        await proc.err.line(f'Unknown command verb "{words[0]}".')
        return 1
    pretty = os_pretty_name(shell.state.os_release)
    machine_id = hashlib.md5(shell.state.name.encode()).hexdigest()
    for label, value in (
        ("Static hostname", shell.state.hostname),
        ("Icon name", "computer"),
        ("Machine ID", machine_id),
        ("Boot ID", shell.state.boot_id.replace("-", "")),
        ("Operating System", pretty),
        ("Kernel", f"Linux {shell.state.kernel}"),
        ("Architecture", _deb_arch(shell.state.arch)),
    ):
        await proc.out.line(f"{label:>16}: {value}")
    return 0


@command("uname")
async def uname(shell: NodeShell, args: list[str], proc: Proc) -> int:
    s = shell.state
    parts = {
        "-s": "Linux",
        "-n": s.hostname,
        "-r": s.kernel,
        "-v": "#13-Ubuntu SMP PREEMPT_DYNAMIC Mon Aug 12 20:53:05 UTC 2024",
        "-m": s.arch,
    }
    if "-a" in args:
        await proc.out.line(" ".join([*parts.values(), s.arch, s.arch, "GNU/Linux"]))
        return 0
    flags = [f"-{c}" for a in args for c in a.lstrip("-")] or ["-s"]
    await proc.out.line(" ".join(parts[f] for f in parts if f in flags))
    return 0


@command("id")
async def user_id(shell: NodeShell, args: list[str], proc: Proc) -> int:
    uid, user = (0, "root") if proc.root else (1000, shell.state.user)
    if "-u" in args or "-un" in args or "-nu" in args:
        await proc.out.line(user if "n" in "".join(args) else str(uid))
    else:
        await proc.out.line(f"uid={uid}({user}) gid={uid}({user}) groups={uid}({user}),4(adm),27(sudo)")
    return 0


@command("whoami")
async def whoami(shell: NodeShell, args: list[str], proc: Proc) -> int:
    await proc.out.line("root" if proc.root else shell.state.user)
    return 0


@command("swapoff")
async def swapoff(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if not await need_root(proc, "swapoff: Not superuser."):
        return 1
    shell.state.swap_on = False
    return 0


@command("swapon")
async def swapon(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if "--show" in args and shell.state.swap_on:
        await proc.out.line("NAME      TYPE SIZE USED PRIO")
        await proc.out.line("/swapfile file   1G   0B   -2")
    elif "-a" in args:
        if not await need_root(proc, "swapon: Not superuser."):
            return 1
        shell.state.swap_on = shell.state.swap_in_fstab
    return 0


@command("sudo")
async def sudo(shell: NodeShell, args: list[str], proc: Proc) -> int:
    non_interactive = read_stdin = preserve_env = False
    prompt = f"[sudo] password for {shell.state.user}: "
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        if arg in ("-p", "--prompt"):
            prompt, i = (args[i] if i < len(args) else ""), i + 1
            continue
        for char in arg[1:]:
            if char not in "nSEHk":  # -k: ignore cached credentials (always ask)
                await proc.err.line(f"sudo: invalid option -- '{char}'")
                return 1
            non_interactive |= char == "n"
            read_stdin |= char == "S"
            preserve_env |= char == "E"
    assignments = {}
    while i < len(args) and ASSIGNMENT.match(args[i]):
        name, _, value = args[i].partition("=")
        assignments[name] = value
        i += 1
    if i >= len(args):
        await proc.err.line("usage: sudo -h | -K | -k | -V")
        return 1
    if not proc.root and shell.state.sudo_password is not None:
        if not await _sudo_authenticate(shell, proc, non_interactive, read_stdin, prompt):
            return 1
    base_env = dict(proc.env) if preserve_env else {"HOME": "/root", "USER": "root", "LOGNAME": "root"}
    env = {**base_env, "PATH": ":".join(PATH_DIRS), **assignments}
    return await shell.execute(args[i:], dataclasses.replace(proc, root=True, env=env))


async def _sudo_authenticate(shell: NodeShell, proc: Proc, non_interactive: bool, read_stdin: bool, prompt: str) -> bool:
    if non_interactive:
        await proc.err.line("sudo: a password is required")
        return False
    if not read_stdin:
        await proc.err.line(
            "sudo: a terminal is required to read the password; either use the -S option to read "
            "from standard input or configure an askpass helper"
        )
        await proc.err.line("sudo: a password is required")
        return False
    for attempt in range(3):
        if prompt:
            await proc.err.emit(prompt)
        line = await proc.stdin.readline()
        if not line:
            await proc.err.line(
                "sudo: no password was provided" if attempt == 0 else f"sudo: {attempt} incorrect password attempt"
            )
            return False
        if secrets.compare_digest(line.rstrip("\n").encode(), shell.state.sudo_password.encode()):
            return True
        await proc.err.line("Sorry, try again.")
    await proc.err.line("sudo: 3 incorrect password attempts")
    return False


@command("sh", "bash")
async def sh(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if args[:1] == ["-c"]:
        if len(args) < 2:
            await proc.err.line("sh: 0: -c requires an argument")
            return 2
        return await shell.run_script(args[1], proc)
    if not args or args[0] in ("-", "-s"):
        positional = args[1:]
        if args[:1] == ["-s"] and positional[:1] in (["-"], ["--"]):
            positional = positional[1:]
        return await shell.run_script_text(await proc.stdin.read(), positional, proc)
    path = posixpath.join(shell.state.home, args[0])  # relative to the login directory, as after ssh
    try:
        text = shell.state.read(path, root=proc.root)
    except FsError:
        await proc.err.line(f"sh: 0: cannot open {path}: No such file")
        return 2
    return await shell.run_script_text(text, args[1:], proc)


def _unit_exists(shell: NodeShell, unit: str) -> bool:
    s = shell.state
    return unit in ("ssh", "cron", "systemd-timesyncd") or {
        "k3s": s.installed == "k3s-server",
        "k3s-agent": s.installed == "k3s-agent",
        "kubelet": "kubelet" in s.packages,
        "containerd": bool(s.packages & CONTAINER_RUNTIMES),
    }.get(unit, False)


@command("systemctl")
async def systemctl(shell: NodeShell, args: list[str], proc: Proc) -> int:
    words = [a for a in args if not a.startswith("-")]
    verb = words[0] if words else "list-units"
    units = [w.removesuffix(".service") for w in words[1:]]
    active = shell.state.services | {"ssh", "cron", "systemd-timesyncd"}
    enabled = shell.state.enabled_services | {"ssh", "cron", "systemd-timesyncd"}
    if verb == "is-active":
        for unit in units:
            await proc.out.line("active" if unit in active else "inactive")
        return 0 if all(u in active for u in units) else 3
    if verb == "is-enabled":
        for unit in units:
            await proc.out.line("enabled" if unit in enabled else "disabled")
        return 0 if all(u in enabled for u in units) else 1
    if verb == "reboot":
        return await reboot(shell, [], proc)
    if verb == "daemon-reload":
        return 0 if await need_root(proc, "Failed to reload daemon: Interactive authentication required.") else 1
    if verb not in ("start", "stop", "restart", "enable", "disable", "status"):
        await proc.err.line(f'Unknown command verb "{verb}".')
        return 1
    for unit in units:
        if not _unit_exists(shell, unit):
            await proc.err.line(f"Unit {unit}.service could not be found." if verb == "status" else f"Failed to {verb} {unit}.service: Unit {unit}.service not found.")
            return 4 if verb == "status" else 5
        if verb == "status":
            state = "active (running)" if unit in active else "inactive (dead)"
            await proc.out.line(f"● {unit}.service\n     Loaded: loaded (/etc/systemd/system/{unit}.service; "
                                f"{'enabled' if unit in enabled else 'disabled'})\n     Active: {state}")
            continue
        if not await need_root(proc, f"Failed to {verb} {unit}.service: Interactive authentication required."):
            return 1
        if verb in ("start", "restart") or (verb == "enable" and "--now" in args):
            shell.state.services.add(unit)
            await k3s_service_started(shell, unit)
        if verb == "stop" or (verb == "disable" and "--now" in args):
            shell.state.services.discard(unit)
        if verb == "enable":
            shell.state.enabled_services.add(unit)
        if verb == "disable":
            shell.state.enabled_services.discard(unit)
    return 0 if verb != "status" or all(u in active for u in units) else 3


@command("reboot")
async def reboot(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if not await need_root(proc, "Call to Reboot failed: Interactive authentication required."):
        return 1
    shell.sim.begin_reboot()
    return 0


@command("shutdown")
async def shutdown(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if "-r" not in args:
        await proc.err.line("the simulated node only supports `shutdown -r now`")
        return 1
    return await reboot(shell, args, proc)


def _deb_arch(arch: str) -> str:
    return {"aarch64": "arm64", "x86_64": "x86-64", "armv7l": "arm"}.get(arch, arch)
