"""Cloudflare: our client against the v4 API sim over HTTP, plus raw checks of the reply shapes."""

from __future__ import annotations

import ipaddress
import logging

import aiohttp
import pytest

from homelab_tui.clients.cloudflare import (
    CODE_CNAME_TAKEN,
    CODE_HOST_TAKEN,
    CODE_IDENTICAL_RECORD,
    CODE_RECORD_EXISTS,
    CODE_RECORD_NOT_FOUND,
    CloudflareClient,
    CloudflareError,
    CloudflareUnreachable,
    bundled_ip_ranges,
)
from homelab_tui.models import CloudflareRecord
from homelab_tui.sim.cloudflare import CloudflareSim

TOKEN = "s3cr3t-token-Zq7Xw9Vb2Lm4Np6Rt8"
DOMAIN = "example.org"
DDNS_NAME = "529c0491d41c.sn.mynetname.net"
ENVELOPE_KEYS = {"success", "errors", "messages", "result"}
SAME_NAME_HELP = (
    "For more details, refer to "
    "<https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>."
)
# Cloudflare's IPv4 ranges as the API lists them (field notes §4.7).
CLOUDFLARE_IPV4 = [
    "173.245.48.0/20", "103.21.244.0/22", "103.22.200.0/22", "103.31.4.0/22", "141.101.64.0/18",
    "108.162.192.0/18", "190.93.240.0/20", "188.114.96.0/20", "197.234.240.0/22",
    "198.41.128.0/17", "162.158.0.0/15", "104.16.0.0/13", "104.24.0.0/14", "172.64.0.0/13",
    "131.0.72.0/22",
]  # fmt: skip


@pytest.fixture
async def sim():
    async with CloudflareSim(TOKEN, zones=[DOMAIN, "other.test"]) as server:
        yield server


@pytest.fixture
async def client(sim: CloudflareSim):
    async with CloudflareClient(TOKEN, base_url=sim.url) as cf:
        yield cf


@pytest.fixture
async def zone_id(sim: CloudflareSim) -> str:
    zone_id = sim.zone_id(DOMAIN)
    assert zone_id is not None
    return zone_id


async def test_verify_token_good_and_bad(sim: CloudflareSim, client: CloudflareClient) -> None:
    result = await client.verify_token()
    assert result["status"] == "active" and len(result["id"]) == 32
    async with CloudflareClient("wrong-token", base_url=sim.url) as bad:
        with pytest.raises(CloudflareError) as caught:
            await bad.verify_token()
        assert caught.value.status == 401 and caught.value.codes == {1000}
        assert caught.value.is_auth_error
        with pytest.raises(CloudflareError) as caught:
            await bad.zone_by_name(DOMAIN)
        assert (caught.value.status, caught.value.errors) == (403, [(9109, "Invalid access token")])


async def test_zone_by_name(client: CloudflareClient, zone_id: str) -> None:
    zone = await client.zone_by_name(DOMAIN)
    assert zone is not None
    assert (zone["id"], zone["name"], zone["status"]) == (zone_id, DOMAIN, "active")
    assert await client.zone_by_name("not-mine.example") is None


async def test_record_crud(sim: CloudflareSim, client: CloudflareClient, zone_id: str) -> None:
    comment = "homelab-tui [domain example.org]"
    created = await client.create_record(
        zone_id, "CNAME", DOMAIN, DDNS_NAME, proxied=True, comment=comment
    )
    assert created == CloudflareRecord(
        id=created.id, zone_id=zone_id, type="CNAME", name=DOMAIN, content=DDNS_NAME,
        proxied=True, ttl=1, comment=comment,
    )  # fmt: skip
    assert await client.list_records(zone_id, name=DOMAIN, type="CNAME") == [created]
    assert [r["id"] for r in sim.records(DOMAIN)] == [created.id]  # the lab sees it too

    updated = await client.update_record(zone_id, created.id, content="new.sn.mynetname.net")
    assert (updated.content, updated.proxied) == ("new.sn.mynetname.net", True)
    assert updated.comment == comment  # PATCH keeps what it was not given
    assert await client.list_records(zone_id, name=DOMAIN) == [updated]

    assert await client.delete_record(zone_id, created.id) == created.id
    assert await client.list_records(zone_id) == []
    with pytest.raises(CloudflareError) as caught:
        await client.delete_record(zone_id, created.id)
    assert (caught.value.status, caught.value.codes) == (404, {CODE_RECORD_NOT_FOUND})


async def test_relative_names_expand_and_filters_apply(
    client: CloudflareClient, zone_id: str
) -> None:
    www = await client.create_record(zone_id, "A", "www", "198.51.100.19", ttl=300)
    apex = await client.create_record(zone_id, "TXT", "@", "v=spf1 -all")
    assert (www.name, www.ttl, apex.name) == (f"www.{DOMAIN}", 300, DOMAIN)
    assert await client.list_records(zone_id, type="TXT") == [apex]
    assert await client.list_records(zone_id, name=f"www.{DOMAIN}") == [www]


async def test_conflicting_records_surface_cloudflare_codes(
    client: CloudflareClient, zone_id: str
) -> None:
    async def refused(*args, **options) -> CloudflareError:
        with pytest.raises(CloudflareError) as caught:
            await client.create_record(zone_id, *args, **options)
        assert caught.value.status == 400
        return caught.value

    await client.create_record(zone_id, "CNAME", DOMAIN, DDNS_NAME, proxied=True)
    # A CNAME where a CNAME (or an A/AAAA) of that name exists: 81053, in the API's words.
    error = await refused("CNAME", DOMAIN, "elsewhere.example.net")
    assert error.errors == [
        (CODE_HOST_TAKEN, f"An A, AAAA, or CNAME record with that host already exists. {SAME_NAME_HELP}")
    ]  # fmt: skip
    # An A or AAAA where a CNAME exists: 81054.
    error = await refused("A", DOMAIN, "198.51.100.19")
    assert error.errors == [
        (CODE_CNAME_TAKEN, f"A CNAME record with that host already exists. {SAME_NAME_HELP}")
    ]
    assert (await refused("AAAA", DOMAIN, "2001:db8::1")).codes == {CODE_CNAME_TAKEN}

    await client.create_record(zone_id, "A", "node", "192.168.40.103")
    await client.create_record(zone_id, "AAAA", "node", "2001:db8::103")  # A and AAAA share names
    second = await client.create_record(zone_id, "A", "node", "192.168.40.104")  # round robin
    assert (await refused("CNAME", "node", DDNS_NAME)).codes == {CODE_HOST_TAKEN}
    error = await refused("A", "node", "192.168.40.103")  # the same record again
    assert error.errors == [(CODE_RECORD_EXISTS, "Record already exists.")]
    with pytest.raises(CloudflareError) as caught:  # an update into a copy of another record
        await client.update_record(zone_id, second.id, content="192.168.40.103")
    assert caught.value.errors == [(CODE_IDENTICAL_RECORD, "An identical record already exists.")]

    # A TXT beside a CNAME is not among the documented conflicts.
    await client.create_record(zone_id, "TXT", "txt-first", "v=verify")
    await client.create_record(zone_id, "CNAME", "txt-first", DDNS_NAME)
    names = [(r.name, r.type) for r in await client.list_records(zone_id)]
    assert names.count((f"node.{DOMAIN}", "A")) == 2 and len(names) == 6


async def test_only_address_records_are_proxied_and_proxied_ttl_is_auto(
    client: CloudflareClient, zone_id: str
) -> None:
    proxied = await client.create_record(zone_id, "A", "www", "198.51.100.19", proxied=True, ttl=300)
    assert (proxied.proxied, proxied.ttl) == (True, 1)  # Auto, whatever was sent
    cname = await client.create_record(zone_id, "CNAME", "app", DDNS_NAME, proxied=True, ttl=120)
    assert cname.ttl == 1
    dns_only = await client.create_record(zone_id, "A", "direct", "198.51.100.19", ttl=300)
    assert dns_only.ttl == 300
    assert (await client.update_record(zone_id, dns_only.id, proxied=True)).ttl == 1
    unproxied = await client.update_record(zone_id, cname.id, proxied=False, ttl=600)
    assert (unproxied.proxied, unproxied.ttl) == (False, 600)

    txt = await client.create_record(zone_id, "TXT", "note", "hello")
    with pytest.raises(CloudflareError) as caught:
        await client.create_record(zone_id, "TXT", "note2", "hello", proxied=True)
    assert caught.value.errors == [(9004, "This record type cannot be proxied.")]
    with pytest.raises(CloudflareError) as caught:
        await client.update_record(zone_id, txt.id, proxied=True)
    assert caught.value.codes == {9004}
    assert (await client.list_records(zone_id, name="note"))[0].proxied is False


async def test_comments_and_tags_are_kept_and_filtered(
    sim: CloudflareSim, client: CloudflareClient, zone_id: str
) -> None:
    marker = "[homelab-tui default/nginx tcp/80]"
    ours = await client.create_record(
        zone_id, "CNAME", "nginx", DDNS_NAME, proxied=True, comment=marker, tags=("owner:homelab-tui",)
    )  # fmt: skip
    assert (ours.comment, ours.tags) == (marker, ("owner:homelab-tui",))
    other = await client.create_record(zone_id, "CNAME", "www", DDNS_NAME, comment="made by hand")
    second = await client.create_record(
        zone_id, "A", "blog", "198.51.100.19", comment="[HOMELAB-TUI default/blog tcp/80]"
    )
    bare = await client.create_record(zone_id, "A", "bare", "198.51.100.19")

    assert await client.list_records(zone_id, comment=marker) == [ours]
    assert await client.list_records(zone_id, comment=marker.upper()) == [ours]  # case-insensitive
    assert await client.list_records(zone_id, comment="[homelab-tui default/nginx") == []  # whole
    assert await client.list_records(zone_id, comment_prefix="[homelab-tui ") == [ours, second]
    assert await client.list_records(zone_id, name="nginx", comment_prefix="[homelab-tui") == [ours]
    assert await client.list_records(zone_id, type="A", comment_prefix="[homelab-tui") == [second]
    assert await client.list_records(zone_id, tag="owner") == [ours]
    assert await client.list_records(zone_id, tag="owner:homelab-tui") == [ours]
    assert await client.list_records(zone_id, tag="owner:someone-else") == []

    async def raw_ids(**query: str) -> list[str]:
        status, body = await raw(
            "GET", f"{sim.url}/zones/{zone_id}/dns_records", BEARER, params=query
        )
        assert status == 200, body
        return [record["id"] for record in body["result"]]

    assert await raw_ids(**{"comment.contains": "BY HAND"}) == [other.id]
    assert await raw_ids(**{"comment.endswith": "tcp/80]"}) == [ours.id, second.id]
    assert await raw_ids(**{"comment.present": ""}) == [ours.id, other.id, second.id]
    assert await raw_ids(**{"comment.absent": ""}) == [bare.id]
    assert await raw_ids(**{"tag.absent": "owner"}) == [other.id, second.id, bare.id]
    assert await raw_ids(comment="made by hand") == [other.id]  # `comment` is comment.exact
    status, body = await raw(
        "GET", f"{sim.url}/zones/{zone_id}/dns_records", BEARER, params={"comment.prefix": "x"}
    )
    assert status == 400 and body["success"] is False  # a misspelt filter never lists everything

    moved = await client.update_record(zone_id, ours.id, content="new.sn.mynetname.net")
    assert (moved.comment, moved.tags) == (marker, ("owner:homelab-tui",))  # PATCH keeps them
    renamed = await client.update_record(zone_id, other.id, comment=marker + " replaced")
    assert renamed.comment == marker + " replaced" and renamed.content == DDNS_NAME
    assert [r["comment"] for r in sim.records(DOMAIN)][:2] == [marker, marker + " replaced"]
    status, body = await raw(
        "PUT", f"{sim.url}/zones/{zone_id}/dns_records/{ours.id}", BEARER,
        json={"type": "CNAME", "name": "nginx", "content": DDNS_NAME},
    )  # fmt: skip
    assert status == 200 and (body["result"]["comment"], body["result"]["tags"]) == (None, [])


async def test_zone_ssl_mode(sim: CloudflareSim, client: CloudflareClient, zone_id: str) -> None:
    assert await client.ssl_mode(zone_id) == "full"  # a new zone's default
    sim.set_ssl_mode(DOMAIN, "flexible")
    assert await client.ssl_mode(zone_id) == "flexible"

    url = f"{sim.url}/zones/{zone_id}/settings/ssl"
    status, body = await raw("GET", url, BEARER)
    assert status == 200 and set(body) == ENVELOPE_KEYS
    assert {key: body["result"][key] for key in ("id", "value", "editable")} == {
        "id": "ssl", "value": "flexible", "editable": True,
    }  # fmt: skip
    assert body["result"]["modified_on"].endswith("Z")
    status, body = await raw("PATCH", url, BEARER, json={"value": "strict"})
    assert (status, body["result"]["value"]) == (200, "strict")
    assert sim.ssl_mode(DOMAIN) == "strict" and await client.ssl_mode(zone_id) == "strict"
    status, body = await raw("PATCH", url, BEARER, json={"value": "full-strict"})
    assert (status, body["errors"]) == (
        400, [{"code": 1007, "message": "Invalid value for zone setting ssl"}],
    )  # fmt: skip
    assert sim.ssl_mode(DOMAIN) == "strict"
    status, body = await raw("GET", url, {"Authorization": "Bearer nope"})
    assert status == 403 and body["errors"][0]["code"] == 9109
    with pytest.raises(CloudflareError) as caught:
        await client.ssl_mode("0" * 32)
    assert caught.value.codes == {7003, 7000}


async def test_ips_live_and_bundled(sim: CloudflareSim, client: CloudflareClient) -> None:
    live = await client.ips()
    assert list(live.ipv4_cidrs) == CLOUDFLARE_IPV4
    assert "2606:4700::/32" in live.ipv6_cidrs and len(live.ipv6_cidrs) == 7
    assert len(live.etag) == 32 and live.date == ""
    assert (await client.ips()).etag == live.etag  # a digest of the data: stable
    async with CloudflareClient("", base_url=sim.url) as anonymous:  # /ips needs no token
        assert await anonymous.ips() == live
    status, body = await raw("GET", f"{sim.url}/ips")
    assert status == 200 and set(body["result"]) == {"ipv4_cidrs", "ipv6_cidrs", "etag"}

    snapshot = bundled_ip_ranges()
    assert snapshot.date == "2024-11-04" and "2024-11-04" in snapshot.source
    assert list(snapshot.ipv4_cidrs) == CLOUDFLARE_IPV4
    assert snapshot.ipv6_cidrs == live.ipv6_cidrs and snapshot.etag == ""
    for cidr in snapshot.ipv4_cidrs + snapshot.ipv6_cidrs:
        assert str(ipaddress.ip_network(cidr)) == cidr  # each one a network address


async def test_public_records_show_what_a_resolver_gets(sim: CloudflareSim) -> None:
    sim.seed_record(DOMAIN, "CNAME", "nginx", DDNS_NAME, proxied=True)
    sim.seed_record(DOMAIN, "A", "direct", "198.51.100.19")
    sim.seed_record(DOMAIN, "TXT", "@", "v=spf1 -all")
    sim.seed_record("other.test", "A", "host", "10.0.0.1")
    answers = sim.public_records(DOMAIN)
    assert (f"direct.{DOMAIN}", "A", "198.51.100.19") in answers
    assert (DOMAIN, "TXT", "v=spf1 -all") in answers
    nginx = [(rtype, value) for name, rtype, value in answers if name == f"nginx.{DOMAIN}"]
    assert sorted(rtype for rtype, _ in nginx) == ["A", "A", "AAAA", "AAAA"]  # no CNAME shown
    networks = [ipaddress.ip_network(cidr) for cidr in bundled_ip_ranges().ipv4_cidrs]
    networks += [ipaddress.ip_network(cidr) for cidr in bundled_ip_ranges().ipv6_cidrs]
    for _, address in nginx:
        assert any(ipaddress.ip_address(address) in network for network in networks), address
    assert len(answers) == 6 and sim.public_records("other.test") == [
        ("host.other.test", "A", "10.0.0.1")
    ]


async def test_validation_errors(client: CloudflareClient, zone_id: str) -> None:
    cases = [
        (("A", "bad", "not-an-ip"), {}, 9005),
        (("AAAA", "bad", "192.168.40.1"), {}, 9006),
        (("CNAME", "bad", "not a host"), {}, 9007),
        (("A", "bad", "192.168.40.1"), {"ttl": 30}, 9021),
        (("TXT", "bad", "hello"), {"proxied": True}, 9004),
    ]
    for args, options, code in cases:
        with pytest.raises(CloudflareError) as caught:
            await client.create_record(zone_id, *args, **options)
        assert (caught.value.status, caught.value.codes) == (400, {code}), args
    assert await client.list_records(zone_id) == []


async def test_pagination_reads_every_page(sim: CloudflareSim, zone_id: str) -> None:
    for i in range(12):
        sim.seed_record(DOMAIN, "A", f"host{i}", f"192.168.40.{10 + i}")
    sim.seed_record("other.test", "A", "host0", "10.0.0.1")  # another zone: not listed
    async with CloudflareClient(TOKEN, base_url=sim.url, per_page=5) as cf:
        served_before = sim.requests_served
        records = await cf.list_records(zone_id)
        assert sim.requests_served - served_before == 3  # pages of 5, 5 and 2
    assert [r.name for r in records] == [f"host{i}.{DOMAIN}" for i in range(12)]
    assert {r.zone_id for r in records} == {zone_id}


async def test_unknown_zone_id_is_an_error(client: CloudflareClient) -> None:
    with pytest.raises(CloudflareError) as caught:
        await client.list_records("0" * 32)
    assert caught.value.status == 400 and caught.value.codes == {7003, 7000}


async def test_unreachable_api(sim: CloudflareSim) -> None:
    url = sim.url
    await sim.stop()
    async with CloudflareClient(TOKEN, base_url=url, timeout=2) as cf:
        with pytest.raises(CloudflareUnreachable) as caught:
            await cf.verify_token()
    assert TOKEN not in str(caught.value)


async def test_token_never_leaks(
    sim: CloudflareSim, client: CloudflareClient, zone_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await client.create_record(zone_id, "CNAME", DOMAIN, DDNS_NAME)
    with pytest.raises(CloudflareError) as duplicate:
        await client.create_record(zone_id, "CNAME", DOMAIN, DDNS_NAME)
    async with CloudflareClient(TOKEN + "x", base_url=sim.url) as wrong:
        with pytest.raises(CloudflareError) as denied:
            await wrong.verify_token()
        assert TOKEN not in repr(wrong)
    for text in (str(duplicate.value), repr(duplicate.value), str(denied.value), repr(client),
                 repr(sim), caplog.text):  # fmt: skip
        assert TOKEN not in text
    assert "Cloudflare POST" in caplog.text  # the log did capture the requests


# --- raw HTTP: the reply shapes themselves ------------------------------------------------------


async def raw(method: str, url: str, headers: dict[str, str] | None = None, **kwargs):
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, headers=headers or {}, **kwargs) as response:
            return response.status, await response.json()


BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def test_raw_success_envelopes(sim: CloudflareSim, zone_id: str) -> None:
    status, body = await raw("GET", f"{sim.url}/user/tokens/verify", BEARER)
    assert status == 200 and set(body) == ENVELOPE_KEYS and body["success"] is True
    assert body["messages"][0]["message"] == "This API Token is valid and active"

    status, body = await raw("GET", f"{sim.url}/zones?name={DOMAIN}", BEARER)
    assert status == 200 and set(body) == ENVELOPE_KEYS | {"result_info"}
    assert body["result_info"] == {
        "page": 1, "per_page": 20, "count": 1, "total_count": 1, "total_pages": 1,
    }  # fmt: skip

    payload = {"type": "CNAME", "name": "@", "content": DDNS_NAME, "proxied": True, "ttl": 1}
    status, body = await raw("POST", f"{sim.url}/zones/{zone_id}/dns_records", BEARER, json=payload)
    record = body["result"]
    assert status == 200 and body["errors"] == []
    expected_keys = {"id", "zone_id", "zone_name", "name", "type", "content", "proxied",
                     "proxiable", "ttl", "comment", "created_on", "modified_on"}  # fmt: skip
    assert expected_keys <= set(record)
    assert (record["zone_name"], record["proxiable"], record["comment"]) == (DOMAIN, True, None)
    assert record["created_on"].endswith("Z")

    status, body = await raw(
        "PUT", f"{sim.url}/zones/{zone_id}/dns_records/{record['id']}", BEARER,
        json={"type": "A", "name": DOMAIN, "content": "198.51.100.19"},
    )  # fmt: skip
    assert status == 200
    assert (body["result"]["type"], body["result"]["proxied"]) == ("A", False)  # PUT replaces


async def test_raw_auth_error_shapes(sim: CloudflareSim) -> None:
    zones = f"{sim.url}/zones"
    status, body = await raw("GET", zones)
    assert (status, body["success"], body["result"]) == (400, False, None)
    assert body["errors"][0]["code"] == 9106
    status, body = await raw("GET", zones, {"Authorization": "Token abc"})
    assert status == 400
    assert body["errors"] == [
        {
            "code": 6003,
            "message": "Invalid request headers",
            "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}],
        }
    ]
    status, body = await raw("GET", zones, {"Authorization": "Bearer nope"})
    assert (status, body["errors"]) == (403, [{"code": 9109, "message": "Invalid access token"}])
    assert body["messages"] == []


async def test_raw_route_and_body_errors(sim: CloudflareSim, zone_id: str) -> None:
    status, body = await raw("GET", f"{sim.url}/nowhere", BEARER)
    assert (status, body["errors"]) == (404, [{"code": 7000, "message": "No route for that URI"}])
    status, body = await raw("GET", f"{sim.url}/zones/{DOMAIN}", BEARER)
    assert status == 400 and [e["code"] for e in body["errors"]] == [7003, 7000]
    assert f"/client/v4/zones/{DOMAIN}" in body["errors"][0]["message"]
    status, body = await raw("DELETE", f"{sim.url}/zones", BEARER)
    assert status == 405 and body["errors"][0]["code"] == 7001
    status, body = await raw(
        "POST", f"{sim.url}/zones/{zone_id}/dns_records", BEARER, data=b"{not json"
    )
    assert (status, body["errors"][0]["code"]) == (400, 6007)
    status, body = await raw("GET", f"{sim.url}/zones/{zone_id}/dns_records/{'f' * 32}", BEARER)
    assert (status, body["errors"]) == (404, [{"code": 81044, "message": "Record does not exist."}])
