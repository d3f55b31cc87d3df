"""homelab_tui.clients.router against the RouterOS API sim, over real TCP (and TLS) on loopback."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import time
from pathlib import Path

import librouteros
import librouteros.login
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from homelab_tui.clients.router import (
    ADDRESS_LIST_MENU,
    CLOUD_MENU,
    IDENTITY_MENU,
    MANGLE_MENU,
    NAT_MENU,
    RouterAuthError,
    RouterClient,
    RouterTrap,
    RouterUnreachable,
)
from homelab_tui.models import (
    AddressListEntry,
    CloudStatus,
    DhcpLease,
    FirewallConnection,
    InterfaceList,
    InterfaceListMember,
    IpPool,
    MangleRule,
    NatRule,
    RouterIdentity,
)
from homelab_tui.sim.routeros import RouterOsSim
from tests.unit.test_routeros_console import MARKER, PCC_MANGLE

PASSWORD = "lab-Secret-42"
PCC_NAT = {
    "chain": "dstnat", "action": "dst-nat", "connection-mark": "kube_node_1", "protocol": "tcp",
    "to-addresses": "192.168.40.103", "to-ports": "31681",
    "comment": f"Load balancer. Service nginx. Send to kube node 1 {MARKER}",
}


@pytest.fixture
async def sim():
    router = RouterOsSim(password=PASSWORD, nat_rules=[PCC_NAT], mangle_rules=[PCC_MANGLE])
    await router.start()
    yield router
    await router.stop()


@pytest.fixture
async def client(sim: RouterOsSim):
    async with RouterClient("127.0.0.1", sim.port, "admin", PASSWORD, timeout=5) as connected:
        yield connected


# --- reads -----------------------------------------------------------------------------------


async def test_firewall_rules_read_into_models(client: RouterClient) -> None:
    [nat] = await client.nat_rules()
    [mangle] = await client.mangle_rules()
    assert nat == NatRule(
        id="*1", chain="dstnat", action="dst-nat", protocol="tcp", to_addresses="192.168.40.103",
        to_ports="31681", connection_mark="kube_node_1", comment=PCC_NAT["comment"],
    )
    assert nat.raw["to-ports"] == "31681"
    assert mangle == MangleRule(
        id="*1", chain="prerouting", action="mark-connection", protocol="tcp", dst_port="80",
        in_interface="all-ppp", new_connection_mark="kube_node_1",
        per_connection_classifier="src-address-and-port:2/0", passthrough=True, comment=PCC_MANGLE["comment"],
    )


async def test_router_facts_read_into_models(client: RouterClient) -> None:
    identity = await client.identity()
    assert isinstance(identity, RouterIdentity)
    assert (identity.identity, identity.board, identity.version, identity.architecture) == (
        "hex-gw", "RB760iGS", "7.16.2 (stable)", "mmips",
    )
    assert identity.total_memory == 268435456 and identity.uptime.startswith("3d4h")

    interfaces = {interface.name: interface for interface in await client.interfaces()}
    assert interfaces["pppoe-out1"].type == "pppoe-out" and interfaces["pppoe-out1"].running
    assert not interfaces["ether5"].running and interfaces["ether1"].mac_address == "48:8F:5A:10:20:01"

    [lan, wan] = await client.addresses()
    assert (lan.address, lan.network, lan.interface) == ("192.168.40.1/24", "192.168.40.0", "bridge")
    assert wan.interface == "pppoe-out1"
    assert await client.pools() == [IpPool(name="dhcp", ranges="192.168.40.50-192.168.40.254")]
    [network] = await client.dhcp_networks()
    assert (network.address, network.gateway, network.dns_server) == ("192.168.40.0/24", "192.168.40.1", "192.168.40.1")
    leases = await client.dhcp_leases()
    assert leases[0] == DhcpLease(
        address="192.168.40.102", mac_address="DC:A6:32:00:01:02", host_name="master1", status="bound",
    )
    assert [lease.host_name for lease in leases] == ["master1", "node1", "node2"]


async def test_cloud_follows_ddns_switch(client: RouterClient, sim: RouterOsSim) -> None:
    assert await client.cloud() == CloudStatus(ddns_enabled=False, dns_name="", public_address="")
    await client.set_single(CLOUD_MENU, ddns_enabled=True)
    assert await client.cloud() == CloudStatus(
        ddns_enabled=True, dns_name="529c0491d41c.sn.mynetname.net", public_address="198.51.100.19", status="updated",
    )
    assert sim.cloud.ddns_enabled
    await client.set_single("/ip cloud", {"ddns-enabled": False})
    assert (await client.cloud()).dns_name == ""


# --- writes ----------------------------------------------------------------------------------


async def test_add_set_disable_remove(client: RouterClient, sim: RouterOsSim) -> None:
    item_id = await client.add(
        NAT_MENU, {"dst-port": 80, "to-addresses": "192.168.40.104"},
        chain="dstnat", action="dst-nat", in_interface="all-ppp", protocol="tcp", to_ports=31681,
    )
    assert item_id == "*2"
    added = sim.rules(NAT_MENU)[1]
    assert (added["dst-port"], added["in-interface"], added["to-ports"]) == ("80", "all-ppp", "31681")

    await client.set(NAT_MENU, item_id, to_ports=31682)
    await client.disable(NAT_MENU, item_id)
    rule = (await client.nat_rules())[1]
    assert (rule.to_ports, rule.disabled) == ("31682", True)

    await client.remove(NAT_MENU, item_id)
    assert [rule.id for rule in await client.nat_rules()] == ["*1"]


async def test_set_single_identity(client: RouterClient, sim: RouterOsSim) -> None:
    await client.set_single(IDENTITY_MENU, name="edge")
    assert (await client.identity()).identity == "edge"
    assert sim.identity == "edge"


async def test_values_stay_strings_and_utf8_round_trips(client: RouterClient, sim: RouterOsSim) -> None:
    comment = "Überweisung ✓"
    item_id = await client.add(MANGLE_MENU, chain="forward", action="accept", comment=comment)
    other_id = await client.add(MANGLE_MENU, chain="forward", action="accept", comment="yes")
    rules = {rule.id: rule for rule in await client.mangle_rules()}
    assert rules[item_id].comment == comment
    assert rules[other_id].comment == "yes"  # not turned into a boolean on the way
    assert sim.rules(MANGLE_MENU)[1]["comment"] == comment


async def test_traps_become_typed_errors_and_the_connection_survives(client: RouterClient) -> None:
    with pytest.raises(RouterTrap) as caught:
        await client.add(MANGLE_MENU, chain="prerouting", per_connection_classifier="src-address-and-port:2/2")
    trap = caught.value
    assert trap.message == "invalid value for argument per-connection-classifier"
    assert trap.category == 1
    assert trap.command == "/ip/firewall/mangle/add"

    with pytest.raises(RouterTrap, match="no such item") as missing:
        await client.remove(NAT_MENU, "*77")
    assert missing.value.category == 0
    assert len(await client.nat_rules()) == 1


# --- connection failures ---------------------------------------------------------------------


async def test_wrong_password_is_an_auth_error_without_the_password(sim: RouterOsSim) -> None:
    secret = "not-the-Password-99"
    with pytest.raises(RouterAuthError) as caught:
        await RouterClient.connect("127.0.0.1", sim.port, "admin", secret, timeout=5)
    assert "invalid user name or password" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    client = RouterClient("127.0.0.1", sim.port, "admin", secret)
    assert secret not in repr(client)


async def test_stopped_router_is_unreachable_until_it_returns(client: RouterClient, sim: RouterOsSim) -> None:
    await sim.stop()
    with pytest.raises(RouterUnreachable) as caught:
        await client.nat_rules()
    assert PASSWORD not in str(caught.value)
    assert not client.connected
    await sim.start()
    assert len(await client.nat_rules()) == 1


async def test_connection_refused_is_unreachable(sim: RouterOsSim) -> None:
    port = sim.port
    await sim.stop()
    with pytest.raises(RouterUnreachable, match="cannot connect"):
        await RouterClient.connect("127.0.0.1", port, "admin", PASSWORD, timeout=2)


async def test_reconnects_after_an_idle_drop_even_for_writes(client: RouterClient, sim: RouterOsSim) -> None:
    assert sim.drop_connections() == 1
    await asyncio.sleep(0.05)  # let the close reach the client
    # Writes are never resent, so this works only because the dead connection is noticed first.
    assert await client.add(NAT_MENU, chain="srcnat", action="masquerade") == "*2"
    assert (await client.identity()).identity == "hex-gw"
    assert sim.connection_count == 1


async def test_reads_retry_once_writes_do_not(sim: RouterOsSim) -> None:
    sim.faults.drop_after = 2  # each connection: the login and one command
    async with RouterClient("127.0.0.1", sim.port, "admin", PASSWORD, timeout=5) as client:
        assert len(await client.nat_rules()) == 1  # sentence 2 on connection 1
        assert len(await client.nat_rules()) == 1  # dropped, then sentence 2 on connection 2
        with pytest.raises(RouterUnreachable):
            await client.add(NAT_MENU, chain="srcnat", action="masquerade")  # dropped: not resent
        assert len(sim.rules(NAT_MENU)) == 1
        sim.faults.drop_after = None
        await client.add(NAT_MENU, chain="srcnat", action="masquerade")
    assert len(sim.rules(NAT_MENU)) == 2


async def test_slow_router_times_out_then_recovers(client: RouterClient, sim: RouterOsSim) -> None:
    client.timeout = 0.2
    await client.close()
    await client.open()
    sim.faults.reply_delay = 0.5
    with pytest.raises(RouterUnreachable, match="timed out"):
        await client.cloud()
    sim.faults.reply_delay = 0
    assert (await client.cloud()).ddns_enabled is False


async def test_concurrent_calls_are_serialised_on_one_connection(client: RouterClient, sim: RouterOsSim) -> None:
    delay = 0.05
    sim.faults.reply_delay = delay
    started = time.monotonic()
    nat, mangle, cloud, leases, pools = await asyncio.gather(
        client.nat_rules(), client.mangle_rules(), client.cloud(), client.dhcp_leases(), client.pools(),
    )
    elapsed = time.monotonic() - started
    assert nat[0].to_addresses == "192.168.40.103"
    assert mangle[0].per_connection_classifier == "src-address-and-port:2/0"
    assert isinstance(cloud, CloudStatus) and len(leases) == 3 and pools[0].name == "dhcp"
    assert elapsed >= 5 * delay  # one after another
    assert sim.connection_count == 1


async def test_a_cancelled_call_does_not_leave_its_reply_for_the_next(client: RouterClient, sim: RouterOsSim) -> None:
    sim.faults.reply_delay = 0.2
    slow = asyncio.create_task(client.nat_rules())
    await asyncio.sleep(0.05)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    sim.faults.reply_delay = 0
    assert (await client.identity()).identity == "hex-gw"


# --- TLS (api-ssl) ---------------------------------------------------------------------------


@pytest.fixture
def tls_contexts(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: (server context, client context trusting it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hex-gw")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "api.crt", tmp_path / "api.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption(),
    ))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


async def test_tls_api_with_the_async_client_and_librouteros_sync(tls_contexts) -> None:
    server_context, client_context = tls_contexts
    async with RouterOsSim(password=PASSWORD, ssl_context=server_context) as router:
        async with RouterClient("127.0.0.1", router.port, "admin", PASSWORD, ssl_context=client_context) as client:
            assert client.tls and (await client.identity()).identity == "hex-gw"

        def sync_session() -> list:
            wrap = lambda sock: client_context.wrap_socket(sock, server_hostname="127.0.0.1")  # noqa: E731
            api = librouteros.connect("127.0.0.1", "admin", PASSWORD, port=router.port, ssl_wrapper=wrap, timeout=5)
            try:
                return list(api.path("system", "identity"))
            finally:
                api.close()

        assert await asyncio.to_thread(sync_session) == [{"name": "hex-gw"}]

        # Without trusting the certificate the handshake fails: unreachable, not a crash.
        with pytest.raises(RouterUnreachable, match="TLS|certificate"):
            await RouterClient.connect("127.0.0.1", router.port, "admin", PASSWORD, tls=True, timeout=5)


async def test_a_router_older_than_6_43_logs_in_with_the_challenge():
    """Before 6.43 a router answers a plain login with a challenge; librouteros's own token login
    (a real client) and ours both log in, and a wrong password is still refused."""
    async with RouterOsSim(password=PASSWORD, legacy_login=True) as router:
        def identity_by_librouteros() -> str:  # synchronous: off the loop that serves the sim
            api = librouteros.connect("127.0.0.1", "admin", PASSWORD, port=router.port,
                                      login_method=librouteros.login.token)
            try:
                return list(api.path("system", "identity"))[0]["name"]
            finally:
                api.close()

        assert await asyncio.to_thread(identity_by_librouteros) == "hex-gw"
        async with RouterClient("127.0.0.1", router.port, "admin", PASSWORD, timeout=5) as client:
            assert (await client.identity()).identity == "hex-gw"
        with pytest.raises(RouterAuthError):
            async with RouterClient("127.0.0.1", router.port, "admin", "wrong", timeout=5) as client:
                await client.identity()


# --- what exposing a service needs -------------------------------------------------------------


async def test_add_place_before_returns_the_id_and_move_repairs_order(client: RouterClient, sim: RouterOsSim) -> None:
    ours = await client.add(
        NAT_MENU, chain="dstnat", action="dst-nat", protocol="tcp", dst_port=80, to_addresses="192.168.40.104",
        to_ports=31681, comment=f"{MARKER} single", place_before="*1",
    )
    hairpin = await client.add(NAT_MENU, chain="srcnat", action="masquerade", src_address="192.168.40.0/24",
                               dst_address="192.168.40.104", comment=f"{MARKER} hairpin")
    assert (ours, hairpin) == ("*2", "*3")
    assert [rule.id for rule in await client.nat_rules()] == ["*2", "*1", "*3"]

    await client.move(NAT_MENU, [hairpin, ours], "*1")
    assert [rule.id for rule in await client.nat_rules()] == ["*3", "*2", "*1"]
    await client.move(NAT_MENU, ["*3"])
    rules = await client.nat_rules()
    assert [rule.id for rule in rules] == ["*2", "*1", "*3"]
    assert (rules[2].src_address, rules[2].dst_address) == ("192.168.40.0/24", "192.168.40.104")
    with pytest.raises(RouterTrap, match="no such item"):
        await client.add(NAT_MENU, chain="dstnat", action="accept", place_before="*77")


async def test_find_by_comment_is_exact_and_reports_every_match(client: RouterClient) -> None:
    marker = "[homelab-tui default/nginx tcp/80 pcc 1/2]"
    first = await client.add(MANGLE_MENU, chain="prerouting", action="accept", comment=marker)
    await client.add(MANGLE_MENU, chain="prerouting", action="accept", comment=marker + " x")  # not a match
    assert await client.find_by_comment(MANGLE_MENU, marker) == [first]
    assert await client.find_by_comment(MANGLE_MENU, "[homelab-tui") == []
    again = await client.add(MANGLE_MENU, chain="prerouting", action="accept", comment=marker)
    assert await client.find_by_comment(MANGLE_MENU, marker) == [first, again]  # a conflict for the caller
    # comments that librouteros would cast come back as the strings they are
    await client.add(NAT_MENU, chain="srcnat", action="accept", comment="no")
    assert len(await client.find_by_comment(NAT_MENU, "no")) == 1


async def test_address_list_entries_read_into_models(client: RouterClient) -> None:
    for address in ("173.245.48.0/20", "103.21.244.0/22"):
        await client.add(ADDRESS_LIST_MENU, list="homelab-cloudflare", address=address, comment="[homelab-tui cf]")
    await client.add(ADDRESS_LIST_MENU, list="probe", address="203.0.113.9/32", timeout="5m")
    cloudflare = await client.address_list("homelab-cloudflare")
    assert cloudflare[0] == AddressListEntry(
        id="*1", list="homelab-cloudflare", address="173.245.48.0/20", comment="[homelab-tui cf]",
    )
    assert [entry.address for entry in cloudflare] == ["173.245.48.0/20", "103.21.244.0/22"]
    [probe] = await client.address_list("probe")
    assert (probe.address, probe.dynamic) == ("203.0.113.9", True) and probe.timeout.startswith("4m5")
    assert len(await client.address_list()) == 3
    with pytest.raises(RouterTrap, match="failure: already have such entry"):
        await client.add(ADDRESS_LIST_MENU, list="probe", address="203.0.113.9")


async def test_interface_lists_and_members(client: RouterClient) -> None:
    lists = await client.interface_lists()
    assert [(item.name, item.builtin) for item in lists] == [
        ("all", True), ("none", True), ("dynamic", True), ("static", True), ("WAN", False), ("LAN", False),
    ]
    assert lists[4] == InterfaceList(id="*5", name="WAN", comment="defconf")
    wan = await client.interface_list_members("WAN")
    assert [member.interface for member in wan] == ["ether1", "pppoe-out1"]
    assert wan[1] == InterfaceListMember(id="*3", list="WAN", interface="pppoe-out1")
    with pytest.raises(RouterTrap, match="input does not match any value of in-interface-list"):
        await client.add(NAT_MENU, chain="dstnat", action="dst-nat", in_interface_list="WAN2")
    with pytest.raises(RouterTrap, match="input does not match any value of in-interface"):
        await client.add(NAT_MENU, chain="dstnat", action="dst-nat", in_interface="pppoe-out2")


async def test_counters_invalid_and_reset(client: RouterClient, sim: RouterOsSim) -> None:
    masquerade = await client.add(NAT_MENU, chain="srcnat", action="masquerade", out_interface="pppoe-out1")
    sim.bump_counters(NAT_MENU, "*1", packets=3, bytes=180)
    sim.bump_counters(NAT_MENU, masquerade, packets=7, bytes=420)
    rules = await client.nat_rules()
    assert [(rule.packets, rule.bytes, rule.invalid) for rule in rules] == [(3, 180, False), (7, 420, False)]
    assert rules[0].raw["packets"] == "3"  # a string on the wire, not librouteros's int

    await client.reset_counters(NAT_MENU, "*1")
    assert [rule.packets for rule in await client.nat_rules()] == [0, 7]
    await client.reset_counters(NAT_MENU)
    assert [rule.packets for rule in await client.nat_rules()] == [0, 0]

    sim.remove_interface("pppoe-out1")
    assert [rule.invalid for rule in await client.nat_rules()] == [False, True]
    assert [rule.invalid for rule in await client.mangle_rules()] == [False]  # all-ppp is a wildcard


async def test_connections_read_and_removed(client: RouterClient, sim: RouterOsSim) -> None:
    first = sim.add_connection(src_address="203.0.113.7:50123", dst_address="198.51.100.19:80",
                               reply_src_address="192.168.40.103:31681", connection_mark="kube_node_1", dstnat="true")
    second = sim.add_connection(src_address="203.0.113.8:50124", dst_address="198.51.100.19:80",
                                reply_src_address="192.168.40.104:31681", connection_mark="kube_node_2", dstnat="true")
    sim.add_connection(protocol="udp", src_address="192.168.40.103:41000", dst_address="1.1.1.1:53")
    natted = await client.connections(queries=("?dstnat=true",))
    assert natted[0] == FirewallConnection(
        id=first, protocol="tcp", src_address="203.0.113.7:50123", dst_address="198.51.100.19:80",
        reply_src_address="192.168.40.103:31681", reply_dst_address="203.0.113.7:50123",
        connection_mark="kube_node_1", tcp_state="established", dstnat=True,
    )
    await client.remove_connections(*(connection.id for connection in natted))
    left = await client.connections()
    assert [connection.protocol for connection in left] == ["udp"]
    assert second not in {connection.id for connection in left}


async def test_cloud_updates_after_a_delay_and_warns_behind_cgnat() -> None:
    async with RouterOsSim(password=PASSWORD, wan_address="100.72.13.5", public_address="203.0.113.77",
                           ddns_update_seconds=0.2) as router:
        async with RouterClient("127.0.0.1", router.port, "admin", PASSWORD, timeout=5) as client:
            await client.set_ddns(True)
            assert await client.cloud() == CloudStatus(
                ddns_enabled=True, dns_name="", public_address="", status="updating...",
            )
            await asyncio.sleep(0.25)
            assert await client.cloud() == CloudStatus(
                ddns_enabled=True, dns_name="529c0491d41c.sn.mynetname.net", public_address="203.0.113.77",
                status="updated", warning="Router is behind a NAT. Remote connection might not work.",
            )
            wan = [address for address in await client.addresses() if address.interface == "pppoe-out1"]
            assert [address.address for address in wan] == ["100.72.13.5/32"]
            await client.set_ddns(False)
            assert await client.cloud() == CloudStatus(ddns_enabled=False, dns_name="", public_address="")


async def test_the_second_nat_add_fails_with_a_trap(client: RouterClient, sim: RouterOsSim) -> None:
    sim.faults.fail_add(NAT_MENU, nth=2)
    await client.add(NAT_MENU, chain="dstnat", action="accept", comment="one")
    with pytest.raises(RouterTrap) as caught:
        await client.add(NAT_MENU, chain="dstnat", action="accept", comment="two")
    assert caught.value.message == "failure: already have such entry"
    assert caught.value.command == "/ip/firewall/nat/add"
    await client.add(NAT_MENU, chain="dstnat", action="accept", comment="three")  # the connection survives
    assert [rule.comment for rule in await client.nat_rules()][1:] == ["one", "three"]


async def test_dropped_mid_plan_the_write_is_unreachable_and_the_next_call_reconnects(
    client: RouterClient, sim: RouterOsSim,
) -> None:
    sim.faults.drop_mid_plan(after=1)
    await client.add(NAT_MENU, chain="dstnat", action="accept", comment="one")
    with pytest.raises(RouterUnreachable):
        await client.add(NAT_MENU, chain="dstnat", action="accept", comment="two")
    assert not client.connected
    assert [rule.comment for rule in await client.nat_rules()][1:] == ["one"]  # "two" never happened
    assert await client.find_by_comment(NAT_MENU, "one") == ["*2"]
