"""A snapshot of the probe screen with one failing hop: default/nginx exposed on the `running` lab
(its hand-made PCC removed), then one of our dst-nat rules disabled on the router. Its record is
DNS-only: a proxied name answers with two edge addresses in the order the DNS server shuffles them."""

from __future__ import annotations

import tomllib

import tomli_w

from homelab_tui.cli import main
from homelab_tui.config import load_config
from homelab_tui.ui.app import HomelabApp
from tests.e2e.test_expose_cli import EXPOSE, lab  # noqa: F401  (the fixture: a LabThread)
from tests.ui.test_expose_snapshots import SIZE
from tests.ui.test_probe_screen import DISABLED, hop_rows, probe_nginx_row


def test_probe_with_a_disabled_rule_snapshot(snap_compare, lab):  # noqa: F811
    config = tomllib.loads(lab.config_path.read_text())
    config["dns"]["cloudflare"]["proxied"] = False
    lab.config_path.write_text(tomli_w.dumps(config))
    assert main([*EXPOSE, "--replace-dns-record", "--yes", "--config", str(lab.config_path)]) == 0
    router = lab.lab.router
    rule = next(r for r in router.rules("/ip/firewall/nat") if r.get("comment") == DISABLED)
    router._set(router._menu("/ip/firewall/nat"), router._find("/ip/firewall/nat", rule[".id"]), {"disabled": "true"})

    async def run_before(pilot) -> None:
        probe = await probe_nginx_row(pilot)
        assert [verdict for hop, verdict, _ in hop_rows(probe) if hop == "router rules"] == ["✗ FAIL"]
        pilot.app.screen.set_focus(None)
        await pilot.pause()

    assert snap_compare(HomelabApp(load_config(lab.config_path), clock=lambda: None), terminal_size=SIZE,
                        run_before=run_before)
