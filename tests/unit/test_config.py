"""Config: the example loads, each class of mistake is named precisely, saving is atomic and 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from homelab_tui.config import (
    ConfigError,
    SecretError,
    config_path,
    load_config,
    parse_config,
    read_secret,
    save_config,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "config.toml.example"

MINIMAL = """
[cluster]
name = "lab"

[[nodes]]
name = "master1"
address = "192.168.40.102"
role = "server"
"""


def test_example_is_the_reference_lab():
    config = load_config(EXAMPLE)
    assert [(n.name, n.address, n.role) for n in config.nodes] == [
        ("master1", "192.168.40.102", "server"),
        ("node1", "192.168.40.103", "agent"),
        ("node2", "192.168.40.104", "agent"),
    ]
    assert config.router.wan_interface == "all-ppp"
    assert config.router.password_env == "HOMELAB_ROUTER_PASSWORD"
    assert config.dns.cloudflare.zone == "example.org"
    assert config.cluster.pod_cidr == "10.42.0.0/16"


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "test.toml")
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINIMAL + "\n[cluster2]\n", "cluster2 (line 10): unknown key; expected one of:"),
        (MINIMAL.replace('name = "lab"', 'name = "lab"\nflavour = "x"'),
         "cluster.flavour (line 4): unknown key"),
        (MINIMAL.replace("192.168.40.102", "192.168.40.300"),
         "nodes[0].address (line 7): expected an IPv4 address like 192.168.40.102, got '192.168.40.300'"),
        (MINIMAL.replace('name = "lab"', 'pod_cidr = "10.42.0.0/99"'),
         "cluster.pod_cidr (line 3): expected an IPv4 CIDR like 10.42.0.0/16"),
        (MINIMAL.replace('name = "lab"', 'pod_cidr = "10.42.0.1/16"'),
         "cluster.pod_cidr (line 3): expected an IPv4 CIDR"),
        (MINIMAL + '\n[router]\nhost = "192.168.40.1"\nport = 70000\n',
         "router.port (line 12): expected a port number 1-65535, got an integer (70000)"),
        (MINIMAL.replace('role = "server"', 'role = "master"'),
         'nodes[0].role (line 8): expected "server" or "agent", got a string (\'master\')'),
        (MINIMAL + '\n[[nodes]]\nname = "master1"\naddress = "192.168.40.103"\n',
         "nodes[1].name (line 11): duplicate node name 'master1' (also nodes[0])"),
        (MINIMAL + '\n[[nodes]]\nname = "node1"\naddress = "192.168.40.102"\n',
         "nodes[1].address (line 12): duplicate node address 192.168.40.102 (also nodes[0])"),
        (MINIMAL + '\n[router]\nhost = "192.168.40.1"\npassword = "hunter2"\n',
         "router.password (line 12): a secret must not be written in the config file; "
         "use router.password_env or router.password_command"),
        (MINIMAL + '\n[dns]\ndomain = "example.org"\n[dns.cloudflare]\nzone = "example.org"\ntoken = "abc"\n',
         "dns.cloudflare.token (line 14): a secret must not be written"),
        (MINIMAL.replace('name = "lab"', 'service_cidr = "10.42.128.0/17"'),
         "cluster.service_cidr (line 3): overlaps cluster.pod_cidr 10.42.0.0/16"),
        (MINIMAL + "\n[ui]\nrefresh_seconds = \"fast\"\n",
         "ui.refresh_seconds (line 11): expected a number of seconds from 0.5 to 3600, got a string ('fast')"),
        (MINIMAL + "\n[router]\nport = 8728\n", "router.host (line 10): is required"),
        ("[cluster\n", "(syntax) (line 1): not valid TOML"),
        ("nodes = 3\n", "nodes (line 1): expected an array of tables ([[nodes]]), got an integer"),
    ],
)
def test_each_mistake_names_key_line_and_expectation(text, expected):
    issues = issues_of(text)
    assert any(issue.startswith(expected) for issue in issues), issues


def test_all_problems_are_reported_at_once():
    text = MINIMAL.replace("192.168.40.102", "nope").replace('role = "server"', 'role = "boss"')
    assert len(issues_of(text)) == 2


def test_a_pasted_token_in_token_env_is_not_echoed():
    text = MINIMAL + '\n[dns]\ndomain = "example.org"\n[dns.cloudflare]\nzone = "example.org"\ntoken_env = "v1-Zq8k.R2"\n'
    issues = issues_of(text)
    assert issues == ["dns.cloudflare.token_env (line 14): expected the name of an environment variable "
                      "(letters, digits, _), not its value"]


def test_secret_value_never_echoed():
    text = MINIMAL + '\n[router]\nhost = "192.168.40.1"\npassword = "hunter2-secret"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert "hunter2-secret" not in str(caught.value)


def test_config_location_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("HOMELAB_TUI_CONFIG", str(tmp_path / "env.toml"))
    assert config_path("/explicit.toml") == Path("/explicit.toml")
    assert config_path(None) == tmp_path / "env.toml"
    monkeypatch.delenv("HOMELAB_TUI_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path(None) == tmp_path / "xdg" / "homelab-tui" / "config.toml"


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")


def test_secrets_from_env_and_command(monkeypatch):
    monkeypatch.setenv("ROUTER_PW", "s3cret")
    assert read_secret("router.password", env="ROUTER_PW") == "s3cret"
    assert read_secret("router.password", command="printf from-command") == "from-command"
    monkeypatch.delenv("ROUTER_PW")
    with pytest.raises(SecretError, match="router.password_env: the environment variable ROUTER_PW is not set"):
        read_secret("router.password", env="ROUTER_PW")
    with pytest.raises(SecretError) as caught:  # a token pasted where a variable name belongs
        read_secret("dns.cloudflare.token", env="v1Zq8kR2abcd")
    assert "v1Zq8kR2abcd" not in str(caught.value) and "named in dns.cloudflare.token_env" in str(caught.value)
    with pytest.raises(SecretError, match="router.password_command: exited with status 1"):
        read_secret("router.password", command="false")


def test_save_is_atomic_private_and_keeps_a_backup(tmp_path):
    target = tmp_path / "config.toml"
    target.write_text(EXAMPLE.read_text())
    config = load_config(target)
    config.cluster.name = "renamed"
    save_config(config)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "config.toml.bak").st_mode) == 0o600
    assert (tmp_path / "config.toml.bak").read_text() == EXAMPLE.read_text()
    reloaded = load_config(target)
    assert reloaded.cluster.name == "renamed"
    assert [n.name for n in reloaded.nodes] == ["master1", "node1", "node2"]
    assert reloaded.dns.cloudflare.zone == "example.org"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
