"""Merging a fetched admin kubeconfig into the local one, and choosing the file to merge into."""

from __future__ import annotations

import stat

import yaml

from homelab_tui.clients.kubeconfig import merge_into_file, merge_target

K3S_YAML = """apiVersion: v1
clusters:
- cluster: {certificate-authority-data: Q0E=, server: 'https://127.0.0.1:6443'}
  name: default
contexts:
- context: {cluster: default, user: default}
  name: default
current-context: default
kind: Config
users:
- name: default
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
"""


def kubeconfig(*contexts: str, current: str = "") -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": c, "cluster": {"server": f"https://{c}.example:6443"}} for c in contexts],
        "users": [{"name": c, "user": {"token": "t"}} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
    })


def test_a_k3s_kubeconfig_is_renamed_and_pointed_at_the_node(tmp_path):
    path = tmp_path / "config"
    assert merge_into_file(path, K3S_YAML, "homelab", "192.168.40.102") == []
    merged = yaml.safe_load(path.read_text())
    assert [e["name"] for section in ("clusters", "users", "contexts") for e in merged[section]] == ["homelab"] * 3
    assert merged["clusters"][0]["cluster"] == {"certificate-authority-data": "Q0E=",
                                                "server": "https://192.168.40.102:6443"}
    assert merged["contexts"][0]["context"] == {"cluster": "homelab", "user": "homelab"}
    assert merged["current-context"] == "homelab"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_merging_keeps_other_clusters_and_the_current_context_and_reports_what_it_replaces(tmp_path):
    path = tmp_path / "config"
    path.write_text(kubeconfig("work", "homelab", current="work"))
    before = path.read_text()
    replaced = merge_into_file(path, K3S_YAML, "homelab", "10.0.0.5")
    merged = yaml.safe_load(path.read_text())
    assert replaced == ["cluster homelab", "user homelab", "context homelab"]
    assert [c["name"] for c in merged["contexts"]] == ["work", "homelab"] and merged["current-context"] == "work"
    assert merged["clusters"][1]["cluster"]["server"] == "https://10.0.0.5:6443"
    assert (tmp_path / "config.bak").read_text() == before


def test_merge_target_follows_kubectl(tmp_path):
    first, second, missing = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert merge_target([missing, first], "homelab") == first  # nothing exists: the last
    second.write_text(kubeconfig("work"))
    assert merge_target([missing, first, second], "homelab") == second  # the first that exists
    first.write_text(kubeconfig("other"))
    second.write_text(kubeconfig("homelab"))
    assert merge_target([first, second], "homelab") == second  # the one that has the context
