"""The local kubeconfig files: where kubectl finds them, what a context says (`resolve_context`,
read here with PyYAML alone: kubernetes-asyncio's loader costs ~200 ms of imports before the
first request), and merging a cluster's admin kubeconfig into them under names of our choosing."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import yaml

from ..files import atomic_write


def kubeconfig_paths(kubeconfig: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None) -> list[Path]:
    """The kubeconfig files in kubectl's order: the explicit path(s), else $KUBECONFIG (a list
    separated by os.pathsep), else ~/.kube/config."""
    if kubeconfig is None:
        env = os.environ.get("KUBECONFIG", "")
        entries: list[str | os.PathLike[str]] = [p for p in env.split(os.pathsep) if p] or ["~/.kube/config"]
    elif isinstance(kubeconfig, str | os.PathLike):
        entries = [p for p in os.fspath(kubeconfig).split(os.pathsep) if p]
    else:
        entries = list(kubeconfig)
    return [Path(os.fspath(p)).expanduser() for p in entries]


class KubeconfigInvalid(ValueError):
    """A kubeconfig that cannot be used; the message names the file(s) and the context."""


SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))


@dataclass(frozen=True)
class MergedKubeconfig:
    """The kubeconfig files merged as kubectl merges them: the first file to define a cluster,
    user or context by name wins, and so does the first file to set current-context. Each entry
    keeps the directory of its file, against which its relative paths are resolved."""

    files: tuple[Path, ...]
    current_context: str = ""
    entries: dict[str, dict[str, tuple[dict[str, Any], Path]]] = field(default_factory=dict)

    def where(self) -> str:
        return ", ".join(map(str, self.files))

    def names(self, section: str) -> list[str]:
        return list(self.entries.get(section, {}))

    def get(self, section: str, name: str) -> tuple[dict[str, Any], Path] | None:
        return self.entries.get(section, {}).get(name)


def _load_file(path: Path) -> dict[str, Any] | None:
    """One kubeconfig file as a mapping; None when it is empty (kubectl skips those)."""
    try:
        text = path.read_text()
    except OSError as error:
        raise KubeconfigInvalid(f"cannot read kubeconfig {path}: {error.strerror or error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise KubeconfigInvalid(f"kubeconfig {path} is not valid YAML: {error}") from None
    if data is None:
        return None
    if not isinstance(data, dict):
        raise KubeconfigInvalid(f"kubeconfig {path} holds a YAML {type(data).__name__}; expected a mapping "
                                "with clusters, users, contexts and current-context")
    return data


def merged_kubeconfig(kubeconfig: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None
                      ) -> MergedKubeconfig:
    """The kubeconfig files of `kubeconfig_paths` that exist, merged (see MergedKubeconfig)."""
    looked_at = kubeconfig_paths(kubeconfig)
    paths = [path for path in looked_at if path.exists()]
    if not paths:
        raise KubeconfigInvalid("no kubeconfig found (looked at: " + ", ".join(map(str, looked_at)) + ")")
    current = ""
    entries: dict[str, dict[str, tuple[dict[str, Any], Path]]] = {section: {} for section, _ in SECTIONS}
    read = []
    for path in paths:
        data = _load_file(path)
        if data is None:
            continue
        read.append(path)
        for section, body_key in SECTIONS:
            listed = data.get(section) or []
            if not isinstance(listed, list):
                raise KubeconfigInvalid(f"kubeconfig {path}: {section} is a {type(listed).__name__}; expected a list")
            for entry in listed:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise KubeconfigInvalid(f"kubeconfig {path}: an entry of {section} has no name")
                body = entry.get(body_key) or {}
                if not isinstance(body, dict):
                    raise KubeconfigInvalid(f"kubeconfig {path}: {section[:-1]} {entry['name']!r}: "
                                            f"{body_key} is not a mapping")
                entries[section].setdefault(entry["name"], (body, path.parent))
        current = current or str(data.get("current-context") or "")
    if not read:
        raise KubeconfigInvalid(f"kubeconfig {', '.join(map(str, paths))} is empty; expected a mapping with "
                                "clusters, users, contexts and current-context")
    return MergedKubeconfig(tuple(paths), current, entries)


@dataclass(frozen=True)
class KubeTarget:
    """What one context says about reaching its cluster: the server, how to trust it, who we
    are. PEM data is read from the files named (relative to their kubeconfig) when it is loaded.
    `plugin` is an exec or auth-provider user, whose credentials need kubernetes-asyncio."""

    context: str
    cluster: str
    user: str
    server: str
    namespace: str = "default"
    insecure: bool = False
    ca_pem: bytes = b""
    tls_server_name: str = ""
    token: str = field(default="", repr=False)  # never in a repr: tracebacks show locals
    username: str = ""
    password: str = field(default="", repr=False)
    client_cert_pem: bytes = b""
    client_key_pem: bytes = field(default=b"", repr=False)
    proxy_url: str = ""
    plugin: bool = False


def _flag(body: dict[str, Any], key: str, what: str) -> bool:
    """A boolean as kubectl takes it: YAML true or false, never a string ("false" is truthy)."""
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise KubeconfigInvalid(f"{what}: {key} must be true or false, not {value!r}")
    return value


def _pem(body: dict[str, Any], data_key: str, file_key: str, base: Path, what: str) -> bytes:
    if body.get(data_key):
        try:
            return base64.b64decode("".join(str(body[data_key]).split()), validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise KubeconfigInvalid(f"{what}: {data_key} is not base64") from None
    if body.get(file_key):
        path = (base / Path(str(body[file_key])).expanduser())
        try:
            return path.read_bytes()
        except OSError as error:
            raise KubeconfigInvalid(f"{what}: cannot read {file_key} {path}: {error.strerror or error}") from None
    return b""


def resolve_context(kubeconfig: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
                    context: str | None = None) -> KubeTarget:
    """The context `context` (default: the current one) of the merged kubeconfig, its cluster
    and user read as kubectl reads them."""
    merged = merged_kubeconfig(kubeconfig)
    chosen = context or merged.current_context
    found = merged.get("contexts", chosen) if chosen else None
    if found is None:
        have = ", ".join(merged.names("contexts")) or "none"
        what = f"context {chosen!r} not found" if chosen else "no context given and no current-context set"
        raise KubeconfigInvalid(f"{what} in kubeconfig {merged.where()} (have: {have})")
    body, _ = found
    where = f"kubeconfig {merged.where()}, context {chosen!r}"
    cluster_name, user_name = str(body.get("cluster") or ""), str(body.get("user") or "")
    cluster_found = merged.get("clusters", cluster_name)
    if cluster_found is None:
        raise KubeconfigInvalid(f"{where}: cluster {cluster_name!r} not found "
                                f"(have: {', '.join(merged.names('clusters')) or 'none'})")
    cluster, cluster_base = cluster_found
    if not cluster.get("server"):
        raise KubeconfigInvalid(f"{where}: cluster {cluster_name!r} has no server")
    user: dict[str, Any] = {}
    user_base = cluster_base
    if user_name:
        user_found = merged.get("users", user_name)
        if user_found is None:
            raise KubeconfigInvalid(f"{where}: user {user_name!r} not found "
                                    f"(have: {', '.join(merged.names('users')) or 'none'})")
        user, user_base = user_found
    token = str(user.get("token") or "")
    if not token and user.get("tokenFile"):
        path = user_base / Path(str(user["tokenFile"])).expanduser()
        try:
            token = path.read_text().strip()
        except OSError as error:
            raise KubeconfigInvalid(f"{where}: cannot read tokenFile {path}: {error.strerror or error}") from None
    return KubeTarget(
        context=chosen, cluster=cluster_name, user=user_name, server=str(cluster["server"]).rstrip("/"),
        namespace=str(body.get("namespace") or "default"),
        insecure=_flag(cluster, "insecure-skip-tls-verify", f"{where}, cluster {cluster_name!r}"),
        ca_pem=_pem(cluster, "certificate-authority-data", "certificate-authority", cluster_base,
                    f"{where}, cluster {cluster_name!r}"),
        tls_server_name=str(cluster.get("tls-server-name") or ""), proxy_url=str(cluster.get("proxy-url") or ""),
        token=token, username=str(user.get("username") or ""), password=str(user.get("password") or ""),
        client_cert_pem=_pem(user, "client-certificate-data", "client-certificate", user_base,
                             f"{where}, user {user_name!r}"),
        client_key_pem=_pem(user, "client-key-data", "client-key", user_base, f"{where}, user {user_name!r}"),
        plugin=bool(user.get("exec") or user.get("auth-provider")),
    )


def named(fetched: dict[str, Any], name: str, server_host: str) -> dict[str, Any]:
    """The first cluster, user and context of a fetched kubeconfig, all called `name` (never
    `default`, which k3s uses and which would clash across clusters), with the server's host set
    to `server_host` (k3s and kubeadm write 127.0.0.1); the port is kept."""
    try:
        cluster = dict(fetched["clusters"][0]["cluster"])
        user = dict(fetched["users"][0]["user"])
    except (KeyError, IndexError, TypeError):
        raise ValueError("the fetched kubeconfig has no cluster or user") from None
    server = urlparse(cluster["server"])
    cluster["server"] = urlunparse(server._replace(netloc=f"{server_host}:{server.port or 6443}"))
    return {
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }


def merge(existing: dict[str, Any], addition: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`existing` with the entries of `addition` added or replaced by name; also the names of the
    entries that were replaced (for the preview). The current context is set if there was none."""
    merged = {"apiVersion": "v1", "kind": "Config", "preferences": {}, **existing}
    replaced = []
    for section in ("clusters", "users", "contexts"):
        entries = list(merged.get(section) or [])
        for entry in addition[section]:
            kept = [e for e in entries if e.get("name") != entry["name"]]
            if len(kept) != len(entries):
                replaced.append(f"{section[:-1]} {entry['name']}")
            entries = [*kept, entry]
        merged[section] = entries
    if not merged.get("current-context"):
        merged["current-context"] = addition["contexts"][0]["name"]
    return merged, replaced


def merge_target(paths: Sequence[Path], name: str) -> Path:
    """Which of the kubeconfig files (in $KUBECONFIG's order) to merge `name` into, by kubectl's
    rule: the file that already has the context, else the first file that exists, else the last."""
    existing = [path for path in paths if path.exists()]
    for path in existing:
        if any(entry.get("name") == name for entry in read_kubeconfig(path).get("contexts") or []):
            return path
    return existing[0] if existing else paths[-1]


def read_kubeconfig(path: str | Path) -> dict[str, Any]:
    """A kubeconfig for looking at: {} when it is missing or unreadable (merging reads strictly)."""
    try:
        return yaml.safe_load(Path(path).expanduser().read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


def merge_into_file(path: str | Path, fetched_text: str, name: str, server_host: str) -> list[str]:
    """Merge a fetched kubeconfig into the file at `path` (atomically, 0600, keeping a .bak);
    returns the replaced entries."""
    path = Path(path).expanduser()
    existing = yaml.safe_load(path.read_text()) if path.exists() else {}
    merged, replaced = merge(existing or {}, named(yaml.safe_load(fetched_text), name, server_host))
    atomic_write(path, yaml.safe_dump(merged, sort_keys=False), mode=0o600, backup=True)
    return replaced


def remove_from_file(path: str | Path, name: str) -> list[str]:
    """Remove the cluster, user and context named `name` from the kubeconfig at `path` (atomically,
    0600, keeping a .bak), and the current context when it was `name`; returns what was removed.
    A missing file, or one without them, is left as it is."""
    path = Path(path).expanduser()
    existing = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    removed = []
    for section in ("clusters", "users", "contexts"):
        entries = list(existing.get(section) or [])
        kept = [entry for entry in entries if entry.get("name") != name]
        if len(kept) != len(entries):
            removed.append(f"{section[:-1]} {name}")
            existing[section] = kept
    if existing.get("current-context") == name:
        existing["current-context"] = ""
        removed.append(f"current-context {name}")
    if removed:
        atomic_write(path, yaml.safe_dump(existing, sort_keys=False), mode=0o600, backup=True)
    return removed
