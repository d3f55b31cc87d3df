"""The probe's CLI twin on the simulated lab: after expose, every hop passes (the router's
/tool/fetch and the nodes' curl reach the NodePort through the sim's kube-proxy); a rule of ours
disabled on the router fails the router-rules hop, naming the rule, and skips the rest; the
Deployment scaled to 0 leaves the NodePort without endpoints: the router's fetch is refused."""

from __future__ import annotations

import json
import re
import time

from tests.e2e.test_deploy_cli import kubectl
from tests.e2e.test_expose_cli import EXPOSE, cli, lab  # noqa: F401  (the fixture)

PROBE = ["probe", "--service", "default/nginx"]


def test_probe_after_expose_passes_then_names_a_disabled_rule(lab, capsys):  # noqa: F811
    code, out = cli(lab, capsys, *EXPOSE, "--replace-dns-record", "--yes")
    assert code == 0, out

    code, out = cli(lab, capsys, *PROBE, "--json")
    assert code == 0, out
    hops = {hop["name"]: hop for hop in json.loads(out)["hops"]}
    assert [hop["verdict"] for hop in hops.values()][:7] == ["pass"] * 7, out
    assert "nginx.example.org" in hops["public name"]["detail"] and "Cloudflare's proxy" in hops["public name"]["detail"]
    assert "4 rules of ours" in hops["router rules"]["detail"]
    assert hops["router to targets"]["detail"] == ("192.168.40.103:31681, 192.168.40.104:31681 answered /tool/fetch "
                                                   "(from the router, still not the outside view)"), out
    assert hops["node ports"]["detail"] == "node1:31681 HTTP 200; node2:31681 HTTP 200", out

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


def test_probe_of_a_service_scaled_to_zero_fails_at_the_router(lab, capsys):  # noqa: F811
    code, out = cli(lab, capsys, *EXPOSE, "--replace-dns-record", "--yes")
    assert code == 0, out
    kubectl(lab, "-n", "default", "scale", "deployment/nginx", "--replicas", "0")
    deadline = time.monotonic() + 10
    while kubectl(lab, "-n", "default", "get", "endpoints", "nginx", "-o", "jsonpath={.subsets[*].addresses}"):
        assert time.monotonic() < deadline, "nginx kept a Ready endpoint"
        time.sleep(0.05)

    code, out = cli(lab, capsys, *PROBE, "--json")
    assert code == 1, out
    hops = {hop["name"]: hop for hop in json.JSONDecoder().raw_decode(out)[0]["hops"]}  # then stderr's line
    assert hops["router to targets"]["verdict"] == "fail", out
    assert ("/tool/fetch http://192.168.40.103:31681/ from the router: failure: connection refused"
            in hops["router to targets"]["detail"]), out
    assert "the Service has no Ready endpoint, so kube-proxy refuses it" in hops["router to targets"]["fix"], out
    assert [hops[name]["verdict"] for name in ("node ports", "endpoints", "pods")] == ["skipped"] * 3, out


def test_probe_of_a_missing_service_or_a_bad_flag_is_a_usage_error(lab, capsys):  # noqa: F811
    code, out = cli(lab, capsys, "probe", "--service", "default/nothing")
    assert code == 2 and "no Service default/nothing" in out, out
    code, out = cli(lab, capsys, "probe", "--service", "nginx")
    assert code == 2 and "expected namespace/name" in out, out
