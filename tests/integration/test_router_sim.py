"""The RouterOS API sim against librouteros's synchronous client, over real TCP on loopback.

librouteros's sync API blocks, and the sim runs on the test's event loop, so every client
exchange runs in a thread (asyncio.to_thread).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import librouteros
import pytest
from librouteros.exceptions import ConnectionClosed, FatalError, TrapError
from librouteros.protocol import encode_length as librouteros_encode_length
from librouteros.query import Key, Or

from homelab_tui.models import CloudStatus
from homelab_tui.sim.router.menus import SimTrap
from homelab_tui.sim.router.wire import decode_length, encode_length, prefix_size
from homelab_tui.sim.routeros import RouterOsSim

PASSWORD = "lab-Secret-42"
NAT = "/ip/firewall/nat"
MANGLE = "/ip/firewall/mangle"
FILTER = "/ip/firewall/filter"
ADDRESS_LIST = "/ip/firewall/address-list"
CONNECTION = "/ip/firewall/connection"
MARKER = "[homelab-tui default/nginx tcp/80]"
PCC_MANGLE = [
    {
        "chain": "prerouting", "action": "mark-connection", "in-interface": "all-ppp",
        "protocol": "tcp", "dst-port": "80", "new-connection-mark": f"kube_node_{i + 1}",
        "per-connection-classifier": f"src-address-and-port:2/{i}",
        "comment": f"Load balancer. Service nginx. Mark connections to kube node {i + 1} {MARKER}",
    }
    for i in range(2)
]
PCC_NAT = [
    {
        "chain": "dstnat", "action": "dst-nat", "connection-mark": f"kube_node_{i + 1}",
        "protocol": "tcp", "to-addresses": f"192.168.40.{103 + i}", "to-ports": "31681",
        "comment": f"Load balancer. Service nginx. Send to kube node {i + 1} {MARKER}",
    }
    for i in range(2)
]

T = TypeVar("T")


@pytest.fixture
async def sim():
    router = RouterOsSim(password=PASSWORD, nat_rules=PCC_NAT, mangle_rules=PCC_MANGLE)
    await router.start()
    yield router
    await router.stop()


def connect(sim: RouterOsSim, password: str = PASSWORD) -> librouteros.Api:
    return librouteros.connect("127.0.0.1", "admin", password, port=sim.port, encoding="utf-8", timeout=5)


async def with_api(sim: RouterOsSim, work: Callable[[librouteros.Api], T]) -> T:
    """Log in, run `work(api)` in a thread, log out."""

    def session() -> T:
        api = connect(sim)
        try:
            return work(api)
        finally:
            api.close()

    return await asyncio.to_thread(session)


def raw(api: librouteros.Api, command: str, *words: str) -> list[dict[str, Any]]:
    return list(api.rawCmd(command, *words))


def trap_of(api: librouteros.Api, command: str, *words: str) -> TrapError:
    with pytest.raises(TrapError) as caught:
        raw(api, command, *words)
    return caught.value


# --- wire codec ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "size"),
    [(0, 1), (0x7F, 1), (0x80, 2), (0x3FFF, 2), (0x4000, 3), (0x1FFFFF, 3), (0x200000, 4),
     (0xFFFFFFF, 4), (0x10000000, 5), (0xFFFFFFFF, 5)],
)
def test_length_prefix_classes_round_trip(length: int, size: int) -> None:
    prefix = encode_length(length)
    assert len(prefix) == size
    assert prefix_size(prefix[0]) == size
    assert decode_length(prefix) == length
    if size < 5:  # librouteros stops at four bytes; where it encodes, it must agree byte for byte
        assert prefix == librouteros_encode_length(length)
    else:
        assert prefix[0] == 0xF0


async def test_long_words_round_trip_through_every_prefix_class(sim: RouterOsSim) -> None:
    lengths = [0x7F, 0x80, 0x3FFF, 0x4000, 0x200000]  # 1-, 2-, 3- and 4-byte prefixes

    def work(api: librouteros.Api) -> list[str]:
        nat = api.path("ip", "firewall", "nat")
        ids = [nat.add(chain="srcnat", action="masquerade", comment="x" * n) for n in lengths]
        return [raw(api, f"{NAT}/print", f"?.id={item_id}")[0]["comment"] for item_id in ids]

    comments = await with_api(sim, work)
    assert [len(comment) for comment in comments] == lengths
    assert all(set(comment) == {"x"} for comment in comments)


# --- login -----------------------------------------------------------------------------------


async def test_login_then_identity_and_resources(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> tuple[list, list]:
        return raw(api, "/system/identity/print"), list(api.path("system", "resource"))

    identity, resource = await with_api(sim, work)
    assert identity == [{"name": "hex-gw"}]
    assert resource[0]["board-name"] == "RB760iGS"
    assert resource[0]["version"] == "7.16.2 (stable)"
    assert resource[0]["architecture-name"] == "mmips"
    assert resource[0]["total-memory"] == 268435456


async def test_wrong_password_gets_the_routeros_trap(sim: RouterOsSim) -> None:
    with pytest.raises(TrapError) as caught:
        await asyncio.to_thread(connect, sim, "wrong")
    assert caught.value.message == "invalid user name or password (6)"


async def test_commands_before_login_are_refused(sim: RouterOsSim) -> None:
    def work() -> None:
        transport = librouteros.create_transport("127.0.0.1", port=sim.port, saddr=None, timeout=5)
        api = librouteros.Api(librouteros.ApiProtocol(transport=transport, encoding="utf-8"))
        try:
            raw(api, f"{NAT}/print")
        finally:
            api.close()

    with pytest.raises(FatalError, match="not logged in"):
        await asyncio.to_thread(work)
    assert sim.rules(NAT)[0]["chain"] == "dstnat"  # nothing touched


# --- print and queries -----------------------------------------------------------------------


async def test_print_with_proplist_returns_only_those_properties(sim: RouterOsSim) -> None:
    rows = await with_api(sim, lambda api: raw(api, "/interface/print", "=.proplist=name,type"))
    assert rows[0] == {"name": "ether1", "type": "ether"}
    assert [row["name"] for row in rows] == ["ether1", "ether2", "ether3", "ether4", "ether5", "bridge", "pppoe-out1"]


@pytest.mark.parametrize(
    ("queries", "names"),
    [
        (["?type=ether", "?running=false"], ["ether5"]),
        (["?type=bridge", "?type=pppoe-out", "?#|"], ["bridge", "pppoe-out1"]),
        (["?name=ether1", "?name=ether2", "?name=bridge", "?#||"], ["ether1", "ether2", "bridge"]),
        (["?type=ether", "?#!"], ["bridge", "pppoe-out1"]),
        (["?slave"], ["ether2", "ether3", "ether4", "ether5"]),
        (["?-mac-address"], ["pppoe-out1"]),
        (["?type=ether", "?-slave", "?#&"], ["ether1"]),
        (["?type=ether", "?running=yes", "?#&!"], ["ether5", "bridge", "pppoe-out1"]),
        # "?#0" keeps only the top value: the running test decides alone.
        (["?type=bridge", "?running=false", "?#0"], ["ether5"]),
        (["?type=bridge", "?running=false", "?#1"], ["bridge"]),
        (["?>.id=*5"], ["bridge", "pppoe-out1"]),
        (["?<.id=*3"], ["ether1", "ether2"]),
        (["?=type=pppoe-out"], ["pppoe-out1"]),
        (["?type=wlan"], []),
    ],
)
async def test_print_queries(sim: RouterOsSim, queries: list[str], names: list[str]) -> None:
    rows = await with_api(sim, lambda api: raw(api, "/interface/print", "=.proplist=name", *queries))
    assert [row["name"] for row in rows] == names


async def test_librouteros_query_builders(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> tuple[list, list, list]:
        interfaces = api.path("interface")
        name, kind, running = Key("name"), Key("type"), Key("running")
        either = list(interfaces.select(name).where(Or(kind == "bridge", kind == "pppoe-out")))
        listed = list(interfaces.select(name).where(name.In("ether3", "ether4")))
        down = list(interfaces.select(name).where(running != True))  # noqa: E712 (librouteros query syntax)
        return either, listed, down

    either, listed, down = await with_api(sim, work)
    assert either == [{"name": "bridge"}, {"name": "pppoe-out1"}]
    assert listed == [{"name": "ether3"}, {"name": "ether4"}]
    assert down == [{"name": "ether5"}]


async def test_getall_and_count_only(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> tuple[list, list]:
        return raw(api, f"{MANGLE}/getall"), raw(api, f"{MANGLE}/print", "=count-only=", "?chain=prerouting")

    rules, count = await with_api(sim, work)
    assert [rule["per-connection-classifier"] for rule in rules] == [
        "src-address-and-port:2/0", "src-address-and-port:2/1",
    ]
    assert count == [{"ret": 2}]


async def test_tag_is_echoed_on_every_reply(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> list[tuple[str, tuple[str, ...]]]:
        api.protocol.writeSentence(f"{NAT}/print", "=.proplist=.id", ".tag=7")
        sentences = []
        while not sentences or sentences[-1][0] != "!done":
            sentences.append(api.protocol.readSentence())
        return sentences

    sentences = await with_api(sim, work)
    assert [reply for reply, _ in sentences] == ["!re", "!re", "!done"]
    assert all(words[-1] == ".tag=7" for _, words in sentences)


async def test_dhcp_and_address_menus_describe_the_lab(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> dict[str, list]:
        menus = ("/ip/dhcp-server/lease", "/ip/pool", "/ip/dhcp-server/network", "/ip/address")
        return {menu: raw(api, f"{menu}/print") for menu in menus}

    menus = await with_api(sim, work)
    leases = menus["/ip/dhcp-server/lease"]
    assert [(lease["address"], lease["host-name"]) for lease in leases] == [
        ("192.168.40.102", "master1"), ("192.168.40.103", "node1"), ("192.168.40.104", "node2"),
    ]
    assert menus["/ip/pool"][0]["ranges"] == "192.168.40.50-192.168.40.254"
    assert menus["/ip/dhcp-server/network"][0]["gateway"] == "192.168.40.1"
    assert menus["/ip/address"][0]["address"] == "192.168.40.1/24"


# --- writes ----------------------------------------------------------------------------------


async def test_add_set_disable_enable_remove_round_trip(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> dict[str, Any]:
        nat = api.path("ip", "firewall", "nat")
        seen: dict[str, Any] = {}
        item_id = nat.add(**{
            "chain": "dstnat", "action": "dst-nat", "in-interface": "all-ppp", "protocol": "tcp",
            "dst-port": "80", "to-addresses": "192.168.40.103", "to-ports": "31681", "comment": "single",
        })
        seen["id"] = item_id
        seen["added"] = raw(api, f"{NAT}/print", f"?.id={item_id}")[0]
        nat.update(**{".id": item_id, "to-ports": "31682", "comment": "moved"})
        seen["set"] = raw(api, f"{NAT}/print", f"?.id={item_id}", "=.proplist=to-ports,comment")[0]
        raw(api, f"{NAT}/disable", f"=.id={item_id}")
        seen["disabled"] = raw(api, f"{NAT}/print", "?disabled=true", "=.proplist=.id")
        raw(api, f"{NAT}/enable", f"=.id={item_id}")
        seen["enabled"] = raw(api, f"{NAT}/print", f"?.id={item_id}")[0]["disabled"]
        nat.remove(item_id)
        seen["after"] = [row[".id"] for row in nat]
        return seen

    seen = await with_api(sim, work)
    assert seen["id"] == "*3"  # two PCC NAT rules came first
    assert seen["added"] == {
        ".id": "*3", "chain": "dstnat", "action": "dst-nat", "in-interface": "all-ppp", "protocol": "tcp",
        "dst-port": 80, "to-addresses": "192.168.40.103", "to-ports": 31681, "comment": "single",
        "disabled": False, "dynamic": False, "invalid": False, "bytes": 0, "packets": 0,
        "log": False, "log-prefix": "",
    }
    assert seen["set"] == {"to-ports": 31682, "comment": "moved"}
    assert seen["disabled"] == [{".id": "*3"}]
    assert seen["enabled"] is False
    assert seen["after"] == ["*1", "*2"]


async def test_ids_are_hex_and_remove_takes_a_list(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> tuple[list[str], list[str]]:
        nat = api.path("ip", "firewall", "nat")
        ids = [nat.add(chain="srcnat", action="masquerade", comment=str(n)) for n in range(9)]
        nat.remove(*ids[:-1])
        return ids, [row[".id"] for row in nat]

    ids, left = await with_api(sim, work)
    assert ids == ["*3", "*4", "*5", "*6", "*7", "*8", "*9", "*A", "*B"]
    assert left == ["*1", "*2", "*B"]


async def test_place_before_inserts_ahead_of_an_item(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> list[str]:
        api.path("ip", "firewall", "nat").add(**{"chain": "dstnat", "action": "accept", "place-before": "*1"})
        return [row[".id"] for row in api.path("ip", "firewall", "nat")]

    assert await with_api(sim, work) == ["*3", "*1", "*2"]


async def test_single_item_menus_set_without_id(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> list:
        raw(api, "/system/identity/set", "=name=edge-router")
        return raw(api, "/system/identity/print")

    assert await with_api(sim, work) == [{"name": "edge-router"}]
    assert sim.identity == "edge-router"


async def test_ddns_switch_makes_name_and_address_appear_and_disappear(sim: RouterOsSim) -> None:
    def cloud(api: librouteros.Api) -> dict[str, Any]:
        return raw(api, "/ip/cloud/print")[0]

    def work(api: librouteros.Api) -> tuple[dict, dict, dict]:
        before = cloud(api)
        raw(api, "/ip/cloud/set", "=ddns-enabled=yes")
        enabled = cloud(api)
        raw(api, "/ip/cloud/set", "=ddns-enabled=no")
        return before, enabled, cloud(api)

    before, enabled, after = await with_api(sim, work)
    assert before["ddns-enabled"] is False and "dns-name" not in before and "public-address" not in before
    assert enabled["ddns-enabled"] is True
    assert enabled["dns-name"] == "529c0491d41c.sn.mynetname.net"
    assert enabled["public-address"] == "198.51.100.19"
    assert enabled["status"] == "updated"
    assert after["ddns-enabled"] is False and "dns-name" not in after
    sim.set_ddns(True)
    assert sim.cloud.dns_name == "529c0491d41c.sn.mynetname.net"


async def test_ddns_name_appears_only_after_the_update_delay() -> None:
    async with RouterOsSim(password=PASSWORD, ddns_update_seconds=0.5) as router:
        sim_cloud = lambda api: raw(api, "/ip/cloud/print")[0]  # noqa: E731
        first = await with_api(router, lambda api: (raw(api, "/ip/cloud/set", "=ddns-enabled=yes"), sim_cloud(api))[1])
        assert first["status"] == "updating..." and "dns-name" not in first
        await asyncio.sleep(0.55)
        assert (await with_api(router, sim_cloud))["dns-name"] == "529c0491d41c.sn.mynetname.net"


# --- traps -----------------------------------------------------------------------------------

TRAPS = [
    (f"{NAT}/frobnicate", [], "no such command", 0),
    ("/ip/firewall/natx/print", [], "no such command prefix", 0),
    ("/system/resource/set", ["=version=8"], "no such command", 0),
    ("/interface/add", ["=name=x"], "no such command", 0),
    (f"{NAT}/remove", ["=.id=*99"], "no such item", 0),
    (f"{NAT}/set", ["=.id=*99", "=comment=x"], "no such item", 0),
    (f"{NAT}/add", ["=action=accept"], "missing value(s) of argument(s) chain", 1),
    (f"{NAT}/add", ["=chain=input"], "input does not match any value of chain", 1),
    (f"{NAT}/add", ["=chain=dstnat", "=action=mark-connection"], "input does not match any value of action", 1),
    (f"{MANGLE}/add", ["=chain=dstnat"], "input does not match any value of chain", 1),
    (f"{NAT}/add", ["=chain=dstnat", "=protocol=tcp", "=dst-port=70000"], "invalid value for argument dst-port", 1),
    (f"{NAT}/add", ["=chain=dstnat", "=to-ports=80-"], "invalid value for argument to-ports", 1),
    (f"{NAT}/add", ["=chain=dstnat", "=to-addresses=300.1.1.1"], "invalid value for argument to-addresses", 1),
    (f"{NAT}/add", ["=chain=dstnat", "=in-interface=ether9"], "input does not match any value of in-interface", 1),
    (f"{NAT}/add", ["=chain=dstnat", "=frob=1"], "unknown parameter frob", 1),
    (f"{NAT}/set", ["=.id=*1", "=to-addresses=192.168.40"], "invalid value for argument to-addresses", 1),
    (f"{NAT}/set", ["=.id=*1", "=bytes=0"], "unknown parameter bytes", 1),
    *[
        (f"{MANGLE}/add", ["=chain=prerouting", f"=per-connection-classifier={pcc}"],
         "invalid value for argument per-connection-classifier", 1)
        for pcc in (
            "src-address-and-port:2/2", "src-address-and-port:0/0", "src-and-dst:2/0", "src-address", "both-ports:2/-1",
        )
    ],
    (f"{MANGLE}/set", ["=.id=*2", "=per-connection-classifier=both-addresses:3/3"],
     "invalid value for argument per-connection-classifier", 1),
]


@pytest.mark.parametrize(("command", "words", "message", "category"), TRAPS)
async def test_bad_commands_trap_and_change_nothing(
    sim: RouterOsSim, command: str, words: list[str], message: str, category: int
) -> None:
    before = {menu: sim.rules(menu) for menu in (NAT, MANGLE)}

    def work(api: librouteros.Api) -> tuple[TrapError, list]:
        trap = trap_of(api, command, *words)
        return trap, raw(api, "/system/identity/print")  # the connection is still usable

    trap, identity = await with_api(sim, work)
    assert (trap.message, trap.category) == (message, category)
    assert identity == [{"name": "hex-gw"}]
    assert {menu: sim.rules(menu) for menu in (NAT, MANGLE)} == before


@pytest.mark.parametrize(
    "pcc",
    [f"{field}:3/2" for field in (
        "src-address", "dst-address", "src-port", "dst-port", "both-addresses", "both-ports",
        "both-addresses-and-ports", "src-address-and-port", "dst-address-and-port",
    )],
)
def test_every_pcc_classifier_field_is_accepted(pcc: str) -> None:
    router = RouterOsSim(password=PASSWORD)
    item_id = router.add_rule(
        MANGLE, {"chain": "prerouting", "action": "mark-connection", "per-connection-classifier": pcc},
    )
    assert router.rules(MANGLE) == [{**router.rules(MANGLE)[0], ".id": item_id, "per-connection-classifier": pcc}]
    with pytest.raises(SimTrap, match="per-connection-classifier"):
        router.add_rule(MANGLE, {"chain": "prerouting", "per-connection-classifier": pcc.replace("3/2", "3/3")})


# --- connections and faults ------------------------------------------------------------------


async def test_several_connections_at_once_share_state(sim: RouterOsSim) -> None:
    clients = 3
    barrier = threading.Barrier(clients + 1, timeout=5)

    def client(n: int) -> list[str]:
        api = connect(sim)
        try:
            api.path("ip", "firewall", "nat").add(chain="srcnat", action="masquerade", comment=f"client {n}")
            barrier.wait()  # every client has added and is still connected
            barrier.wait()  # the test has counted the connections
            return [row["comment"] for row in api.path("ip", "firewall", "nat") if row["comment"].startswith("client")]
        finally:
            api.close()

    tasks = [asyncio.create_task(asyncio.to_thread(client, n)) for n in range(clients)]
    await asyncio.to_thread(barrier.wait)
    open_connections = sim.connection_count
    await asyncio.to_thread(barrier.wait)
    seen = await asyncio.gather(*tasks)
    assert open_connections == clients
    assert all(sorted(comments) == ["client 0", "client 1", "client 2"] for comments in seen)


async def test_drop_after_n_sentences_closes_the_connection(sim: RouterOsSim) -> None:
    sim.faults.drop_after = 2  # the login and one command

    def work(api: librouteros.Api) -> list:
        first = raw(api, "/system/identity/print")
        with pytest.raises(ConnectionClosed):
            raw(api, "/system/identity/print")
        return first

    assert await with_api(sim, work) == [{"name": "hex-gw"}]


async def test_drop_connections_cuts_open_sessions(sim: RouterOsSim) -> None:
    api = await asyncio.to_thread(connect, sim)
    try:
        assert sim.drop_connections() == 1
        with pytest.raises((ConnectionClosed, OSError)):
            await asyncio.to_thread(raw, api, "/system/identity/print")
    finally:
        api.close()


async def test_reply_delay_slows_every_answer(sim: RouterOsSim) -> None:
    api = await asyncio.to_thread(connect, sim)
    try:
        sim.faults.reply_delay = 0.2
        started = time.monotonic()
        await asyncio.to_thread(raw, api, "/system/identity/print")
        assert time.monotonic() - started >= 0.2
    finally:
        api.close()


async def test_failing_adds_on_one_menu(sim: RouterOsSim) -> None:
    sim.faults.fail_adds.add(NAT)

    def work(api: librouteros.Api) -> tuple[TrapError, str]:
        trap = trap_of(api, f"{NAT}/add", "=chain=srcnat", "=action=masquerade")
        return trap, api.path("ip", "firewall", "mangle").add(chain="forward", action="accept")

    trap, mangle_id = await with_api(sim, work)
    assert "simulated fault" in trap.message and trap.category == 4
    assert len(sim.rules(NAT)) == 2
    assert mangle_id == "*3"


async def test_restart_keeps_port_and_state_and_closes_sessions(sim: RouterOsSim) -> None:
    port = sim.port
    api = await asyncio.to_thread(connect, sim)
    try:
        await sim.stop()
        with pytest.raises((ConnectionClosed, OSError)):
            await asyncio.to_thread(raw, api, "/system/identity/print")
        with pytest.raises(OSError):
            await asyncio.to_thread(connect, sim)
        await sim.start()
    finally:
        api.close()
    assert sim.port == port
    rows = await with_api(sim, lambda api: raw(api, f"{NAT}/print", "=.proplist=to-addresses"))
    assert rows == [{"to-addresses": "192.168.40.103"}, {"to-addresses": "192.168.40.104"}]


async def test_counters_bumped_by_the_lab_show_in_print(sim: RouterOsSim) -> None:
    sim.bump_counters(NAT, "*2", packets=3, bytes=180)
    rows = await with_api(sim, lambda api: raw(api, f"{NAT}/print", "?>packets=0", "=.proplist=.id,packets,bytes"))
    assert rows == [{".id": "*2", "packets": 3, "bytes": 180}]


# --- ordering: place-before and move ---------------------------------------------------------


def nat_ids(api: librouteros.Api) -> list[str]:
    return [row[".id"] for row in raw(api, f"{NAT}/print", "=.proplist=.id")]


async def test_add_place_before_returns_the_new_id_and_prints_in_order(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> tuple[list, list[str]]:
        done = raw(api, f"{NAT}/add", "=chain=dstnat", "=action=accept", "=place-before=*2")
        raw(api, f"{NAT}/add", "=chain=dstnat", "=action=accept", "=place-before=*3")
        return done, nat_ids(api)

    done, order = await with_api(sim, work)
    assert done == [{"ret": "*3"}]
    assert order == ["*1", "*4", "*3", "*2"]
    assert [rule[".id"] for rule in sim.rules(NAT)] == order


@pytest.mark.parametrize(
    ("words", "order"),
    [
        (["=numbers=*3", "=destination=*1"], ["*3", "*1", "*2", "*4"]),
        # several move together, in the order given, before the destination
        (["=numbers=*4,*3", "=destination=*2"], ["*1", "*4", "*3", "*2"]),
        # without a destination: to the end
        (["=numbers=*1"], ["*2", "*3", "*4", "*1"]),
        (["=numbers=*2,*1"], ["*3", "*4", "*2", "*1"]),
        # already in place: nothing changes
        (["=numbers=*1", "=destination=*2"], ["*1", "*2", "*3", "*4"]),
    ],
)
async def test_move_puts_numbers_before_destination(sim: RouterOsSim, words: list[str], order: list[str]) -> None:
    def work(api: librouteros.Api) -> list[str]:
        for comment in ("three", "four"):
            api.path("ip", "firewall", "nat").add(chain="dstnat", action="accept", comment=comment)
        raw(api, f"{NAT}/move", *words)
        return nat_ids(api)

    assert await with_api(sim, work) == order


async def test_move_traps_and_works_on_mangle_and_filter(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> tuple[list, list, list, list]:
        traps = [
            trap_of(api, f"{NAT}/move", "=numbers=*9", "=destination=*1").message,
            trap_of(api, f"{NAT}/move", "=numbers=*1", "=destination=*9").message,
            trap_of(api, f"{NAT}/move", "=numbers=*1", "=destination=*1").message,
        ]
        raw(api, f"{MANGLE}/move", "=numbers=*2", "=destination=*1")
        mangle = [row[".id"] for row in raw(api, f"{MANGLE}/print")]
        filters = api.path("ip", "firewall", "filter")
        first = filters.add(chain="input", action="accept", comment="defconf: accept established")
        second = filters.add(chain="forward", action="drop", **{"in-interface-list": "WAN"})
        raw(api, f"{FILTER}/move", f"=numbers={second}", f"=destination={first}")
        return traps, mangle, [row[".id"] for row in raw(api, f"{FILTER}/print")], nat_ids(api)

    traps, mangle, filters, nat = await with_api(sim, work)
    assert traps == ["no such item", "no such item", "failure: cannot move item before itself"]
    assert mangle == ["*2", "*1"]
    assert filters == ["*2", "*1"]
    assert nat == ["*1", "*2"]


# --- address lists and interface lists --------------------------------------------------------


async def test_address_list_entries(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> tuple[list, list[str]]:
        for address in ("173.245.48.0/20", "103.21.244.5/22", "198.51.100.7/32", "10.0.0.1-10.0.0.9", "cloud2.mikrotik.com"):
            raw(api, f"{ADDRESS_LIST}/add", "=list=cloudflare", f"=address={address}", "=comment=[homelab-tui cf]")
        traps = [
            trap_of(api, f"{ADDRESS_LIST}/add", "=list=cloudflare", "=address=198.51.100.7").message,
            trap_of(api, f"{ADDRESS_LIST}/add", "=list=cloudflare", "=address=300.1.1.1").message,
            trap_of(api, f"{ADDRESS_LIST}/add", "=list=cloudflare").message,
            trap_of(api, f"{ADDRESS_LIST}/add", "=list=x", "=address=1.1.1.1", "=timeout=soon").message,
        ]
        raw(api, f"{ADDRESS_LIST}/add", "=list=other", "=address=198.51.100.7")  # another list: no clash
        return raw(api, f"{ADDRESS_LIST}/print", "?list=cloudflare"), traps

    entries, traps = await with_api(sim, work)
    assert [entry["address"] for entry in entries] == [
        "173.245.48.0/20", "103.21.244.0/22", "198.51.100.7", "10.0.0.1-10.0.0.9", "cloud2.mikrotik.com",
    ]
    assert entries[0]["list"] == "cloudflare" and entries[0]["comment"] == "[homelab-tui cf]"
    assert entries[0]["dynamic"] is False and entries[0]["disabled"] is False and "creation-time" in entries[0]
    assert "timeout" not in entries[0]
    assert traps == [
        "failure: already have such entry", "invalid value for argument address",
        "missing value(s) of argument(s) address", "invalid value for argument timeout",
    ]


async def test_address_list_entry_with_a_timeout_is_dynamic_and_expires(sim: RouterOsSim) -> None:
    def add(api: librouteros.Api) -> dict[str, Any]:
        item_id = api.path("ip", "firewall", "address-list").add(list="probe", address="203.0.113.9", timeout="1s")
        return raw(api, f"{ADDRESS_LIST}/print", f"?.id={item_id}")[0]

    entry = await with_api(sim, add)
    assert entry["dynamic"] is True and entry["timeout"] in ("0s", "1s")
    # the same .id in another menu (interface list member *1) has no timeout of its own
    assert "timeout" not in sim.rules("/interface/list/member")[0]
    await asyncio.sleep(1.05)
    assert await with_api(sim, lambda api: raw(api, f"{ADDRESS_LIST}/print")) == []


async def test_interface_lists_of_the_lab(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> tuple[list, list]:
        return (raw(api, "/interface/list/print", "=.proplist=name,builtin,comment"),
                raw(api, "/interface/list/member/print", "=.proplist=list,interface"))

    lists, members = await with_api(sim, work)
    assert lists == [
        {"name": "all", "builtin": True}, {"name": "none", "builtin": True}, {"name": "dynamic", "builtin": True},
        {"name": "static", "builtin": True}, {"name": "WAN", "builtin": False, "comment": "defconf"},
        {"name": "LAN", "builtin": False, "comment": "defconf"},
    ]
    assert members == [
        {"list": "LAN", "interface": "bridge"}, {"list": "WAN", "interface": "ether1"},
        {"list": "WAN", "interface": "pppoe-out1"},
    ]


async def test_interface_list_writes_and_checks(sim: RouterOsSim) -> None:
    def work(api: librouteros.Api) -> tuple[list[str], list, list]:
        lists = api.path("interface", "list")
        lists.add(name="DMZ")
        raw(api, "/interface/list/member/add", "=list=DMZ", "=interface=ether5")
        traps = [
            trap_of(api, "/interface/list/add", "=name=WAN").message,
            trap_of(api, "/interface/list/member/add", "=list=WAN", "=interface=pppoe-out1").message,
            trap_of(api, "/interface/list/member/add", "=list=WAN", "=interface=ether9").message,
            trap_of(api, "/interface/list/member/add", "=list=WAN", "=interface=all-ppp").message,
            trap_of(api, "/interface/list/member/add", "=list=GUEST", "=interface=ether5").message,
            trap_of(api, "/interface/list/remove", "=.id=*1").message,  # "all" is builtin
            trap_of(api, f"{NAT}/add", "=chain=dstnat", "=in-interface-list=GUEST").message,
        ]
        raw(api, f"{NAT}/add", "=chain=dstnat", "=action=accept", "=in-interface-list=!LAN")
        raw(api, f"{NAT}/add", "=chain=dstnat", "=action=accept", "=in-interface-list=DMZ", "=src-address-list=cloudflare")
        return traps, raw(api, "/interface/list/member/print", "?list=DMZ"), raw(api, f"{NAT}/print", "?>.id=*2")

    traps, dmz, added = await with_api(sim, work)
    assert traps == [
        "failure: already have such entry", "failure: already have such entry",
        "input does not match any value of interface", "input does not match any value of interface",
        "input does not match any value of list", "failure: can not remove builtin list",
        "input does not match any value of in-interface-list",
    ]
    assert [(member["list"], member["interface"]) for member in dmz] == [("DMZ", "ether5")]
    assert [(rule["in-interface-list"], rule["invalid"]) for rule in added] == [("!LAN", False), ("DMZ", False)]
    assert added[1]["src-address-list"] == "cloudflare"


# --- counters and the invalid flag -------------------------------------------------------------


async def test_reset_counters_one_rule_or_all(sim: RouterOsSim) -> None:
    sim.bump_counters(NAT, "*1", packets=5, bytes=300)
    sim.bump_counters(NAT, "*2", packets=3, bytes=180)
    sim.bump_counters(MANGLE, "*1", packets=8, bytes=480)

    def counters(api: librouteros.Api, menu: str) -> list[tuple[int, int]]:
        return [(row["packets"], row["bytes"]) for row in raw(api, f"{menu}/print", "=.proplist=packets,bytes")]

    def work(api: librouteros.Api) -> tuple[list, list, list]:
        raw(api, f"{NAT}/reset-counters", "=numbers=*2")
        one = counters(api, NAT)
        raw(api, f"{NAT}/reset-counters-all")
        return one, counters(api, NAT), counters(api, MANGLE)

    one, all_reset, mangle = await with_api(sim, work)
    assert one == [(5, 300), (0, 0)]
    assert all_reset == [(0, 0), (0, 0)]
    assert mangle == [(8, 480), (0, 0)]  # another table keeps its counters


async def test_a_rule_whose_interface_or_list_is_gone_is_invalid(sim: RouterOsSim) -> None:
    masquerade = sim.add_rule(NAT, {"chain": "srcnat", "action": "masquerade", "out-interface": "pppoe-out1"})
    by_list = sim.add_rule(NAT, {"chain": "dstnat", "action": "accept", "in-interface-list": "WAN"})

    def invalid_ids(api: librouteros.Api) -> list[str]:
        return [row[".id"] for row in raw(api, f"{NAT}/print", "?invalid=true", "=.proplist=.id")]

    assert await with_api(sim, invalid_ids) == []
    sim.remove_interface("pppoe-out1")
    assert await with_api(sim, invalid_ids) == [masquerade]
    # mangle's in-interface=all-ppp is a wildcard: still valid with no PPP interface left
    assert {rule["invalid"] for rule in sim.rules(MANGLE)} == {"false"}
    members = await with_api(sim, lambda api: raw(api, "/interface/list/member/print", "?list=WAN"))
    assert [member["interface"] for member in members] == ["ether1"]

    def remove_wan(api: librouteros.Api) -> list[str]:
        wan = raw(api, "/interface/list/print", "?name=WAN", "=.proplist=.id")[0][".id"]
        raw(api, "/interface/list/remove", f"=.id={wan}")
        return invalid_ids(api)

    assert await with_api(sim, remove_wan) == [masquerade, by_list]


async def test_renaming_an_interface_or_list_shows_in_rules(sim: RouterOsSim) -> None:
    rule = sim.add_rule(NAT, {"chain": "dstnat", "action": "accept", "in-interface": "!pppoe-out1",
                              "in-interface-list": "WAN"})

    def work(api: librouteros.Api) -> tuple[dict, list, TrapError]:
        raw(api, "/interface/set", "=.id=pppoe-out1", "=name=pppoe-isp")
        wan = raw(api, "/interface/list/print", "?name=WAN", "=.proplist=.id")[0][".id"]
        raw(api, "/interface/list/set", f"=.id={wan}", "=name=INTERNET")
        clash = trap_of(api, "/interface/set", "=.id=ether2", "=name=ether3")
        return (raw(api, f"{NAT}/print", f"?.id={rule}")[0],
                raw(api, "/interface/list/member/print", "?list=INTERNET", "=.proplist=interface"), clash)

    shown, members, clash = await with_api(sim, work)
    assert (shown["in-interface"], shown["in-interface-list"], shown["invalid"]) == ("!pppoe-isp", "INTERNET", False)
    assert members == [{"interface": "ether1"}, {"interface": "pppoe-isp"}]
    assert clash.message == "failure: already have such name"


# --- connection tracking ---------------------------------------------------------------------


async def test_connections_print_and_remove(sim: RouterOsSim) -> None:
    natted = sim.add_connection(
        src_address="203.0.113.7:50123", dst_address="198.51.100.19:80", reply_src_address="192.168.40.103:31681",
        connection_mark="kube_node_1", dstnat="true",
    )
    other = sim.add_connection(protocol="udp", src_address="192.168.40.103:41000", dst_address="1.1.1.1:53")

    def work(api: librouteros.Api) -> tuple[list, TrapError, list]:
        rows = raw(api, f"{CONNECTION}/print", "?dstnat=true")
        refused = trap_of(api, f"{CONNECTION}/add", "=protocol=tcp")
        raw(api, f"{CONNECTION}/remove", f"=.id={natted}")
        return rows, refused, raw(api, f"{CONNECTION}/print", "=.proplist=.id,protocol,reply-src-address")

    rows, refused, left = await with_api(sim, work)
    [row] = rows
    assert (row["protocol"], row["src-address"], row["dst-address"]) == ("tcp", "203.0.113.7:50123", "198.51.100.19:80")
    assert (row["reply-src-address"], row["reply-dst-address"]) == ("192.168.40.103:31681", "203.0.113.7:50123")
    assert (row["connection-mark"], row["tcp-state"], row["assured"]) == ("kube_node_1", "established", True)
    assert refused.message == "no such command"
    assert left == [{".id": other, "protocol": "udp", "reply-src-address": "1.1.1.1:53"}]


# --- /ip cloud behind a carrier-grade NAT ----------------------------------------------------


async def test_cloud_behind_cgnat_warns_and_the_wan_address_is_shared_space() -> None:
    async with RouterOsSim(password=PASSWORD, wan_address="100.72.13.5", public_address="203.0.113.77",
                           ddns_update_seconds=0.2) as router:
        def work(api: librouteros.Api) -> tuple[dict, dict]:
            raw(api, "/ip/cloud/set", "=ddns-enabled=yes")
            return raw(api, "/ip/cloud/print")[0], raw(api, "/ip/address/print", "?interface=pppoe-out1")[0]

        updating, wan = await with_api(router, work)
        assert updating["status"] == "updating..." and "warning" not in updating and "public-address" not in updating
        assert wan["address"] == "100.72.13.5/32"
        await asyncio.sleep(0.25)
        cloud = (await with_api(router, lambda api: raw(api, "/ip/cloud/print")))[0]
        assert (cloud["status"], cloud["public-address"], cloud["dns-name"]) == (
            "updated", "203.0.113.77", "529c0491d41c.sn.mynetname.net",
        )
        assert cloud["warning"] == "Router is behind a NAT. Remote connection might not work."
        assert router.cloud.warning == cloud["warning"]
        off = await with_api(router, lambda api: (raw(api, "/ip/cloud/set", "=ddns-enabled=no"),
                                                  raw(api, "/ip/cloud/print")[0])[1])
        assert off["ddns-enabled"] is False and "warning" not in off and "dns-name" not in off


async def test_cloud_without_nat_has_no_warning(sim: RouterOsSim) -> None:
    sim.set_ddns(True)
    cloud = (await with_api(sim, lambda api: raw(api, "/ip/cloud/print")))[0]
    assert cloud["status"] == "updated" and "warning" not in cloud


# --- fault knobs: the k-th add, the connection dropped mid-plan -------------------------------


async def test_the_kth_add_on_a_menu_fails_once_with_a_failure_trap(sim: RouterOsSim) -> None:
    sim.faults.fail_add("/ip firewall nat", nth=2)

    def work(api: librouteros.Api) -> tuple[list, TrapError, list]:
        nat = api.path("ip", "firewall", "nat")
        mangle_first = api.path("ip", "firewall", "mangle").add(chain="forward", action="accept")  # other menu
        first = nat.add(chain="srcnat", action="masquerade", comment="one")
        trap = trap_of(api, f"{NAT}/add", "=chain=srcnat", "=action=masquerade", "=comment=two")
        third = nat.add(chain="srcnat", action="masquerade", comment="three")
        return [mangle_first, first, third], trap, [row.get("comment") for row in nat]

    ids, trap, comments = await with_api(sim, work)
    assert ids == ["*3", "*3", "*4"]
    assert trap.message == "failure: already have such entry" and trap.category == 4
    assert comments[2:] == ["one", "three"]


async def test_fault_reset_puts_every_knob_back(sim: RouterOsSim) -> None:
    sim.faults.fail_add(NAT, nth=1, message="failure: out of memory")
    sim.faults.drop_mid_plan(after=0)
    sim.faults.fail_adds.add(MANGLE)
    sim.faults.reply_delay = 0.5
    sim.faults.reset()

    def work(api: librouteros.Api) -> tuple[str, str]:
        return (api.path("ip", "firewall", "nat").add(chain="srcnat", action="masquerade"),
                api.path("ip", "firewall", "mangle").add(chain="forward", action="accept"))

    assert await with_api(sim, work) == ("*3", "*3")
    assert sim.faults.reply_delay == 0 and sim.faults.fail_add_at == {} and sim.faults.drop_after_commands is None


@pytest.mark.parametrize("applied", [False, True])
async def test_drop_mid_plan_cuts_the_nth_command_once(sim: RouterOsSim, applied: bool) -> None:
    sim.faults.drop_mid_plan(after=2, applied=applied)

    def work(api: librouteros.Api) -> list[str]:
        nat = api.path("ip", "firewall", "nat")
        ids = [nat.add(chain="srcnat", action="masquerade", comment=f"step {n}") for n in (1, 2)]
        with pytest.raises(ConnectionClosed):
            nat.add(chain="srcnat", action="masquerade", comment="step 3")
        return ids

    assert await with_api(sim, work) == ["*3", "*4"]
    comments = [rule.get("comment") for rule in sim.rules(NAT)[2:]]
    assert comments == (["step 1", "step 2", "step 3"] if applied else ["step 1", "step 2"])
    # once: a new connection works, and so do its commands
    assert await with_api(sim, nat_ids) == ["*1", "*2", "*3", "*4", *(["*5"] if applied else [])]


async def test_drop_mid_plan_counts_commands_across_connections_not_logins(sim: RouterOsSim) -> None:
    sim.faults.drop_mid_plan(after=1)
    assert await with_api(sim, nat_ids) == ["*1", "*2"]  # command 1

    def second(api: librouteros.Api) -> None:
        with pytest.raises(ConnectionClosed):
            nat_ids(api)  # command 2, on another connection after another login

    await with_api(sim, second)


def test_set_ddns_settled_is_updated_at_once_else_after_the_delay() -> None:
    router = RouterOsSim(password=PASSWORD, ddns_update_seconds=60)
    router.set_ddns(True)
    assert (router.cloud.status, router.cloud.dns_name) == ("updating...", "")
    router.set_ddns(True, settled=True)
    assert (router.cloud.status, router.cloud.dns_name) == ("updated", "529c0491d41c.sn.mynetname.net")
    router.set_ddns(False)
    assert router.cloud == CloudStatus(ddns_enabled=False, dns_name="", public_address="")


def test_lab_router_behind_cgnat(tmp_path) -> None:
    from homelab_tui.sim.lab import CGNAT_WAN_ADDRESS, PUBLIC_ADDRESS, Lab

    lab = Lab("fresh", tmp_path / "lab", cgnat=True, ddns_delay=30)
    wan = [address["address"] for address in lab.router.rules("/ip/address") if address["interface"] == "pppoe-out1"]
    assert wan == [f"{CGNAT_WAN_ADDRESS}/32"]
    lab.router.set_ddns(True)
    assert lab.router.cloud.status == "updating..."
    lab.router.set_ddns(True, settled=True)
    assert (lab.router.cloud.public_address, lab.router.cloud.warning) == (
        PUBLIC_ADDRESS, "Router is behind a NAT. Remote connection might not work.",
    )
