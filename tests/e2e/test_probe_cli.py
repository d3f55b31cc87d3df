"""The probe's CLI twin on the simulated lab: after expose, every hop it can check passes (the
router's own test and a node's HTTP answer are not simulated: it says "not checked"); a rule of
ours disabled on the router fails the router-rules hop, naming the rule, and skips the rest."""

from __future__ import annotations

import json
import re

from tests.e2e.test_expose_cli import EXPOSE, cli, lab  # noqa: F401  (the fixture)

PROBE = ["probe", "--service", "default/nginx"]


def test_probe_after_expose_passes_then_names_a_disabled_rule(lab, capsys):  # noqa: F811
    code, out = cli(lab, capsys, *EXPOSE, "--replace-dns-record", "--yes")
    assert code == 0, out

    code, out = cli(lab, capsys, *PROBE, "--json")
    assert code == 0, out
    hops = {hop["name"]: hop for hop in json.loads(out)["hops"]}
    assert [hops[name]["verdict"] for name in ("public name", "DDNS", "router rules", "endpoints", "pods")] == [
        "pass"] * 5, out
    assert "nginx.example.org" in hops["public name"]["detail"] and "Cloudflare's proxy" in hops["public name"]["detail"]
    assert "4 rules of ours" in hops["router rules"]["detail"]
    assert hops["router to targets"]["verdict"] == "not checked"
    assert "192.168.40.103:31681" in hops["router to targets"]["detail"]
    # the sim's curl serves no NodePort: no HTTP status, so "not checked", never a made-up pass
    assert hops["node ports"]["verdict"] == "not checked" and "node1:31681 (curl gave no HTTP status" in \
        hops["node ports"]["detail"], out

    code, out = cli(lab, capsys, *PROBE)  # the table
    assert code == 0, out
    assert "hairpin test" in out and re.search(r"^router rules +PASS +4 rules of ours", out, re.M), out

    router = lab.lab.router
    rule = next(r for r in router.rules("/ip/firewall/nat") if r.get("comment") == "[homelab-tui default/nginx tcp/80 dstnat 2]")
    router._set(router._menu("/ip/firewall/nat"), router._find("/ip/firewall/nat", rule[".id"]), {"disabled": "true"})
    code, out = cli(lab, capsys, *PROBE)
    assert code == 1, out
    assert "the hop 'router rules' fails" in out
    assert "[homelab-tui default/nginx tcp/80 dstnat 2] is disabled" in out
    assert "enable [homelab-tui default/nginx tcp/80 dstnat 2]: homelab-tui repair --service default/nginx" in out
    assert out.count("SKIPPED") == 4, out


def test_probe_of_a_missing_service_or_a_bad_flag_is_a_usage_error(lab, capsys):  # noqa: F811
    code, out = cli(lab, capsys, "probe", "--service", "default/nothing")
    assert code == 2 and "no Service default/nothing" in out, out
    code, out = cli(lab, capsys, "probe", "--service", "nginx")
    assert code == 2 and "expected namespace/name" in out, out
