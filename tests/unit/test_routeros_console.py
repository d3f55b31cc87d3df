"""RouterOS console lines, as plans render them for previews and `.rsc` export, and markers."""

from __future__ import annotations

from homelab_tui.plans.routeros import Marker, console_find, parse_marker, render_console

NAT_MENU = "/ip/firewall/nat"
MARKER = "[homelab-tui default/nginx tcp/80]"
PCC_MANGLE = {
    "chain": "prerouting", "action": "mark-connection", "in-interface": "all-ppp", "protocol": "tcp",
    "dst-port": "80", "new-connection-mark": "kube_node_1",
    "per-connection-classifier": "src-address-and-port:2/0",
    "comment": f"Load balancer. Service nginx. Mark connections to kube node 1 {MARKER}",
}


def test_render_console_pcc_mangle_and_nat_lines() -> None:
    assert render_console("add", "/ip/firewall/mangle", PCC_MANGLE) == (
        "/ip firewall mangle add chain=prerouting action=mark-connection in-interface=all-ppp protocol=tcp "
        "dst-port=80 new-connection-mark=kube_node_1 per-connection-classifier=src-address-and-port:2/0 "
        'comment="Load balancer. Service nginx. Mark connections to kube node 1 [homelab-tui default/nginx tcp/80]"'
    )
    assert render_console("add", NAT_MENU, {"comment": "x y", "chain": "dstnat"}, to_ports=31681) == (
        '/ip firewall nat add chain=dstnat to-ports=31681 comment="x y"'
    )


def test_render_console_quoting_and_targets() -> None:
    assert render_console("set", "/ip cloud", ddns_enabled=True) == "/ip cloud set ddns-enabled=yes"
    assert render_console("set", "/system/identity", name='say "hi" $x?') == (
        r'/system identity set name="say \"hi\" \$x\?"'
    )
    assert render_console("set", NAT_MENU, target="*3", to_ports="31682") == "/ip firewall nat set *3 to-ports=31682"
    assert render_console("remove", NAT_MENU, target=console_find(comment=f"a {MARKER}")) == (
        '/ip firewall nat remove [find comment="a [homelab-tui default/nginx tcp/80]"]'
    )
    assert render_console("add", NAT_MENU, comment="") == '/ip firewall nat add comment=""'


def test_markers_round_trip_and_are_never_a_number_or_a_bool() -> None:
    marker = Marker("default/nginx", "tcp", 80, "pcc", 2)
    assert str(marker) == "[homelab-tui default/nginx tcp/80 pcc 2]"
    assert parse_marker(f"Load balancer. {marker}") == marker
    assert parse_marker("[homelab-tui default/nginx tcp/80]") == Marker("default/nginx", "tcp", 80)
    assert parse_marker("defconf: masquerade") is None
