"""Pure row helpers: sort keys, status styles, our-rule marking."""

from __future__ import annotations

from homelab_tui.models import MangleRule, NatRule
from homelab_tui.ui import rows


def test_natural_sort_orders_numbers_inside_text_as_numbers():
    cells = ["node10", "node2", "10.0.0.10", "10.0.0.9", "Node1", "12", "9"]
    assert sorted(cells, key=rows.natural_key) == ["9", "10.0.0.9", "10.0.0.10", "12", "Node1", "node2", "node10"]


def test_ages_sort_by_duration_not_text():
    assert sorted(["2d", "59s", "3h", "10m", ""], key=rows.sort_key("AGE")) == ["", "59s", "10m", "3h", "2d"]
    assert rows.sort_key("NAME") is rows.natural_key


def test_status_styles():
    assert rows.status_style("Running") == ""
    assert rows.status_style("Ready") == ""
    assert rows.status_style("NotReady") == "bad"
    assert rows.status_style("CrashLoopBackOff") == "bad"
    assert rows.status_style("MISMATCH") == "bad"
    assert rows.status_style("ContainerCreating") == "warn"
    assert rows.status_style("Ready,SchedulingDisabled") == "warn"


def test_our_rules_are_marked_and_disabled_ones_dimmed():
    ours = NatRule("*1", "dstnat", "dst-nat", comment="LB [homelab-tui default/nginx tcp/80]")
    theirs = NatRule("*2", "srcnat", "masquerade", comment="defconf: masquerade")
    assert rows.nat_row(ours)[0] == rows.OURS and rows.nat_row(theirs)[0] == ""
    assert rows.rule_style(ours) == "ours" and rows.rule_style(theirs) == ""
    assert rows.rule_style(NatRule("*3", "dstnat", "dst-nat", comment=ours.comment, disabled=True)) == "disabled"


def test_in_if_shows_an_interface_list():
    by_list = NatRule("*4", "dstnat", "dst-nat", in_interface_list="WAN")
    by_interface = NatRule("*5", "dstnat", "dst-nat", in_interface="ether1")
    assert rows.nat_row(by_list)[rows.NAT_COLUMNS.index("IN-IF") - 1] == "list:WAN"
    assert rows.nat_row(by_interface)[rows.NAT_COLUMNS.index("IN-IF") - 1] == "ether1"
    assert rows.mangle_row(MangleRule("*6", "prerouting", "mark-connection", in_interface_list="WAN"))[6] == "list:WAN"
