"""A whole k3s bootstrap, as the wizard and the CLI run it, against a real OpenSSH sshd.

The sshd runs in its own mount and UTS namespaces over a copy of /etc (see conftest.py), so the
plan's real commands (hostnamectl, the /etc/hosts lines, the install script uploaded over SFTP
and run with sudo) change the copy, never this machine. The sandbox's /usr/local/bin stands in
for what a bare Linux box has and this container lacks: systemctl and hostnamectl. The install
script stands in for get.k3s.io: it prints like it, leaves the admin kubeconfig (pointing at a
simulated API server) and starts the unit; a stand-in kubelet then registers the node.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import stat
from pathlib import Path

import asyncssh
import pytest
import yaml

from homelab_tui.clients.ssh import HostKeyChanged, append_known_host
from homelab_tui.config import load_config
from homelab_tui.executors import build_executors
from homelab_tui.flows.staged import apply_staged
from homelab_tui.flows.bootstrap import BootstrapRequest, plan_bootstrap
from homelab_tui.sim.kube_api import KubeApiSim
from tests.conftest import need_binary
from tests.integration.conftest import SUDO_USER_PASSWORD, Sandbox

FAKE_SYSTEMCTL = """#!/bin/sh
# `systemctl is-active UNIT`, answered from /etc/fake-systemd, where the install script starts units
[ "$1" = is-active ] || { echo "this systemctl only answers is-active" >&2; exit 1; }
if [ -e "/etc/fake-systemd/$2" ]; then echo active; else echo inactive; exit 3; fi
"""
FAKE_HOSTNAMECTL = """#!/bin/sh
[ "$1" = set-hostname ] || { echo "this hostnamectl only does set-hostname" >&2; exit 1; }
exec hostname "$2"
"""
INSTALL_SCRIPT = """#!/bin/sh
set -e
echo "[INFO]  Using exec: $INSTALL_K3S_EXEC"
echo "[INFO]  running as uid $(id -u)"
mkdir -p /etc/rancher/k3s /etc/fake-systemd
umask 077
cat > /etc/rancher/k3s/k3s.yaml <<'END'
{kubeconfig}END
touch /etc/fake-systemd/k3s
echo "[INFO]  systemd: Starting k3s"
"""


async def kubelet(kube: KubeApiSim, started: Path, node: str, address: str) -> None:
    """Registers the node once the install has started k3s, NotReady at first, as a kubelet does."""
    while not started.exists():
        await asyncio.sleep(0.05)
    kube.add_node(node, address, ready=False)
    await asyncio.sleep(0.3)
    kube.set_node_ready(node, True)


@pytest.fixture
async def kube():
    async with KubeApiSim(token=secrets.token_hex(16)) as server:
        yield server


def write_config(tmp_path: Path, sshd, user: str, known_hosts: Path, script: Path) -> Path:
    path = tmp_path / "homelab.toml"
    path.write_text(
        f'[cluster]\nname = "homelab"\nkubeconfig = "{tmp_path / "kube" / "config"}"\ninstall_script = "{script}"\n'
        f'[ssh]\nuser = "{user}"\nidentity_file = "{sshd.client_key_path}"\nknown_hosts = "{known_hosts}"\n'
        'use_agent = false\nconfig_file = ""\n'
        f'[[nodes]]\nname = "pi"\naddress = "192.168.40.102"\nhostname = "pi.kube.local"\nrole = "server"\n'
        f'ssh_host = "127.0.0.1"\nssh_port = {sshd.port}\n'
        '[[nodes]]\nname = "node1"\naddress = "192.168.40.103"\nhostname = "node1.kube.local"\n')
    return path


async def test_bootstrap_runs_the_install_script_with_sudo_and_merges_the_kubeconfig(
        sandboxed_sshd, sandbox: Sandbox, sudo_user, kube, tmp_path, monkeypatch):
    kubectl = need_binary("kubectl")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    sandbox.add_command("systemctl", FAKE_SYSTEMCTL)
    sandbox.add_command("hostnamectl", FAKE_HOSTNAMECTL)
    script = tmp_path / "k3s-install.sh"
    # k3s writes its admin kubeconfig for https://127.0.0.1:6443 with names "default"
    script.write_text(INSTALL_SCRIPT.format(kubeconfig=kube.kubeconfig_text("default", "default", "default")))
    config = load_config(write_config(tmp_path, sandboxed_sshd, sudo_user, sandboxed_sshd.known_hosts, script))
    asked: list[str] = []

    async def password(host: str) -> str:
        asked.append(host)
        return SUDO_USER_PASSWORD

    executors = build_executors(config, sudo_password=password)
    try:
        staged = await plan_bootstrap(config, BootstrapRequest(node="pi"), executors, print)
        assert [step.description for step in staged.plans[0].changes] == [
            "Set the hostname of pi to pi.kube.local",
            "Let pi resolve pi.kube.local and node1.kube.local by name (/etc/hosts)",
            f"Copy the k3s install script {script} to pi",
            "Install k3s on pi (k3s)",
            "Check that k3s is running on pi",
            f"Fetch the kubeconfig from pi, point it at 127.0.0.1, and merge it into {config.cluster.kubeconfig} "
            "as context homelab",
            "Wait until node pi.kube.local is Ready",
        ]
        events: list[object] = []
        registering = asyncio.create_task(
            kubelet(kube, sandbox.etc / "fake-systemd" / "k3s", "pi.kube.local", "192.168.40.102"))
        [(_plan, result)] = await apply_staged(staged, executors, lambda plan: events.append)
        await registering
    finally:
        await executors.close()
    assert result.ok, result.error
    output = [event.line for event in events if hasattr(event, "line")]
    assert "[INFO]  Using exec: server --cluster-cidr=10.42.0.0/16 --service-cidr=10.43.0.0/16" in output
    assert "[INFO]  running as uid 0" in output and "pi.kube.local: Ready" in output
    assert asked == ["pi"]  # once per host

    hosts = (sandbox.etc / "hosts").read_text().splitlines()
    # marked as ours, so that uninstall removes these lines and no other
    assert "192.168.40.102 pi.kube.local # homelab-tui" in hosts and "192.168.40.103 node1.kube.local # homelab-tui" in hosts
    assert "192.168.40.102 pi.kube.local" not in Path("/etc/hosts").read_text()  # this machine is untouched

    kubeconfig = Path(config.cluster.kubeconfig)
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    merged = yaml.safe_load(kubeconfig.read_text())
    assert [(c["name"], c["cluster"]["server"]) for c in merged["clusters"]] == [("homelab", kube.url)]
    listing = await asyncio.create_subprocess_exec(  # the API is served by this event loop: don't block it
        kubectl, "--kubeconfig", str(kubeconfig), "--context", "homelab", "get", "nodes", "-o", "name",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(listing.communicate(), 30)
    assert stdout.decode().split() == ["node/pi.kube.local"], stderr.decode()

    audit = (tmp_path / "state" / "homelab-tui" / "audit.jsonl").read_text()
    records = [json.loads(line) for line in audit.splitlines()]
    assert [r["outcome"] for r in records].count("applied") == 7
    token = merged["users"][0]["user"]["token"]
    assert SUDO_USER_PASSWORD not in audit and token not in audit and token not in "\n".join(output)

    # again, on the state it produced (the hostname now set in the sandbox): nothing to do
    executors = build_executors(config, sudo_password=password)
    try:
        again = await plan_bootstrap(config, BootstrapRequest(node="pi"), executors, print)
    finally:
        await executors.close()
    assert again.changes == 0, [step.description for step in again.plans[0].changes]


async def test_bootstrap_is_refused_when_the_host_key_changed(sandboxed_sshd, sudo_user, tmp_path):
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    wrong = tmp_path / "wrong_known_hosts"
    append_known_host(wrong, "127.0.0.1", sandboxed_sshd.port, impostor)
    script = tmp_path / "k3s-install.sh"
    script.write_text("exit 1\n")  # never reached
    config = load_config(write_config(tmp_path, sandboxed_sshd, sudo_user, wrong, script))

    async def trust_anything(unknown) -> bool:  # never asked: a changed key is not an unknown one
        raise AssertionError("asked to trust a changed key")

    executors = build_executors(config, trust_host_key=trust_anything)
    try:
        with pytest.raises(HostKeyChanged) as changed:
            await plan_bootstrap(config, BootstrapRequest(node="pi"), executors, print)
    finally:
        await executors.close()
    assert changed.value.old_fingerprint == impostor.get_fingerprint("sha256")
    assert changed.value.new_fingerprint == sandboxed_sshd.host_public_key.get_fingerprint("sha256")
