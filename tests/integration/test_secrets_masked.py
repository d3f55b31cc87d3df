"""Secrets stay out of logs and command lines, even at DEBUG."""

from __future__ import annotations

import logging

import pytest

from homelab_tui.clients.router import RouterClient
from homelab_tui.clients.ssh import redact
from homelab_tui.sim.routeros import RouterOsSim


async def test_router_login_password_never_reaches_the_log(caplog):
    password = "s3cret-router-pw"
    async with RouterOsSim(password=password) as sim:
        with caplog.at_level(logging.DEBUG):
            async with RouterClient("127.0.0.1", sim.port, "admin", password) as client:
                await client.identity()
    assert "librouteros" in caplog.text  # the library did log the exchange...
    assert password not in caplog.text  # ...but not the login's password word


@pytest.mark.parametrize("command", [
    "curl -sfL https://get.k3s.io | K3S_URL=https://192.168.40.102:6443 K3S_TOKEN=S3cr3t sh -",
    "k3s server --token S3cr3t",
    "k3s server --token=S3cr3t",
    "k3s server --agent-token S3cr3t",
    "k3s server -t S3cr3t",
    "kubeadm join 192.168.40.102:6443 --token S3cr3t --discovery-token-ca-cert-hash sha256:abc",
    "kubeadm join 192.168.40.102:6443 --control-plane --certificate-key S3cr3t",
    'k3s server --token "S3cr3t with spaces"',
])
def test_join_secrets_are_masked_in_command_lines(command):
    masked = redact(command)
    assert "S3cr3t" not in masked
    assert "***" in masked
