"""What the SSH node sim tells the Kubernetes side (`SimCluster`, which the lab implements), a
stand-in that only records what happened, the admin kubeconfigs k3s and kubeadm write, and
kubeadm's join credentials derived from the cluster token."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any, Protocol

import yaml

from .state import SimNodeState


class SimCluster(Protocol):
    """What the SSH sim tells the Kubernetes sim. The lab implements this."""

    def server_installed(self, node: SimNodeState, distribution: str, options: dict[str, Any]) -> str:
        """A control plane came up on `node`; return the admin kubeconfig YAML to store on it."""

    def server_restarted(self, node: SimNodeState, distribution: str, options: dict[str, Any]) -> None:
        """The control plane on `node` started again with `options` (k3s rereads its flags and
        config.yaml: `disable: [servicelb]` turns ServiceLB off)."""

    def node_joined(self, node: SimNodeState, role: str, server_url: str) -> None:
        """`node` joined the cluster at `server_url` (k3s agent or `kubeadm join`)."""

    def node_left(self, node: SimNodeState, was_server: bool) -> None:
        """Kubernetes was uninstalled from `node` (a k3s uninstall script, `kubeadm reset`)."""

    def join_token(self) -> str:
        """The k3s node token; kubeadm's token and CA hash are derived from it."""

    def manifest_applied(self, node: SimNodeState, source: str, manifest: str) -> None:
        """`kubectl apply -f source` ran on `node` (e.g. the flannel CNI)."""

    def connect(self, node: SimNodeState, address: str, port: int) -> str:
        """A TCP connection from `node` to `address:port` on the LAN (its own address for
        127.0.0.1): "answers", "refused" or "timeout"."""


def render_kubeconfig(server_url: str, *, cluster: str = "default", user: str = "default") -> str:
    """An admin kubeconfig like k3s (`default`) or kubeadm (`kubernetes`/`kubernetes-admin`) writes."""
    context = "default" if cluster == "default" else f"{user}@{cluster}"
    fake_pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nsimulated\n-----END CERTIFICATE-----\n").decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server_url, "certificate-authority-data": fake_pem}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context,
        "preferences": {},
        "users": [{"name": user, "user": {"client-certificate-data": fake_pem, "client-key-data": fake_pem}}],
    }
    return yaml.safe_dump(config, sort_keys=False)


class InMemoryCluster:
    """A stand-in `SimCluster` that only records what happened (tests of this module, demos)."""

    def __init__(self, token: str | None = None) -> None:
        self._token = token or f"K10{secrets.token_hex(32)}::server:{secrets.token_hex(16)}"
        self.servers: list[tuple[str, str, dict[str, Any]]] = []  # (hostname, distribution, options)
        self.joined: list[tuple[str, str, str]] = []  # (hostname, role, server_url)
        self.manifests: list[tuple[str, str]] = []  # (hostname, source)
        self.restarts: list[tuple[str, str, dict[str, Any]]] = []  # (hostname, distribution, options)
        self.left: list[tuple[str, bool]] = []  # (hostname, was a server)

    def __repr__(self) -> str:
        return f"InMemoryCluster(servers={len(self.servers)}, joined={len(self.joined)})"

    def server_installed(self, node: SimNodeState, distribution: str, options: dict[str, Any]) -> str:
        self.servers.append((node.hostname, distribution, dict(options)))
        if distribution == "k3s":
            return render_kubeconfig("https://127.0.0.1:6443")
        return render_kubeconfig(f"https://{node.address}:6443", cluster="kubernetes", user="kubernetes-admin")

    def server_restarted(self, node: SimNodeState, distribution: str, options: dict[str, Any]) -> None:
        self.restarts.append((node.hostname, distribution, dict(options)))

    def node_joined(self, node: SimNodeState, role: str, server_url: str) -> None:
        self.joined.append((node.hostname, role, server_url))

    def node_left(self, node: SimNodeState, was_server: bool) -> None:
        self.left.append((node.hostname, was_server))

    def join_token(self) -> str:
        return self._token

    def manifest_applied(self, node: SimNodeState, source: str, manifest: str) -> None:
        self.manifests.append((node.hostname, source))

    def connect(self, node: SimNodeState, address: str, port: int) -> str:
        return "refused" if address == node.address else "timeout"  # no cluster: nothing listens


def kubeadm_credentials(join_token: str) -> tuple[str, str]:
    """kubeadm's bootstrap token (`abcdef.0123456789abcdef`) and CA cert hash, derived from the cluster token."""
    digest = hashlib.sha256(join_token.encode()).hexdigest()
    ca_hash = hashlib.sha256(f"ca:{join_token}".encode()).hexdigest()
    return f"{digest[:6]}.{digest[6:22]}", f"sha256:{ca_hash}"
