"""The local kubeconfig files: where kubectl finds them, and merging a cluster's admin kubeconfig
into them under names of our choosing."""

from __future__ import annotations

import os
from collections.abc import Sequence
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
