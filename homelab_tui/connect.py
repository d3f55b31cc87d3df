"""Clients built from the config: the one place that maps config sections to connections.

Each function imports its client module when called: the client libraries (kubernetes-asyncio,
asyncssh, aiohttp, dnspython, librouteros) take longer to import than the rest of the app, and
a caller should pay only for the clients it uses.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .config import (SECRET_COMMAND_TIMEOUT, Config, ConfigIssue, NodeConfig, cloudflare_token, key_line,
                     router_password)

if TYPE_CHECKING:
    from .clients.cloudflare import CloudflareClient
    from .clients.dns import DnsClient
    from .clients.kube import KubeClient
    from .clients.router import RouterClient
    from .clients.ssh import SshTarget


def ssh_target(config: Config, node: NodeConfig, *, timeout: float | None = None) -> SshTarget:
    """Where and how to reach `node`; `timeout` caps ssh.connect_timeout (check's --timeout)."""
    from .clients.ssh import SshTarget

    ssh = config.ssh
    identity = config.resolve_path(ssh.identity_file)
    ssh_config = config.resolve_path(ssh.config_file) if ssh.config_file else None
    return SshTarget(
        host=node.ssh_host or node.address,
        port=node.ssh_port or ssh.port,
        user=ssh.user,
        identity_file=str(identity) if identity else None,
        known_hosts=str(config.resolve_path(ssh.known_hosts)),
        use_agent=ssh.use_agent,
        config_path=str(ssh_config) if ssh_config else None,
        connect_timeout=min(ssh.connect_timeout, timeout or ssh.connect_timeout),
        name=node.name,
    )


def local_file_issues(config: Config, *, keys: bool = True) -> list[ConfigIssue]:
    """The local files the SSH settings name, each checked now, so a missing or wrong one is a
    config error naming its key and path (and not `master1: No such file or directory` later).
    `keys`: also parse the identity file as a private key, which imports asyncssh (~0.2 s): worth
    it before SSH is used, not before the TUI's first frame."""
    ssh = config.ssh
    issues: list[ConfigIssue] = []

    def issue(key: str, value: str, path: Path, message: str) -> None:
        shown = value if value == str(path) else f"{value} ({path})"
        issues.append(ConfigIssue(key, f"{shown}: {message}", key_line(config, key)))

    for key, value, required in (("ssh.identity_file", ssh.identity_file, True),
                                 ("ssh.config_file", ssh.config_file or None, False),
                                 ("ssh.known_hosts", ssh.known_hosts, False)):
        path = config.resolve_path(value)
        if value is None or path is None:
            continue
        if not path.exists():
            if required:
                issue(key, value, path, "not found; expected your SSH private key (or remove ssh.identity_file "
                                        "to use the ssh-agent's keys)")
        elif path.is_dir():
            issue(key, value, path, "is a directory; expected a file")
        elif not path.is_file():
            issue(key, value, path, "is not a regular file; expected a file")
        elif not os.access(path, os.R_OK):
            issue(key, value, path, "cannot be read (permission denied)")
        elif keys and key == "ssh.identity_file" and (problem := _private_key_problem(path)):
            issue(key, value, path, problem)
    return issues


def _private_key_problem(path: Path) -> str | None:
    import asyncssh

    try:
        asyncssh.read_private_key(str(path))
    except asyncssh.KeyImportError as exc:
        if "passphrase" in str(exc).lower():
            return None  # an encrypted key: asyncssh or the agent will ask for it
        return f"is not a private key ({exc}); expected e.g. ~/.ssh/id_ed25519, not the .pub file"
    except (OSError, ValueError) as exc:
        return f"cannot be read as a private key ({exc})"
    return None


def kube_client(config: Config, **options) -> KubeClient:
    """A client for the configured cluster: its kubeconfig and `cluster.kube_context`."""
    from .clients.kube import KubeClient

    return KubeClient(config.resolve_path(config.cluster.kubeconfig), context=config.cluster.kube_context, **options)


async def router_client(config: Config, *, timeout: float | None = None) -> RouterClient:
    """A client for the configured router. The password is read now, off the event loop (a
    password_command may take its time, and is killed after `timeout`); SecretError if it cannot
    be had. `timeout` also bounds the connection (default 10 s)."""
    router = config.router
    if router is None:
        raise ValueError("no [router] section in the config")
    password = await asyncio.to_thread(router_password, router, timeout or SECRET_COMMAND_TIMEOUT)
    from .clients.router import RouterClient

    return RouterClient(router.host, router.port, router.user, password, tls=router.tls, timeout=timeout or 10.0)


def dns_client(config: Config) -> DnsClient:
    from .clients.dns import DnsClient

    dns = config.dns
    if dns is None:
        raise ValueError("no [dns] section in the config")
    return DnsClient(dns.nameservers, port=dns.port, timeout=dns.timeout, lifetime=dns.timeout * 2)


async def cloudflare_client(config: Config, *, timeout: float | None = None) -> CloudflareClient:
    """A client for the configured Cloudflare zone; the token is read off the event loop (a
    token_command is killed after `timeout`)."""
    if config.dns is None or config.dns.cloudflare is None:
        raise ValueError("no [dns.cloudflare] section in the config")
    cloudflare = config.dns.cloudflare
    token = await asyncio.to_thread(cloudflare_token, cloudflare, timeout or SECRET_COMMAND_TIMEOUT)
    from .clients.cloudflare import CloudflareClient

    return CloudflareClient(token, base_url=cloudflare.api_url)
