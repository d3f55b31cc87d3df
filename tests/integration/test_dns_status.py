"""The DNS pane's checks against the running lab: its DNS server, router DDNS and Cloudflare."""

from __future__ import annotations

import pytest

from homelab_tui.clients.cloudflare import CloudflareClient
from homelab_tui.config import cloudflare_token, load_config
from homelab_tui.connect import dns_client
from homelab_tui.facts.dns import dns_checks
from homelab_tui.sim.lab import DDNS_NAME, DOMAIN, PUBLIC_ADDRESS, Lab


@pytest.fixture
async def lab_and_config(tmp_path):
    async with Lab("running", tmp_path / "lab") as lab:
        yield lab, load_config(lab.write_config(tmp_path / "lab.toml"))


async def test_ingress_hosts_are_checked_against_the_public_address(lab_and_config):
    lab, config = lab_and_config
    lab.cloudflare.seed_record(DOMAIN, "A", f"direct.{DOMAIN}", PUBLIC_ADDRESS, proxied=False)
    hosts = [f"direct.{DOMAIN}", f"missing.{DOMAIN}", f"nginx.{DOMAIN}", DOMAIN]
    checks = await dns_checks(config, dns_client(config), lab.router.cloud, None, hosts)
    by_name = {check.name: check for check in checks}
    assert by_name[f"direct.{DOMAIN}"].ok and by_name[f"direct.{DOMAIN}"].actual == PUBLIC_ADDRESS
    assert not by_name[f"missing.{DOMAIN}"].ok and by_name[f"missing.{DOMAIN}"].actual == "NXDOMAIN"
    # proxied: it resolves to Cloudflare's edge, not to us, which only the Cloudflare API can vouch for
    assert not by_name[f"nginx.{DOMAIN}"].ok
    assert [check.name for check in checks].count(DOMAIN) == 1  # the domain's own row is not repeated
    assert {"master1.kube.local", DDNS_NAME} <= set(by_name)


async def test_with_cloudflare_a_proxied_ingress_host_is_checked_in_the_zone(lab_and_config):
    lab, config = lab_and_config
    async with CloudflareClient(cloudflare_token(config.dns.cloudflare), base_url=config.dns.cloudflare.api_url) as cf:
        zone = await cf.zone_by_name(DOMAIN)
        records = await cf.list_records(zone["id"])
    checks = await dns_checks(config, dns_client(config), lab.router.cloud, records, [f"nginx.{DOMAIN}"])
    nginx = next(check for check in checks if check.name == f"nginx.{DOMAIN}")
    assert nginx.ok and nginx.actual == f"CNAME → {DDNS_NAME} (proxied)"
    lab.router.set_ddns(False)  # the CNAME now points at a name the router no longer keeps up
    checks = await dns_checks(config, dns_client(config), lab.router.cloud, records, [f"nginx.{DOMAIN}"])
    assert not next(check for check in checks if check.name == f"nginx.{DOMAIN}").ok
