"""A small DNS server on UDP loopback that answers from the live lab state.

It plays the part of the router's resolver: the lab hands it a callable returning the current
records, so every query reflects the lab as it is at that moment. Replies are built with
dnspython's message API and are what a resolving server would send:

- A/AAAA/TXT queries follow CNAMEs inside the sim's own data; the answer section holds the
  CNAMEs followed by the final records (like `dig` shows from a real resolver).
- A name that does not exist, under a served zone: NXDOMAIN, with the zone's SOA in authority.
- A name that exists without the asked type: NOERROR, empty answer, SOA in authority.
- A name neither under a served zone nor present in the records: REFUSED (what dnsmasq does for
  a name it has no upstream for).
- A CNAME whose target lies outside the sim's data: NOERROR with just the CNAME (dnsmasq does the
  same for a `--cname` to an unknown target); the client has to follow it up.

A resolver may forward some names elsewhere, as the router does with its FWD entries: `upstream(name)`
gives the function that answers a query for that name (None: answer from the records). The lab
forwards the cluster's domain so (sim/cluster_dns.py).

Fault knobs for tests and the demo: `drop_queries` (never answer: clients time out) and
`refuse_all` (answer every query with REFUSED).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

log = logging.getLogger(__name__)

RECORD_TTL = 60
MAX_CNAME_HOPS = 8

# (name, rdtype, value), e.g. ("master1.kube.local", "A", "192.168.40.102")
Record = tuple[str, str, str]
# A server a query is forwarded to: the reply to it, or None when it never answers.
Upstream = Callable[[dns.message.Message], dns.message.Message | None]


def normalize_name(name: str) -> str:
    """Lower-case, without the trailing dot: the form names are compared in."""
    return name.strip().rstrip(".").lower()


class DnsRecords:
    """A mutable record set that is also the callable DnsSim reads from.

    The lab may pass any `Callable[[], Iterable[Record]]` instead, e.g. one computed from the
    router and Cloudflare state; this class is the simple case (tests, static demo data).
    """

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._records: list[Record] = []
        for name, rdtype, value in records:
            self.add(name, rdtype, value)

    def add(self, name: str, rdtype: str, value: str) -> None:
        record = (normalize_name(name), rdtype.upper(), value)
        if record not in self._records:
            self._records.append(record)

    def set(self, name: str, rdtype: str, *values: str) -> None:
        """Replace all records of one name and type with `values`."""
        self.remove(name, rdtype)
        for value in values:
            self.add(name, rdtype, value)

    def remove(self, name: str, rdtype: str | None = None) -> None:
        """Remove the records of `name` (only those of `rdtype` when given)."""
        name = normalize_name(name)
        wanted = rdtype.upper() if rdtype else None
        self._records = [r for r in self._records if not (r[0] == name and wanted in (None, r[1]))]

    def __call__(self) -> list[Record]:
        return list(self._records)


@dataclass(frozen=True, slots=True)
class _Zone:
    """One snapshot of the records, indexed for answering a single query."""

    by_name: dict[str, dict[str, list[str]]]  # name -> rdtype -> values

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> _Zone:
        by_name: dict[str, dict[str, list[str]]] = {}
        for name, rdtype, value in records:
            values = by_name.setdefault(normalize_name(name), {}).setdefault(rdtype.upper(), [])
            values.append(value)
        return cls(by_name)

    def values(self, name: str, rdtype: str) -> list[str]:
        return self.by_name.get(name, {}).get(rdtype, [])


class DnsSim:
    """UDP DNS server on 127.0.0.1 answering from `records()` at query time."""

    def __init__(
        self,
        records: Callable[[], Iterable[Record]],
        zones: Iterable[str] = ("kube.local",),
        host: str = "127.0.0.1",
        port: int = 0,
        upstream: Callable[[str], Upstream | None] = lambda name: None,
    ) -> None:
        self.records = records
        self.upstream = upstream
        self.zones = tuple(normalize_name(z) for z in zones)
        self.host = host
        self.port = port
        self.drop_queries = False
        self.refuse_all = False
        self.queries_received = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _DnsProtocol(self), local_addr=(self.host, self.port)
        )
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        log.debug("DNS sim listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> DnsSim:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- answering --------------------------------------------------------------------

    def zone_of(self, name: str) -> str | None:
        """The served zone `name` belongs to, or None."""
        for zone in self.zones:
            if name == zone or name.endswith("." + zone):
                return zone
        return None

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        """The reply to `query`, or None when the query is to be dropped."""
        self.queries_received += 1
        if self.drop_queries:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        if self.refuse_all:
            response.set_rcode(dns.rcode.REFUSED)
            return response
        question = query.question[0]
        qname = normalize_name(question.name.to_text())
        qtype = dns.rdatatype.to_text(question.rdtype)
        try:
            if (forward := self.upstream(qname)) is not None:
                return _recursed(forward(query))
            zone = _Zone.from_records(self.records())
            if question.rdclass != dns.rdataclass.IN or (
                qname not in zone.by_name and self.zone_of(qname) is None
            ):
                response.set_rcode(dns.rcode.REFUSED)
            else:
                self._fill(response, zone, qname, qtype)
        except Exception:  # bad lab data must not kill the server: answer SERVFAIL, like BIND
            log.exception("DNS sim: cannot answer %s %s", qname, qtype)
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        return response

    def _fill(self, response: dns.message.Message, zone: _Zone, qname: str, qtype: str) -> None:
        """Put the CNAME chain and the final records in `response`, or a negative answer."""
        name = qname
        seen = {name}
        for _ in range(MAX_CNAME_HOPS):
            values = zone.values(name, qtype)
            if values:
                self._add_rrset(response, name, qtype, values)
                return
            targets = zone.values(name, "CNAME") if qtype != "CNAME" else []
            if not targets:
                break
            self._add_rrset(response, name, "CNAME", targets[:1])
            name = normalize_name(targets[0])
            if name in seen:  # a loop: answer what we have, like a resolver giving up
                return
            seen.add(name)
            if name not in zone.by_name and self.zone_of(name) is None:
                return  # target outside our data: the CNAME alone
        served_zone = self.zone_of(name)
        if name not in zone.by_name and served_zone is not None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        if served_zone is not None:
            response.authority.append(_soa(served_zone))

    @staticmethod
    def _add_rrset(
        response: dns.message.Message, name: str, rdtype: str, values: list[str]
    ) -> None:
        texts = [_rdata_text(rdtype, v) for v in values]
        response.answer.append(
            dns.rrset.from_text_list(name + ".", RECORD_TTL, "IN", rdtype, texts)
        )


def _recursed(reply: dns.message.Message | None) -> dns.message.Message | None:
    """An upstream's reply, passed on as this resolver's (recursion available)."""
    if reply is not None:
        reply.flags |= dns.flags.RA
    return reply


def _rdata_text(rdtype: str, value: str) -> str:
    if rdtype == "CNAME":
        return normalize_name(value) + "."
    if rdtype == "TXT" and not value.startswith('"'):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _soa(zone: str) -> dns.rrset.RRset:
    text = f"ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 {RECORD_TTL}"
    return dns.rrset.from_text(zone + ".", RECORD_TTL, "IN", "SOA", text)


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, sim: DnsSim) -> None:
        self.sim = sim
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception as exc:  # garbage on the wire: ignore it, as servers do
            log.debug("DNS sim: unparseable datagram from %s: %s", addr, exc)
            return
        response = self.sim.answer(query)
        if response is not None and self.transport is not None:
            self.transport.sendto(response.to_wire(), addr)
