"""The lab's DNS answers from the zone as the Cloudflare sim holds it at the moment of the query:
a record created, changed or deleted through the API (our client) is what real `dig` and
dnspython see next."""

from __future__ import annotations

import asyncio
import ipaddress

import dns.asyncquery
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from homelab_tui.clients.cloudflare import CloudflareClient, bundled_ip_ranges
from homelab_tui.sim.lab import DDNS_NAME, DOMAIN, PUBLIC_ADDRESS, Lab
from tests.integration.test_dns import dig

HOST = f"nginx.{DOMAIN}"
MARKER = "[homelab-tui default/nginx tcp/80]"


@pytest.fixture
async def lab(tmp_path):
    async with Lab("fresh", tmp_path / "lab") as lab:
        lab.router.set_ddns(True)
        for _ in range(200):  # the router publishes its DDNS name after its first update
            if lab.router.cloud.dns_name:
                break
            await asyncio.sleep(0.05)
        assert lab.router.cloud.dns_name == DDNS_NAME
        yield lab


async def query(port: int, name: str, rdtype: str) -> dns.message.Message:
    return await dns.asyncquery.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=port, timeout=2)


def in_cloudflare_ranges(address: str) -> bool:
    ranges = bundled_ip_ranges()
    return any(ipaddress.ip_address(address) in ipaddress.ip_network(cidr)
               for cidr in ranges.ipv4_cidrs + ranges.ipv6_cidrs)


async def test_a_record_made_through_the_api_is_answered_until_deleted(lab: Lab) -> None:
    port = lab.dns.port
    assert await dig(port, HOST, "A") == ("NXDOMAIN", [])
    async with CloudflareClient(lab.cloudflare_token, base_url=lab.cloudflare.url) as cf:
        zone_id = (await cf.zone_by_name(DOMAIN))["id"]
        record = await cf.create_record(zone_id, "CNAME", HOST, DDNS_NAME, comment=MARKER)

        # DNS-only: the CNAME to the DDNS name, then the router's public address.
        assert await dig(port, HOST, "A") == ("NOERROR", [
            (f"{HOST}.", "CNAME", f"{DDNS_NAME}."), (f"{DDNS_NAME}.", "A", PUBLIC_ADDRESS),
        ])  # fmt: skip
        assert await dig(port, HOST, "CNAME") == ("NOERROR", [(f"{HOST}.", "CNAME", f"{DDNS_NAME}.")])
        response = await query(port, HOST, "A")
        assert [(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), [rd.to_text() for rd in rrset])
                for rrset in response.answer] == [(f"{HOST}.", "CNAME", [f"{DDNS_NAME}."]),
                                                  (f"{DDNS_NAME}.", "A", [PUBLIC_ADDRESS])]

        # Proxied: Cloudflare's edge answers, inside its published ranges; the CNAME is hidden.
        await cf.update_record(zone_id, record.id, proxied=True)
        status, answers = await dig(port, HOST, "A")
        assert status == "NOERROR" and [rtype for _, rtype, _ in answers] == ["A", "A"]
        assert all(owner == f"{HOST}." and in_cloudflare_ranges(address) for owner, _, address in answers)
        assert PUBLIC_ADDRESS not in {address for _, _, address in answers}
        status, answers = await dig(port, HOST, "AAAA")
        assert status == "NOERROR" and len(answers) == 2
        assert all(in_cloudflare_ranges(address) for _, _, address in answers)
        assert await dig(port, HOST, "CNAME") == ("NOERROR", [])

        await cf.delete_record(zone_id, record.id)
    assert await dig(port, HOST, "A") == ("NXDOMAIN", [])
    response = await query(port, HOST, "A")
    assert response.rcode() == dns.rcode.NXDOMAIN and response.answer == []
    assert response.authority[0].name.to_text() == f"{DOMAIN}."  # the zone's SOA


async def test_a_dns_only_address_and_a_txt_record_are_answered_as_held(lab: Lab) -> None:
    port = lab.dns.port
    async with CloudflareClient(lab.cloudflare_token, base_url=lab.cloudflare.url) as cf:
        zone_id = (await cf.zone_by_name(DOMAIN))["id"]
        await cf.create_record(zone_id, "A", f"direct.{DOMAIN}", PUBLIC_ADDRESS, ttl=300, comment=MARKER)
    assert await dig(port, f"direct.{DOMAIN}", "A") == ("NOERROR", [(f"direct.{DOMAIN}.", "A", PUBLIC_ADDRESS)])
    assert await dig(port, f"direct.{DOMAIN}", "AAAA") == ("NOERROR", [])
    lab.cloudflare.seed_record(DOMAIN, "TXT", f"direct.{DOMAIN}", "seeded by the lab")
    assert await dig(port, f"direct.{DOMAIN}", "TXT") == ("NOERROR", [(f"direct.{DOMAIN}.", "TXT", '"seeded by the lab"')])


async def test_the_running_preset_zone_is_as_seed_02_left_it(tmp_path) -> None:
    async with Lab("running", tmp_path / "lab") as lab:
        assert lab.cloudflare.ssl_mode(DOMAIN) == "flexible"
        async with CloudflareClient(lab.cloudflare_token, base_url=lab.cloudflare.url) as cf:
            zone_id = (await cf.zone_by_name(DOMAIN))["id"]
            assert await cf.ssl_mode(zone_id) == "flexible"
            records = await cf.list_records(zone_id, comment_prefix="homelab-tui [homelab-tui")
        assert {(r.name, r.type, r.content, r.proxied) for r in records} == {
            (DOMAIN, "CNAME", DDNS_NAME, True), (HOST, "CNAME", DDNS_NAME, True),
        }  # fmt: skip
        for name in (DOMAIN, HOST):  # proxied: the edge answers, the same two addresses for the zone
            status, answers = await dig(lab.dns.port, name, "A")
            assert status == "NOERROR" and all(in_cloudflare_ranges(address) for _, _, address in answers)
            assert len(answers) == 2
