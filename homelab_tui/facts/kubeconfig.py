"""What the local kubeconfig holds for the cluster: where bootstrap's merge would go and what it
would replace."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from ..clients.kubeconfig import read_kubeconfig


def merged_context(kubeconfig: str | Path, name: str) -> tuple[str, tuple[str, ...]]:
    """What the local kubeconfig holds under `name`: the server host its context points at ("" when
    there is none), and the entries a merge would replace ("cluster homelab (https://...)", ...)."""
    config = read_kubeconfig(kubeconfig)
    entries = []
    for section in ("clusters", "users", "contexts"):
        for entry in config.get(section) or []:
            if entry.get("name") == name:
                server = (entry.get("cluster") or {}).get("server", "") if section == "clusters" else ""
                entries.append(f"{section[:-1]} {name}" + (f" ({server})" if server else ""))
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or []}
    cluster = clusters.get(contexts.get(name, {}).get("cluster"), {})
    return urlparse(cluster.get("server", "")).hostname or "", tuple(entries)
