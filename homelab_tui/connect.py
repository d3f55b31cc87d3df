"""Clients built from the config: the one place that maps config sections to connections."""

from __future__ import annotations

from .clients.cloudflare import CloudflareClient
from .clients.dns import DnsClient
from .clients.kube import KubeClient
from .clients.router import RouterClient
from .clients.ssh import SshTarget
from .config import Config, NodeConfig, cloudflare_token, router_password


def ssh_target(config: Config, node: NodeConfig) -> SshTarget:
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
    return KubeClient(config.resolve_path(config.cluster.kubeconfig), context=config.cluster.context, **options)


def router_client(config: Config) -> RouterClient:
    """A client for the configured router (reads the password now; raises SecretError if absent)."""
    router = config.router
    if router is None:
        raise ValueError("no [router] section in the config")
    return RouterClient(router.host, router.port, router.user, router_password(router), tls=router.tls)


def dns_client(config: Config) -> DnsClient:
    dns = config.dns
    if dns is None:
        raise ValueError("no [dns] section in the config")
    return DnsClient(dns.nameservers, port=dns.port, timeout=dns.timeout, lifetime=dns.timeout * 2)


def cloudflare_client(config: Config) -> CloudflareClient:
    if config.dns is None or config.dns.cloudflare is None:
        raise ValueError("no [dns.cloudflare] section in the config")
    cloudflare = config.dns.cloudflare
    return CloudflareClient(cloudflare_token(cloudflare), base_url=cloudflare.api_url)
