"""DNS: the DnsSim checked with real `dig` and dnspython, and our DnsClient against the sim and
against a real dnsmasq. Every assertion is about replies that went over UDP on loopback."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from homelab_tui.clients.dns import DnsClient
from homelab_tui.models import DnsOutcome
from homelab_tui.sim.dns_server import DnsRecords, DnsSim
from tests.conftest import need_binary

DDNS_NAME = "529c0491d41c.sn.mynetname.net"
PUBLIC_IP = "198.51.100.19"
DOMAIN = "example.org"

REFERENCE_RECORDS = [
    ("master1.kube.local", "A", "192.168.40.102"),
    ("node1.kube.local", "A", "192.168.40.103"),
    ("node2.kube.local", "A", "192.168.40.104"),
    ("api.kube.local", "CNAME", "master1.kube.local"),
    ("ingress.kube.local", "CNAME", "api.kube.local"),
    ("outside.kube.local", "CNAME", "app.example.net"),
    ("dangling.kube.local", "CNAME", "gone.kube.local"),
    ("loop-a.kube.local", "CNAME", "loop-b.kube.local"),
    ("loop-b.kube.local", "CNAME", "loop-a.kube.local"),
    ("master1.kube.local", "TXT", "homelab-tui"),
    (DOMAIN, "CNAME", DDNS_NAME),
    (DDNS_NAME, "A", PUBLIC_IP),
]


@pytest.fixture
def records() -> DnsRecords:
    return DnsRecords(REFERENCE_RECORDS)


@pytest.fixture
async def sim(records: DnsRecords):
    async with DnsSim(records, zones=["kube.local", DOMAIN]) as server:
        yield server


def client_for(port: int, lifetime: float = 2.0) -> DnsClient:
    return DnsClient(["127.0.0.1"], port=port, timeout=min(lifetime, 1.0), lifetime=lifetime)


# --- (a) fidelity: real dig and raw dnspython against the sim ---------------------------------


async def dig(port: int, name: str, rdtype: str) -> tuple[str, list[tuple[str, str, str]]]:
    """Run the real dig; return the status and the answer section as (name, type, value)."""
    binary = need_binary("dig")
    process = await asyncio.create_subprocess_exec(
        binary, "@127.0.0.1", "-p", str(port), name, rdtype,
        "+tries=1", "+time=1", "+noall", "+comments", "+answer",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=10)
    status = ""
    answers = []
    for line in stdout.decode().splitlines():
        if "->>HEADER<<-" in line:
            status = line.split("status: ")[1].split(",")[0]
        elif line and not line.startswith(";"):
            owner, _ttl, _class, rtype, value = line.split(None, 4)
            answers.append((owner, rtype, value))
    return status, answers


async def test_dig_gets_a_record(sim: DnsSim) -> None:
    status, answers = await dig(sim.port, "node1.kube.local", "A")
    assert status == "NOERROR"
    assert answers == [("node1.kube.local.", "A", "192.168.40.103")]


async def test_dig_sees_cname_chain_then_address(sim: DnsSim) -> None:
    status, answers = await dig(sim.port, "ingress.kube.local", "A")
    assert status == "NOERROR"
    assert answers == [
        ("ingress.kube.local.", "CNAME", "api.kube.local."),
        ("api.kube.local.", "CNAME", "master1.kube.local."),
        ("master1.kube.local.", "A", "192.168.40.102"),
    ]
    status, answers = await dig(sim.port, DOMAIN, "A")
    assert answers == [(f"{DOMAIN}.", "CNAME", f"{DDNS_NAME}."), (f"{DDNS_NAME}.", "A", PUBLIC_IP)]


async def test_dig_status_for_missing_and_foreign_names(sim: DnsSim) -> None:
    assert await dig(sim.port, "nope.kube.local", "A") == ("NXDOMAIN", [])
    assert await dig(sim.port, "www.google.com", "A") == ("REFUSED", [])
    assert await dig(sim.port, "node2.kube.local", "AAAA") == ("NOERROR", [])


async def test_dnspython_sees_soa_in_authority_of_negative_answers(sim: DnsSim) -> None:
    query = dns.message.make_query("nope.kube.local", "A")
    response = await dns.asyncquery.udp(query, "127.0.0.1", port=sim.port, timeout=2)
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.RA
    [soa] = response.authority
    assert soa.name.to_text() == "kube.local." and soa.rdtype == dns.rdatatype.SOA

    query = dns.message.make_query("master1.kube.local", "TXT")
    response = await dns.asyncquery.udp(query, "127.0.0.1", port=sim.port, timeout=2)
    assert [rd.strings for rd in response.answer[0]] == [(b"homelab-tui",)]


async def test_sim_drops_and_refuses_on_demand(sim: DnsSim) -> None:
    query = dns.message.make_query("node1.kube.local", "A")
    sim.refuse_all = True
    response = await dns.asyncquery.udp(query, "127.0.0.1", port=sim.port, timeout=2)
    assert response.rcode() == dns.rcode.REFUSED
    sim.refuse_all = False
    sim.drop_queries = True
    before = sim.queries_received
    with pytest.raises(dns.exception.Timeout):
        await dns.asyncquery.udp(query, "127.0.0.1", port=sim.port, timeout=0.3)
    assert sim.queries_received == before + 1  # it arrived and was dropped


# --- (b) our client against the sim -----------------------------------------------------------


async def test_client_answer_and_cname_chain(sim: DnsSim) -> None:
    client = client_for(sim.port)
    result = await client.resolve("node2.kube.local")
    assert (result.outcome, result.addresses, result.cname_chain) == (
        DnsOutcome.ANSWER,
        ("192.168.40.104",),
        (),
    )
    result = await client.resolve(DOMAIN)
    assert result.outcome is DnsOutcome.ANSWER
    assert result.addresses == (PUBLIC_IP,)
    assert result.cname_chain == (DDNS_NAME,)
    result = await client.resolve("ingress.kube.local", "CNAME")
    assert (result.outcome, result.addresses) == (DnsOutcome.ANSWER, ("api.kube.local",))


async def test_client_negative_outcomes(sim: DnsSim) -> None:
    client = client_for(sim.port)
    nxdomain = await client.resolve("nope.kube.local")
    assert nxdomain.outcome is DnsOutcome.NXDOMAIN and nxdomain.addresses == ()
    no_answer = await client.resolve("master1.kube.local", "AAAA")
    assert no_answer.outcome is DnsOutcome.NO_ANSWER
    refused = await client.resolve("www.google.com")
    assert refused.outcome is DnsOutcome.REFUSED and "REFUSED" in refused.detail


async def test_client_records_chain_into_missing_or_foreign_targets(sim: DnsSim) -> None:
    client = client_for(sim.port)
    dangling = await client.resolve("dangling.kube.local")
    assert (dangling.outcome, dangling.cname_chain) == (DnsOutcome.NXDOMAIN, ("gone.kube.local",))
    # The sim answers with the CNAME alone; the client's follow-up query is refused.
    outside = await client.resolve("outside.kube.local")
    assert (outside.outcome, outside.cname_chain) == (DnsOutcome.REFUSED, ("app.example.net",))
    loop = await client.resolve("loop-a.kube.local")
    assert loop.outcome is DnsOutcome.NO_ANSWER and "loop" in loop.detail


async def test_bad_lab_data_gives_servfail_classified_as_refused(
    sim: DnsSim, records: DnsRecords
) -> None:
    records.add("broken.kube.local", "A", "not-an-ip")
    query = dns.message.make_query("broken.kube.local", "A")
    response = await dns.asyncquery.udp(query, "127.0.0.1", port=sim.port, timeout=2)
    assert response.rcode() == dns.rcode.SERVFAIL
    result = await client_for(sim.port).resolve("broken.kube.local")
    assert result.outcome is DnsOutcome.REFUSED and "SERVFAIL" in result.detail
    assert (await client_for(sim.port).resolve("node1.kube.local")).outcome is DnsOutcome.ANSWER


async def test_client_timeout_and_refused_faults(sim: DnsSim) -> None:
    client = client_for(sim.port, lifetime=0.5)
    sim.drop_queries = True
    started = time.monotonic()
    result = await client.resolve("node1.kube.local")
    assert result.outcome is DnsOutcome.TIMEOUT
    assert time.monotonic() - started < 2.0
    sim.drop_queries = False
    sim.refuse_all = True
    assert (await client.resolve("node1.kube.local")).outcome is DnsOutcome.REFUSED


async def test_client_sees_live_state_changes(sim: DnsSim, records: DnsRecords) -> None:
    client = client_for(sim.port)
    assert (await client.resolve("node1.kube.local")).outcome is DnsOutcome.ANSWER
    records.remove("node1.kube.local")
    assert (await client.resolve("node1.kube.local")).outcome is DnsOutcome.NXDOMAIN
    records.set(DDNS_NAME, "A", "203.0.113.7")  # the public IP changed
    assert (await client.resolve(DOMAIN)).addresses == ("203.0.113.7",)


async def test_client_check_compares_with_expected(sim: DnsSim) -> None:
    client = client_for(sim.port)
    good = await client.check(DOMAIN, DDNS_NAME)
    assert good.ok and good.actual == PUBLIC_IP
    bad = await client.check("node1.kube.local", "192.168.40.199")
    assert not bad.ok and bad.actual == "192.168.40.103"
    missing = await client.check("nope.kube.local", "192.168.40.105")
    assert not missing.ok and missing.actual == "NXDOMAIN"


# --- (c) our client against a real dnsmasq ------------------------------------------------------


def _free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (dnsmasq binds both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port


def _wait_until_answering(process: subprocess.Popen, port: int) -> None:
    query = dns.message.make_query("node1.kube.local", "A")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dnsmasq exited with {process.returncode}")
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
            return
        except (dns.exception.Timeout, OSError):
            time.sleep(0.05)
    raise RuntimeError("dnsmasq did not answer within 5 s")


@pytest.fixture(scope="module")
def dnsmasq_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = need_binary("dnsmasq")
    log_file = tmp_path_factory.mktemp("dnsmasq") / "dnsmasq.log"
    options = [
        "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
        "--user=root", "--group=root", "--local=/kube.local/",
        "--address=/master1.kube.local/192.168.40.102",
        "--host-record=node1.kube.local,192.168.40.103",
        "--host-record=node2.kube.local,192.168.40.104",
        "--cname=api.kube.local,master1.kube.local",
        "--cname=web.kube.local,node1.kube.local",
        "--cname=ingress.kube.local,web.kube.local",
        "--cname=outside.kube.local,app.example.net",
    ]  # fmt: skip
    # Between picking a free port and dnsmasq binding it, another test server may take it:
    # then dnsmasq exits at once, and a new port is tried.
    for attempt in range(5):
        port = _free_port()
        with log_file.open("w") as log:
            process = subprocess.Popen([binary, f"--port={port}", *options], stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_answering(process, port)
            break
        except RuntimeError:
            process.kill()
            process.wait()
            if attempt == 4:
                raise RuntimeError(f"dnsmasq would not start: {log_file.read_text()}") from None
    try:
        yield port
    finally:
        process.terminate()  # by PID: only the dnsmasq this fixture started
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_dnsmasq_answer_and_cname_chain(dnsmasq_port: int) -> None:
    client = client_for(dnsmasq_port)
    result = await client.resolve("node2.kube.local")
    assert (result.outcome, result.addresses) == (DnsOutcome.ANSWER, ("192.168.40.104",))
    chained = await client.resolve("ingress.kube.local")
    assert chained.outcome is DnsOutcome.ANSWER
    assert chained.cname_chain == ("web.kube.local", "node1.kube.local")
    assert chained.addresses == ("192.168.40.103",)


async def test_dnsmasq_cname_to_address_entry_needs_follow_up(dnsmasq_port: int) -> None:
    # dnsmasq answers a --cname whose target is an --address entry with the CNAME alone;
    # the client's second query gets the address.
    result = await client_for(dnsmasq_port).resolve("api.kube.local")
    assert (result.outcome, result.addresses, result.cname_chain) == (
        DnsOutcome.ANSWER,
        ("192.168.40.102",),
        ("master1.kube.local",),
    )


async def test_dnsmasq_negative_outcomes(dnsmasq_port: int) -> None:
    client = client_for(dnsmasq_port)
    assert (await client.resolve("nope.kube.local")).outcome is DnsOutcome.NXDOMAIN
    # No upstream servers: dnsmasq REFUSEs names outside its local zone.
    assert (await client.resolve("www.google.com")).outcome is DnsOutcome.REFUSED
    outside = await client.resolve("outside.kube.local")
    assert (outside.outcome, outside.cname_chain) == (DnsOutcome.REFUSED, ("app.example.net",))
    # A host-record without an IPv6 address: the name exists, AAAA does not.
    assert (await client.resolve("node1.kube.local", "AAAA")).outcome is DnsOutcome.NO_ANSWER
    # An --address=/domain/ entry is a domain rule: other types there come back NXDOMAIN.
    assert (await client.resolve("master1.kube.local", "AAAA")).outcome is DnsOutcome.NXDOMAIN
