"""The DNS pane's row for the DNS gateway, on the running lab: none while the router forwards no
cluster domain; with the gateway's Service (k3s's ServiceLB gives it a node's address) and our FWD
entry, `*.svc.cluster.local` is OK, `kubernetes.default.svc.cluster.local` answered through the
router; the entry disabled by hand turns it to MISMATCH."""

from __future__ import annotations

from homelab_tui.plans.dns_gateway import MARKER, MENU, DnsGatewayAnswers, service_object
from homelab_tui.sim.router.menus import MENUS
from tests.ui.test_app_live import app, cells, lab, until  # noqa: F401  (the fixtures)

ROW = "*.svc.cluster.local"


def ingress_ip(sim) -> str:
    service = sim.kube.get("Service", "kube-system", "homelab-tui-dns") or {}
    ingress = (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or [{}]
    return ingress[0].get("ip", "")


async def test_the_gateway_has_a_row_that_follows_the_router(lab, app):  # noqa: F811
    async with app.run_test(size=(160, 36)) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: "example.org" in app.table("dns").rows)
        assert ROW not in app.table("dns").rows

        lab.kube.create(service_object(DnsGatewayAnswers(), ""))
        await until(pilot, lambda: ingress_ip(lab) != "")
        address = ingress_ip(lab)
        entry = lab.router.add_rule(MENU, {"name": "cluster.local", "type": "FWD", "match-subdomain": "yes",
                                           "forward-to": address, "comment": str(MARKER)})
        await until(pilot, lambda: ROW in app.table("dns").rows and cells(app, "dns", ROW)[1] == "OK")
        assert cells(app, "dns", ROW)[2:] == [f"via {app.state.router_identity.identity} → {address}",
                                              "kubernetes.default.svc.cluster.local → 10.43.0.1"]

        lab.router._set(MENUS[MENU], lab.router._find(MENU, entry), {"disabled": "true"})
        await until(pilot, lambda: cells(app, "dns", ROW)[1] == "MISMATCH")
        assert cells(app, "dns", ROW)[3] == "the router's entry is disabled"
