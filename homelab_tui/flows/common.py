"""What the flows share: config nodes as the plans see them, and answers that come from the config."""

from __future__ import annotations

import ipaddress

from ..config import Config, NodeConfig
from ..plans import PlanError
from ..plans.nodes import NodeSpec


def config_node(config: Config, name: str, flag: str = "--node") -> NodeConfig:
    try:
        return config.node(name)
    except KeyError as exc:
        raise PlanError(flag, exc.args[0]) from None


def server_options(config: Config, in_cluster: frozenset[str]) -> list[tuple[str, str, bool]]:
    """The config's server nodes to choose from, the first chosen."""
    return [(n.name, n.name, i == 0) for i, n in enumerate(n for n in config.nodes if n.role == "server")]


def spec(node: NodeConfig) -> NodeSpec:
    return NodeSpec(node.name, node.address, node.fqdn, tuple(sorted(node.labels.items())))


def api_host(node: NodeConfig) -> str:
    """Where this machine reaches the API: the node's address, or its SSH host when that is a
    loopback tunnel (or the simulated lab)."""
    try:
        loopback = node.ssh_host is not None and ipaddress.ip_address(node.ssh_host).is_loopback
    except ValueError:
        loopback = False
    return node.ssh_host if loopback else node.address


def install_script(config: Config, distribution: str) -> str:
    """The k3s install script: a URL, or a local file (checked now, not when the upload fails)."""
    script = config.cluster.install_script
    if "://" in script or distribution != "k3s":
        return script
    path = config.resolve_path(script)
    if not path.is_file():
        raise PlanError("cluster.install_script", f"expected a URL or a local file, and {path} is not a file")
    return str(path)
