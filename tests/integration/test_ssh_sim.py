"""The simulated SSH nodes, driven by the real OpenSSH client and by our asyncssh client."""

from __future__ import annotations

import asyncio
import time

import pytest

from homelab_tui.clients.ssh import (
    HostKeyChanged,
    HostKeyUnknown,
    SshAuthFailed,
    SshDisconnected,
    SshError,
    SshRefused,
    SshSession,
    SshTarget,
    SudoPasswordRejected,
    SudoPasswordRequired,
    append_known_host,
)
from homelab_tui.facts.node import node_facts
from homelab_tui.plans.nodes import NodeFacts, NodeSpec, kubeadm_prerequisites
from homelab_tui.sim.kube.resources import K3S_VERSION
from homelab_tui.sim.node.commands.kubernetes import FLANNEL_MANIFEST_URL, K3S_INSTALL_SCRIPT
from homelab_tui.sim.node.state import CGROUP_PARAMS, SimNodeState, reference_nodes
from homelab_tui.sim.ssh_nodes import SshNodeFleet
from tests.conftest import need_binary
from tests.integration.conftest import free_port

MASTER, NODE1, NODE2 = "master1.kube.local", "node1.kube.local", "node2.kube.local"
HOSTS_LINE = "192.168.40.103 node1.kube.local"
ADD_HOSTS_LINE = f"grep -qxF '{HOSTS_LINE}' /etc/hosts || echo '{HOSTS_LINE}' | sudo tee -a /etc/hosts >/dev/null"
ENABLE_CGROUPS = (
    "grep -qw cgroup_memory=1 /boot/firmware/cmdline.txt || "
    f"sudo sed -i '$ s/$/ {CGROUP_PARAMS}/' /boot/firmware/cmdline.txt"
)
K3S_SERVER = 'curl -sfL https://get.k3s.io | INSTALL_K3S_EXEC="server --cluster-cidr=10.253.0.0/16 --service-cidr=10.254.0.0/16" sh -'
SUDO_PASSWORD = "correct-horse-battery"


@pytest.fixture
async def make_fleet(tmp_path):
    fleets: list[SshNodeFleet] = []

    async def make(states: list[SimNodeState] | None = None, **kwargs) -> SshNodeFleet:
        fleet = SshNodeFleet(states or reference_nodes("prepared"), tmp_path / f"fleet{len(fleets)}", reboot_delay=0.3, **kwargs)
        fleets.append(fleet)
        await fleet.start()
        return fleet

    yield make
    for fleet in fleets:
        await fleet.stop()


@pytest.fixture
async def fleet(make_fleet) -> SshNodeFleet:
    return await make_fleet()


def target(fleet: SshNodeFleet, node: str, **overrides) -> SshTarget:
    settings = dict(
        host="127.0.0.1",
        port=fleet[node].port,
        user="ubuntu",
        identity_file=str(fleet.paths.client_key),
        known_hosts=str(fleet.paths.known_hosts),
        use_agent=False,
        config_path=None,
        name=node,
        connect_timeout=5,
    )
    settings.update(overrides)
    return SshTarget(**settings)


async def run_openssh(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        need_binary("ssh"), *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode, out.decode(), err.decode()


# --- the real OpenSSH client --------------------------------------------------------------


async def test_openssh_client_logs_in_with_strict_host_key_checking(fleet):
    status, out, err = await run_openssh(
        "-F", "/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={fleet.paths.known_hosts}",
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-i", str(fleet.paths.client_key),
        "-p", str(fleet[MASTER].port),
        "ubuntu@127.0.0.1", "uname -m && cat /proc/cgroups | grep -c . && nosuchtool",
    )
    assert status == 127
    assert out.splitlines() == ["aarch64", "15"]
    assert "nosuchtool: not found" in err


async def test_openssh_client_uses_the_fleet_ssh_config_and_refuses_an_unknown_key(fleet, tmp_path):
    status, out, _err = await run_openssh("-F", str(fleet.paths.ssh_config), "-o", "BatchMode=yes", NODE2, "hostname")
    assert (status, out) == (0, "node2.kube.local\n")

    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    status, out, err = await run_openssh(
        "-F", str(fleet.paths.ssh_config), "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={empty}", NODE2, "hostname"
    )
    assert status == 255 and out == ""
    assert "Host key verification failed" in err


# --- our client: commands and streaming ---------------------------------------------------


async def test_run_reports_exit_status_stdout_and_stderr_separately(fleet):
    async with SshSession(target(fleet, MASTER)) as session:
        ok = await session.run("uname -m")
        missing = await session.run("frobnicate --now")
        denied = await session.run("cat /etc/rancher/k3s/k3s.yaml /etc/os-release | grep -c NAME")
        assert (ok.exit_status, ok.stdout, ok.host) == (0, "aarch64\n", MASTER)
        assert (missing.exit_status, missing.stdout) == (127, "")
        assert missing.stderr == "sh: 1: frobnicate: not found\n"
        assert (denied.exit_status, denied.stdout) == (0, "4\n")  # PRETTY_NAME, NAME, *_CODENAME
        assert "No such file or directory" in denied.stderr
        info = await node_facts(session)
        assert (info.arch, info.os, info.hostname) == ("aarch64", "Ubuntu 24.04.1 LTS", MASTER)


async def test_stream_yields_lines_as_they_arrive_and_then_the_exit_status(fleet):
    fleet[MASTER].line_delay = 0.04
    async with SshSession(target(fleet, MASTER)) as session:
        stream = session.stream("cat /proc/cgroups && cat /nonexistent")
        arrivals: list[tuple[float, str]] = []
        async for line in stream:
            arrivals.append((time.monotonic(), line))
    lines = [line for _, line in arrivals]
    assert lines[0].startswith("#subsys_name") and lines[-1] == "cat: /nonexistent: No such file or directory"
    assert arrivals[-1][0] - arrivals[0][0] > 0.3  # 15 paced lines: the first came well before the last
    assert stream.exit_status == 1 and stream.result is not None and not stream.result.ok


async def test_ssh_config_is_honoured(fleet):
    by_name = SshTarget(NODE1, known_hosts=str(fleet.paths.known_hosts), config_path=str(fleet.paths.ssh_config), use_agent=False)
    async with SshSession(by_name) as session:
        assert (await session.run("hostname")).stdout == "node1.kube.local\n"


async def test_wrong_user_is_an_auth_failure_and_a_closed_port_is_refused(fleet):
    with pytest.raises(SshAuthFailed):
        async with SshSession(target(fleet, MASTER, user="root")):
            pass
    with pytest.raises(SshRefused):
        async with SshSession(target(fleet, MASTER, port=free_port())):
            pass


# --- host keys ----------------------------------------------------------------------------


async def test_unknown_host_key_reports_the_openssh_fingerprint_and_can_be_trusted(fleet, tmp_path):
    keygen = need_binary("ssh-keygen")
    known_hosts = tmp_path / "known_hosts"
    pub = tmp_path / "host.pub"
    pub.write_bytes(fleet[NODE1].host_public_key.export_public_key("openssh"))
    proc = await asyncio.create_subprocess_exec(keygen, "-lf", str(pub), stdout=asyncio.subprocess.PIPE)
    expected = (await proc.communicate())[0].decode().split()[1]
    assert expected.startswith("SHA256:")

    with pytest.raises(HostKeyUnknown) as caught:
        async with SshSession(target(fleet, NODE1, known_hosts=str(known_hosts))):
            pass
    assert caught.value.fingerprint == expected
    assert expected in str(caught.value)

    caught.value.trust()
    assert known_hosts.read_text().startswith(f"[127.0.0.1]:{fleet[NODE1].port} ssh-ed25519 ")
    assert known_hosts.stat().st_mode & 0o777 == 0o600
    async with SshSession(target(fleet, NODE1, known_hosts=str(known_hosts))) as session:
        assert (await session.run("hostname")).stdout == "node1.kube.local\n"


async def test_changed_host_key_is_refused_with_both_fingerprints(fleet, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    # known_hosts holds node2's key under node1's address: exactly what a swapped machine looks like
    append_known_host(known_hosts, "127.0.0.1", fleet[NODE1].port, fleet[NODE2].host_public_key)
    with pytest.raises(HostKeyChanged) as caught:
        async with SshSession(target(fleet, NODE1, known_hosts=str(known_hosts))):
            pass
    assert caught.value.old_fingerprint == fleet[NODE2].host_public_key.get_fingerprint("sha256")
    assert caught.value.new_fingerprint == fleet[NODE1].host_public_key.get_fingerprint("sha256")
    assert caught.value.old_fingerprint != caught.value.new_fingerprint

    append_known_host(known_hosts, "127.0.0.1", fleet[NODE1].port, fleet[NODE1].host_public_key, replace=True)
    assert len(known_hosts.read_text().splitlines()) == 1
    async with SshSession(target(fleet, NODE1, known_hosts=str(known_hosts))) as session:
        assert (await session.run("true")).ok


# --- node preparation ---------------------------------------------------------------------


async def test_hosts_line_and_hostname_are_idempotent(make_fleet):
    fleet = await make_fleet(reference_nodes("fresh"))
    async with SshSession(target(fleet, NODE1)) as session:
        assert (await session.run("hostname")).stdout == "ubuntu\n"
        denied = await session.run("hostnamectl set-hostname node1.kube.local")
        assert denied.exit_status == 1 and "Access denied" in denied.stderr
        assert (await session.run("hostnamectl set-hostname node1.kube.local", sudo=True)).ok
        for _ in range(2):
            assert (await session.run(ADD_HOSTS_LINE)).ok
        count = await session.run(f"grep -cxF '{HOSTS_LINE}' /etc/hosts")
        assert count.stdout == "1\n"
        assert (await session.run("hostnamectl")).stdout.splitlines()[0].strip() == "Static hostname: node1.kube.local"


async def test_memory_cgroup_is_enabled_after_the_cmdline_fix_and_a_reboot(make_fleet):
    fleet = await make_fleet(reference_nodes("fresh"))
    async with SshSession(target(fleet, NODE1)) as session:
        assert "memory\t0\t98\t0" in (await session.run("cat /proc/cgroups")).stdout
        for _ in range(2):
            assert (await session.run(ENABLE_CGROUPS)).ok
        cmdline = await session.read_file("/boot/firmware/cmdline.txt")
        assert cmdline.count("cgroup_memory=1") == 1 and cmdline.endswith(f"rootwait fixrtc quiet splash {CGROUP_PARAMS}\n")
        assert "memory\t0\t98\t0" in (await session.run("cat /proc/cgroups")).stdout  # not before the reboot
        await session.reboot(timeout=10, poll_interval=0.05)
        assert "memory\t0\t98\t1" in (await session.run("cat /proc/cgroups")).stdout


async def test_a_rebooting_node_drops_the_session_and_refuses_connections_until_it_is_back(fleet):
    node = fleet[NODE2]
    async with SshSession(target(fleet, NODE2)) as session:
        denied = await session.run("reboot")
        assert denied.exit_status == 1 and "Interactive authentication required" in denied.stderr
        with pytest.raises(SshDisconnected):
            await session.run("sudo reboot")
    with pytest.raises(SshRefused):
        async with SshSession(target(fleet, NODE2)):
            pass
    deadline = time.monotonic() + 5
    while not node.is_up and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    async with SshSession(target(fleet, NODE2)) as session:
        assert (await session.run("uname -m")).stdout == "aarch64\n"


# --- k3s ----------------------------------------------------------------------------------


async def test_k3s_server_install_then_token_and_kubeconfig_need_sudo(fleet):
    async with SshSession(target(fleet, MASTER)) as session:
        assert (await session.run("systemctl is-active k3s")).exit_status == 3
        stream = session.stream(K3S_SERVER, sudo=True)
        lines = [line async for line in stream]
        assert stream.exit_status == 0
        assert lines[0] == "[INFO]  Finding release for channel stable"
        assert lines[-1] == "[INFO]  systemd: Starting k3s"

        token_denied = await session.run("cat /var/lib/rancher/k3s/server/node-token")
        assert token_denied.exit_status == 1 and "Permission denied" in token_denied.stderr
        token = (await session.read_file("/var/lib/rancher/k3s/server/node-token", sudo=True)).strip()
        kubeconfig = await session.read_file("/etc/rancher/k3s/k3s.yaml", sudo=True)
        assert (await session.run("systemctl is-active k3s")).stdout == "active\n"
        assert (await session.run("k3s --version")).stdout.startswith(f"k3s version {K3S_VERSION} ")
        assert (await session.run("ss -Hltn 'sport = :6443'")).stdout.strip() != ""
    assert token == fleet.cluster.join_token()
    assert "server: https://127.0.0.1:6443" in kubeconfig
    assert fleet.cluster.servers == [
        (MASTER, "k3s", {"cluster-cidr": "10.253.0.0/16", "service-cidr": "10.254.0.0/16"})
    ]


async def test_k3s_agent_join_notifies_the_cluster_and_redacts_the_token(fleet):
    async with SshSession(target(fleet, MASTER)) as master:
        assert (await master.run(K3S_SERVER, sudo=True)).ok
        token = (await master.read_file("/var/lib/rancher/k3s/server/node-token", sudo=True)).strip()
    join = f"curl -sfL https://get.k3s.io | K3S_URL=https://192.168.40.102:6443 K3S_TOKEN={token} sh -"
    async with SshSession(target(fleet, NODE1)) as node:
        bad = await node.run(join.replace(token, "K10wrong::server:nope"), sudo=True)
        assert bad.exit_status == 1 and "k3s-agent.service failed" in bad.stderr
        assert fleet.cluster.joined == []
        result = await node.run(join, sudo=True)
        assert result.ok and result.stdout.splitlines()[-1] == "[INFO]  systemd: Starting k3s-agent"
        assert token not in result.command and "K3S_TOKEN=***" in result.command
        assert (await node.run("systemctl is-active k3s-agent")).stdout == "active\n"
    assert fleet.cluster.joined == [(NODE1, "agent", "https://192.168.40.102:6443")]


async def test_k3s_fails_to_start_without_the_memory_cgroup(make_fleet):
    fleet = await make_fleet(reference_nodes("fresh"))
    async with SshSession(target(fleet, MASTER)) as session:
        result = await session.run(K3S_SERVER, sudo=True)
    assert result.exit_status == 1 and "Job for k3s.service failed" in result.stderr
    assert fleet.cluster.servers == []


async def test_air_gapped_install_from_uploaded_script_and_binary(fleet):
    fleet[MASTER].state.internet = False
    async with SshSession(target(fleet, MASTER)) as session:
        # curl cannot resolve get.k3s.io, `sh -` gets an empty script: the pipeline "succeeds" doing nothing
        offline = await session.run(K3S_SERVER, sudo=True)
        assert (offline.exit_status, offline.stdout) == (0, "")
        assert (await session.run("systemctl is-active k3s")).exit_status == 3
        with pytest.raises(SshError, match="upload to /usr/local/bin/k3s failed"):
            await session.upload(b"\x7fELF k3s", "/usr/local/bin/k3s")
        await session.upload(b"\x7fELF k3s", "/usr/local/bin/k3s", sudo=True)
        await session.upload(K3S_INSTALL_SCRIPT.encode(), "/tmp/k3s-install.sh", mode=0o755)
        assert await session.read_file("/tmp/k3s-install.sh") == K3S_INSTALL_SCRIPT
        assert (await session.run("test -x /usr/local/bin/k3s && test -x /tmp/k3s-install.sh")).ok
        result = await session.run("INSTALL_K3S_SKIP_DOWNLOAD=true INSTALL_K3S_EXEC='server' /tmp/k3s-install.sh", sudo=True)
        assert result.ok, result.stderr
        assert result.stdout.splitlines()[0] == "[INFO]  Skipping k3s download and verify"
    assert fleet[MASTER].state.installed == "k3s-server"
    assert [server[:2] for server in fleet.cluster.servers] == [(MASTER, "k3s")]


# --- kubeadm ------------------------------------------------------------------------------


async def prepare_for_kubeadm(session: SshSession, name: str) -> list[str]:
    """The plan's kubeadm prerequisites, run as the engine runs them; their output."""
    steps = kubeadm_prerequisites(NodeSpec(name, "", name), NodeFacts(), "v1.30", done_reason="")
    results = [await session.run(step.action.command, sudo=True) for step in steps]
    assert all(result.ok for result in results), [result.stderr for result in results]
    return [result.stdout for result in results]


async def test_kubeadm_init_token_join_and_flannel(fleet):
    async with SshSession(target(fleet, MASTER)) as master:
        assert (await master.run("kubeadm init --pod-network-cidr=10.244.0.0/16", sudo=True)).exit_status == 127
        # Ubuntu has no kubeadm: it comes from pkgs.k8s.io, which the prerequisites add
        missing = await master.run("apt-get update && apt-get install -y kubeadm", sudo=True)
        assert missing.exit_status == 100 and "E: Unable to locate package kubeadm" in missing.stderr
        forwarding, repository, packages, containerd = await prepare_for_kubeadm(master, MASTER)
        assert "net.ipv4.ip_forward = 1" in forwarding and "net.bridge.bridge-nf-call-iptables = 1" in forwarding
        assert "Get:5 https://pkgs.k8s.io/core:/stable:/v1.30/deb/  InRelease" in repository
        assert "Setting up kubeadm (1.30.4-1.1) ..." in packages and "kubeadm set on hold." in packages
        assert "SystemdCgroup = true" in await master.read_file("/etc/containerd/config.toml")
        init = await master.run("kubeadm init --pod-network-cidr=10.244.0.0/16", sudo=True)
        assert init.ok and "Your Kubernetes control-plane has initialized successfully!" in init.stdout
        join = (await master.run("kubeadm token create --print-join-command", sudo=True)).stdout.strip()
        assert join.startswith("kubeadm join 192.168.40.102:6443 --token ")
        assert "--discovery-token-ca-cert-hash sha256:" in join
        admin = await master.read_file("/etc/kubernetes/admin.conf", sudo=True)
        assert "server: https://192.168.40.102:6443" in admin
        flannel = await master.run(f"KUBECONFIG=/etc/kubernetes/admin.conf kubectl apply -f {FLANNEL_MANIFEST_URL}", sudo=True)
        assert flannel.ok and "daemonset.apps/kube-flannel-ds created" in flannel.stdout
    async with SshSession(target(fleet, NODE1)) as node:
        await prepare_for_kubeadm(node, NODE1)
        joined = await node.run(join, sudo=True)
        assert joined.ok and "This node has joined the cluster:" in joined.stdout
        assert "--token ***" in joined.command
    assert fleet.cluster.servers[0][:2] == (MASTER, "kubeadm")
    assert fleet.cluster.servers[0][2]["pod-network-cidr"] == "10.244.0.0/16"
    assert fleet.cluster.joined == [(NODE1, "agent", "https://192.168.40.102:6443")]
    assert fleet.cluster.manifests == [(MASTER, FLANNEL_MANIFEST_URL)]


async def test_kubeadm_preflight_rejects_swap_and_missing_memory_cgroup(make_fleet):
    fleet = await make_fleet(reference_nodes("fresh"))
    async with SshSession(target(fleet, MASTER)) as master:
        await prepare_for_kubeadm(master, MASTER)
        await master.run("sysctl -w net.ipv4.ip_forward=0", sudo=True)
        init = await master.run("kubeadm init --pod-network-cidr=10.244.0.0/16", sudo=True)
        assert init.exit_status == 1
        assert "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]" in init.stderr
        assert "[ERROR Swap]: running with swap on is not supported. Please disable swap" in init.stderr
        assert "[ERROR SystemVerification]: missing required cgroups: memory" in init.stderr
        swap_off = "swapoff -a && sed -i -E '/^[^#].*\\sswap\\s/ s/^/#/' /etc/fstab"
        assert (await master.run(swap_off, sudo=True)).ok
        assert (await master.run("swapon --show")).stdout == ""
        assert "#/swapfile" in await master.read_file("/etc/fstab")
    assert fleet.cluster.servers == []


# --- sudo with a password -----------------------------------------------------------------


async def test_sudo_password_is_asked_once_and_never_shows_up(make_fleet):
    states = reference_nodes("prepared")
    for state in states:
        state.sudo_password = SUDO_PASSWORD
    fleet = await make_fleet(states)
    asked: list[str] = []

    async def ask(host: str) -> str:
        asked.append(host)
        return SUDO_PASSWORD

    async with SshSession(target(fleet, MASTER), sudo_password=ask) as session:
        raw = await session.run("sudo -n true")
        assert raw.exit_status == 1 and raw.stderr == "sudo: a password is required\n"
        results = [
            await session.run("whoami", sudo=True),
            await session.run("hostnamectl set-hostname master1.kube.local && cat /etc/hostname", sudo=True),
        ]
        stream = session.stream("id -u", sudo=True)
        streamed = [line async for line in stream]
    assert asked == [MASTER]
    assert results[0].stdout == "root\n" and results[1].ok and streamed == ["0"]
    assert all(SUDO_PASSWORD not in repr(r) for r in [*results, stream.result])
    assert SUDO_PASSWORD not in repr(session) + repr(session.sudo)

    async def wrong(host: str) -> str:
        return "not-the-password"

    with pytest.raises(SudoPasswordRejected) as rejected:
        async with SshSession(target(fleet, NODE1), sudo_password=wrong) as session:
            await session.run("whoami", sudo=True)
    assert "not-the-password" not in str(rejected.value) and SUDO_PASSWORD not in str(rejected.value)

    with pytest.raises(SudoPasswordRequired):
        async with SshSession(target(fleet, NODE2)) as session:
            await session.run("whoami", sudo=True)


async def test_interactive_shell_answers_commands(fleet):
    async with SshSession(target(fleet, NODE1)) as session:
        conn = session._connection()
        result = await conn.run(input="uname -m\nexit\n")
    assert "ubuntu@node1.kube.local:~$ aarch64" in result.stdout


@pytest.mark.parametrize(
    ("command", "sudo", "status", "stdout"),
    [
        ("echo a | ", False, 2, ""),  # sh: Syntax error: end of file unexpected
        ('echo "open', False, 2, ""),
        ("echo hi >> /etc/hosts", False, 2, ""),  # the redirect is the user's, not sudo's
        ("echo 192.168.40.104 node2.kube.local >> /etc/hosts && tail -n 1 /etc/hosts", True, 0, "192.168.40.104 node2.kube.local\n"),
        ("cat /nope 2>&1 | grep -c 'No such file'", False, 0, "1\n"),
        ("cat /nope 2>/dev/null || echo fallback", False, 0, "fallback\n"),
        (r"sed 's/\(rootwait\)/\1 extra/' /boot/firmware/cmdline.txt | grep -o -c 'rootwait extra'", False, 0, "1\n"),
        ("false && echo no || echo yes; echo end", False, 0, "yes\nend\n"),
        ("[ -f /etc/hosts ] && test ! -x /etc/hosts && echo plain", False, 0, "plain\n"),
        ("systemctl restart ssh", False, 1, ""),
        ("systemctl start nope", True, 5, ""),
        ("sudo -n true && sudo whoami", False, 0, "root\n"),
        ("apt-get install containerd >/dev/null", True, 1, ""),  # no -y: apt asks and aborts
        ("kubeadm version", False, 127, ""),
        ("swapon --show | wc -l", False, 0, "2\n"),
        ("ss -Hltn 'sport = :6443' | wc -l", False, 0, "0\n"),
    ],
)
async def test_shell_subset(fleet, command, sudo, status, stdout):
    async with SshSession(target(fleet, NODE2)) as session:
        fleet[NODE2].state.swap_on = True
        result = await session.run(command, sudo=sudo)
    assert (result.exit_status, result.stdout) == (status, stdout), result.stderr
