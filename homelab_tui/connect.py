"""Clients built from the config: the one place that maps config sections to connections.

Each function imports its client module when called: the client libraries (kubernetes-asyncio,
asyncssh, aiohttp, dnspython, librouteros) take longer to import than the rest of the app, and
a caller should pay only for the clients it uses.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .config import Config, NodeConfig, cloudflare_token, router_password

if TYPE_CHECKING:
    from .clients.cloudflare import CloudflareClient
    from .clients.dns import DnsClient
    from .clients.kube import KubeClient
    from .clients.router import RouterClient
    from .clients.ssh import SshTarget


def ssh_target(config: Config, node: NodeConfig) -> SshTarget:
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
        connect_timeout=ssh.connect_timeout,
        name=node.name,
    )


def kube_client(config: Config, **options) -> KubeClient:
    """A client for the configured cluster: its kubeconfig and `cluster.kube_context`."""
    from .clients.kube import KubeClient

    return KubeClient(config.resolve_path(config.cluster.kubeconfig), context=config.cluster.kube_context, **options)


async def router_client(config: Config) -> RouterClient:
    """A client for the configured router. The password is read now, off the event loop (a
    password_command may take its time); SecretError if it cannot be had."""
    router = config.router
    if router is None:
        raise ValueError("no [router] section in the config")
    password = await asyncio.to_thread(router_password, router)
    from .clients.router import RouterClient

    return RouterClient(router.host, router.port, router.user, password, tls=router.tls)


def dns_client(config: Config) -> DnsClient:
    from .clients.dns import DnsClient

    dns = config.dns
    if dns is None:
        raise ValueError("no [dns] section in the config")
    return DnsClient(dns.nameservers, port=dns.port, timeout=dns.timeout, lifetime=dns.timeout * 2)


async def cloudflare_client(config: Config) -> CloudflareClient:
    """A client for the configured Cloudflare zone; the token is read off the event loop."""
    if config.dns is None or config.dns.cloudflare is None:
        raise ValueError("no [dns.cloudflare] section in the config")
    cloudflare = config.dns.cloudflare
    token = await asyncio.to_thread(cloudflare_token, cloudflare)
    from .clients.cloudflare import CloudflareClient

    return CloudflareClient(token, base_url=cloudflare.api_url)
