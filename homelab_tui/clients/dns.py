"""Async DNS look-ups that classify the outcome instead of raising.

Built on dnspython's async resolver with explicit nameservers (no /etc/resolv.conf, no cache),
so every look-up asks the server afresh. `resolve` returns a `models.DnsResult`:

- ANSWER: records found; `addresses` holds them (IPs for A/AAAA, targets for CNAME, text for TXT).
- NXDOMAIN: the name (or the end of its CNAME chain) does not exist.
- NO_ANSWER: the name exists without records of that type; also a CNAME loop or a chain that is
  too long (`detail` says which).
- REFUSED: every server answered but would not resolve: REFUSED, or another error rcode such as
  SERVFAIL (`detail` names the rcode).
- TIMEOUT: no server answered within the lifetime, or none could be reached at all
  (e.g. ICMP port unreachable); `detail` tells which.

CNAME chains are followed: dnspython reads the chain inside one response; when it ends at a
target the server did not answer for, the client asks again for that target. `cname_chain` lists
every name followed, in order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from homelab_tui.models import DnsCheck, DnsOutcome, DnsResult

log = logging.getLogger(__name__)

MAX_CNAME_FOLLOW_UPS = 8


def _bare(name: dns.name.Name | str) -> str:
    """A name as people write it: no trailing dot."""
    return str(name).rstrip(".")


def _rdata_text(rdata: object) -> str:
    if hasattr(rdata, "address"):
        return rdata.address  # type: ignore[attr-defined]
    if hasattr(rdata, "target"):
        return _bare(rdata.target)  # type: ignore[attr-defined]
    if hasattr(rdata, "strings"):
        return b"".join(rdata.strings).decode(errors="replace")  # type: ignore[attr-defined]
    return rdata.to_text()  # type: ignore[attr-defined]


def _chain_in(response: dns.message.Message) -> list[str]:
    """The CNAME targets followed inside one response, in order."""
    try:
        chaining = response.resolve_chaining()
    except dns.exception.DNSException:
        return []
    return [_bare(rrset[0].target) for rrset in chaining.cnames]


class DnsClient:
    """Resolve names against explicit nameservers; see the module docstring for outcomes."""

    def __init__(
        self,
        nameservers: Sequence[str],
        port: int = 53,
        timeout: float = 2.0,
        lifetime: float = 5.0,
    ) -> None:
        self.nameservers = tuple(nameservers)
        self.port = port
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = list(self.nameservers)
        resolver.port = port
        resolver.timeout = timeout
        resolver.lifetime = lifetime
        self._resolver = resolver

    def __repr__(self) -> str:
        return f"DnsClient(nameservers={self.nameservers!r}, port={self.port})"

    async def resolve(self, name: str, rdtype: str = "A") -> DnsResult:
        """Look up `name`/`rdtype`, following CNAMEs; never raises for DNS outcomes."""
        rdtype = rdtype.upper()
        dns.rdatatype.from_text(rdtype)  # a bad type is a programming error: raise now
        chain: list[str] = []
        current = name
        for _ in range(MAX_CNAME_FOLLOW_UPS + 1):
            result, next_name = await self._query_once(name, current, rdtype, chain)
            if result is not None:
                return result
            assert next_name is not None
            if next_name in chain[:-1] or next_name == _bare(name):
                return DnsResult(
                    name, DnsOutcome.NO_ANSWER, (), tuple(chain), f"CNAME loop at {next_name}"
                )
            current = next_name
        return DnsResult(
            name,
            DnsOutcome.NO_ANSWER,
            (),
            tuple(chain),
            f"CNAME chain longer than {MAX_CNAME_FOLLOW_UPS} look-ups",
        )

    async def _query_once(
        self, name: str, current: str, rdtype: str, chain: list[str]
    ) -> tuple[DnsResult | None, str | None]:
        """One query for `current`; extends `chain`. Returns a final result, or the next name."""

        def done(outcome: DnsOutcome, addresses: tuple[str, ...] = (), detail: str = ""):
            return DnsResult(name, outcome, addresses, tuple(chain), detail), None

        try:
            answer = await self._resolver.resolve(
                current, rdtype, raise_on_no_answer=False, search=False
            )
        except dns.resolver.NXDOMAIN as exc:
            for response in exc.kwargs.get("responses", {}).values():
                chain.extend(_chain_in(response))
            return done(DnsOutcome.NXDOMAIN, detail=f"{_bare(exc.canonical_name)} does not exist")
        except dns.resolver.NoNameservers as exc:
            outcome, detail = _classify_failure(exc)
            return done(outcome, detail=detail)
        except dns.resolver.LifetimeTimeout:
            servers = ", ".join(f"{ns}:{self.port}" for ns in self.nameservers)
            lifetime = self._resolver.lifetime
            return done(DnsOutcome.TIMEOUT, detail=f"no reply from {servers} within {lifetime:g} s")
        except dns.resolver.YXDOMAIN as exc:
            return done(DnsOutcome.REFUSED, detail=f"YXDOMAIN: {exc}")
        log.debug("DNS %s %s answered by %s", current, rdtype, answer.nameserver)
        chain.extend(_chain_in(answer.response))
        if answer.rrset is not None:
            return done(DnsOutcome.ANSWER, tuple(_rdata_text(rd) for rd in answer.rrset))
        if rdtype != "CNAME" and _bare(answer.canonical_name) != _bare(current):
            return None, _bare(answer.canonical_name)  # the server left the target to us
        return done(DnsOutcome.NO_ANSWER, detail=f"{_bare(current)} has no {rdtype} record")

    async def check(self, name: str, expected: str, rdtype: str = "A") -> DnsCheck:
        """Does `name` resolve to `expected` (an address, or a name in its CNAME chain)?"""
        result = await self.resolve(name, rdtype)
        if result.outcome is DnsOutcome.ANSWER:
            actual = ", ".join(result.addresses)
        else:
            actual = result.outcome.value.upper()  # NXDOMAIN, NO-ANSWER, REFUSED, TIMEOUT, as dig says
        wanted = _bare(expected).lower()
        seen = {v.lower() for v in (*result.addresses, *result.cname_chain)}
        return DnsCheck(name, expected, actual, wanted in seen, result.detail)


def _classify_failure(exc: dns.resolver.NoNameservers) -> tuple[DnsOutcome, str]:
    """Why every server failed: an error rcode (REFUSED), a CNAME loop, or no reply at all."""
    errors = exc.kwargs.get("errors", [])
    parts = []
    for server, _tcp, _port, error, response in errors:
        what = dns.rcode.to_text(response.rcode()) if isinstance(error, str) else repr(error)
        parts.append(f"{server} answered {what}")
    detail = "; ".join(parts) or "no nameserver would answer"
    reasons = [error for _server, _tcp, _port, error, _response in errors]
    if any(isinstance(reason, dns.message.ChainTooLong) for reason in reasons):
        return DnsOutcome.NO_ANSWER, f"CNAME loop or chain too long ({detail})"
    if any(isinstance(reason, str) for reason in reasons):  # dnspython records a bad rcode as text
        return DnsOutcome.REFUSED, detail
    return DnsOutcome.TIMEOUT, f"no usable reply: {detail}"
