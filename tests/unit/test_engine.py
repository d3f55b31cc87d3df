"""The engine: order, no-ops, stop and roll back, dry run, cancellation, secrets and masking,
the audit log, and the exports (the .sh one is run against a fake ssh)."""

from __future__ import annotations

import asyncio
import json
import shlex
import stat
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from dataclasses import dataclass

import pytest
import yaml

from homelab_tui import engine
from homelab_tui.engine import (
    ApplyContext, AuditLog, PlanFinished, StepFailed, StepOutput, StepSkipped, UndoDone, UndoFailed, UndoStarted,
    apply_plan, mask,
)
from homelab_tui.export import export_plan
from homelab_tui.plans import Plan, Step, Target, secret_ref
from homelab_tui.plans.actions import CaptureSecret, FetchKubeconfig, KubeAction, Reboot, Run, Upload, WaitNodeReady

TOKEN = "K10abc::server:s3cr3t"
TOKEN_REF = secret_ref("k3s-token")
PASSWORD = "hunter2-router"


class FakeExecutor:
    """Records every action it is given. A Run echoes its command as output and raises when the
    command starts with "fail"; a CaptureSecret stores `captured[name]`."""

    def __init__(self, captured: dict[str, str] | None = None) -> None:
        self.captured = captured or {}
        self.calls: list[str] = []
        self.started = asyncio.Event()

    async def execute(self, step, action, context, output) -> None:
        if isinstance(action, CaptureSecret):
            self.calls.append(f"capture {action.name}")
            context.secrets[action.name] = self.captured[action.name]
            return
        self.calls.append(action.command)
        self.started.set()
        output(f"running {action.command}")
        if action.command.startswith("hang"):
            await asyncio.Event().wait()
        if action.command.startswith("fail"):
            raise RuntimeError(f"`{action.command}` exited 1")


def run(command: str, *, undo: str | None = None, noop: str = "", target: Target = Target.SSH) -> Step:
    return Step(target, "node1" if target is Target.SSH else "", f"do {command}", command, Run(command),
                noop_reason=noop, undo=Run(undo) if undo else None, undo_rendering=undo or "")


def capture(name: str = "k3s-token") -> Step:
    return Step(Target.SSH, "server", f"Read {name}", "sudo cat /var/lib/rancher/k3s/server/node-token",
                CaptureSecret("cat /var/lib/rancher/k3s/server/node-token", name))


async def apply(plan: Plan, executor: FakeExecutor | None = None, **options):
    executor = executor or FakeExecutor()
    events: list[object] = []
    result = await apply_plan(plan, {Target.SSH: executor, Target.ROUTER: executor}, on_event=events.append, **options)
    return result, events, executor


def kinds(events, *types) -> list[tuple[str, int]]:
    return [(type(e).__name__, e.index) for e in events if isinstance(e, types)]


def audit_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- order, no-ops, failure, rollback ----------------------------------------------------------


async def test_steps_run_in_order_and_noops_are_skipped():
    plan = Plan("p", (run("one"), run("two", noop="already there"), run("three")))
    result, events, executor = await apply(plan)
    assert executor.calls == ["one", "three"]
    assert result.ok and result.applied == [0, 2] and result.failed_index is None
    assert [type(e).__name__ for e in events] == [
        "StepStarted", "StepOutput", "StepDone", "StepSkipped", "StepStarted", "StepOutput", "StepDone", "PlanFinished"]
    assert events[3] == StepSkipped(1, plan.steps[1], "already there")
    assert events[-1] == PlanFinished(result)


async def test_first_failure_stops_the_plan_and_undoes_completed_steps_in_reverse():
    plan = Plan("p", (run("a", undo="undo a"), run("b"), run("c", undo="undo c"), run("skip", noop="done", undo="x"),
                      run("fail d", undo="undo d"), run("e")))
    result, events, executor = await apply(plan)
    # "e" never runs; "b" has no undo; the failed step itself is not undone.
    assert executor.calls == ["a", "b", "c", "fail d", "undo c", "undo a"]
    assert not result.ok and result.failed_index == 4 and result.error == "`fail d` exited 1"
    assert result.applied == [0, 1, 2] and result.undone == [2, 0] and result.undo_failed == []
    assert events[events.index(StepFailed(4, plan.steps[4], "`fail d` exited 1")) + 1:] == [
        UndoStarted(2, plan.steps[2]), StepOutput(2, "running undo c"), UndoDone(2, plan.steps[2]),
        UndoStarted(0, plan.steps[0]), StepOutput(0, "running undo a"), UndoDone(0, plan.steps[0]),
        PlanFinished(result)]


async def test_rollback_goes_on_past_an_undo_that_fails():
    plan = Plan("p", (run("a", undo="undo a"), run("b", undo="fail undo b"), run("fail c")))
    result, events, executor = await apply(plan)
    assert executor.calls == ["a", "b", "fail c", "fail undo b", "undo a"]
    assert result.undone == [0] and result.undo_failed == [1]
    assert UndoFailed(1, plan.steps[1], "`fail undo b` exited 1") in events
    assert kinds(events, UndoDone, UndoFailed) == [("UndoFailed", 1), ("UndoDone", 0)]


async def test_dry_run_executes_nothing_and_needs_no_executor(tmp_path):
    plan = Plan("p", (run("a"), run("b", noop="already there")))
    events: list[object] = []
    audit = AuditLog(tmp_path / "audit.jsonl")
    result = await apply_plan(plan, {}, on_event=events.append, dry_run=True, audit=audit)
    assert result.ok and result.applied == []
    assert events == [StepSkipped(0, plan.steps[0], engine.DRY_RUN), StepSkipped(1, plan.steps[1], "already there"),
                      PlanFinished(result)]
    assert not audit.path.exists()


async def test_a_missing_executor_is_refused_before_anything_runs():
    plan = Plan("p", (run("a"), run("/ip firewall nat add", target=Target.ROUTER), run("dns", target=Target.DNS)))
    executor = FakeExecutor()
    with pytest.raises(ValueError, match="dns"):
        await apply_plan(plan, {Target.SSH: executor, Target.ROUTER: executor})
    assert executor.calls == []


async def test_cancelling_a_step_rolls_back_then_reraises():
    plan = Plan("p", (run("a", undo="undo a"), run("hang b"), run("c")))
    executor = FakeExecutor()
    events: list[object] = []
    task = asyncio.create_task(apply_plan(plan, {Target.SSH: executor}, on_event=events.append))
    while executor.calls != ["a", "hang b"]:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert executor.calls == ["a", "hang b", "undo a"]
    assert StepFailed(1, plan.steps[1], engine.CANCELLED) in events
    finished = events[-1]
    assert isinstance(finished, PlanFinished) and finished.result.undone == [0] and not finished.result.ok


# -- secrets ----------------------------------------------------------------------------------


async def test_a_captured_secret_is_filled_in_and_masked_everywhere(tmp_path):
    install = f"K3S_TOKEN={TOKEN_REF} sh install.sh"
    plan = Plan("Join", (
        capture(),
        run(install, undo=f"uninstall --token {TOKEN_REF}"),
        run(f"fail to use {TOKEN_REF}"),
    ))
    audit = AuditLog(tmp_path / "audit.jsonl")
    result, events, executor = await apply(plan, FakeExecutor({"k3s-token": TOKEN}), audit=audit)
    # The executor gets the value...
    assert executor.calls == ["capture k3s-token", f"K3S_TOKEN={TOKEN} sh install.sh", f"fail to use {TOKEN}",
                              f"uninstall --token {TOKEN}"]
    # ...nobody else does, even where it sits inside a longer line.
    assert StepOutput(1, "running K3S_TOKEN=**** sh install.sh") in events
    assert result.error == "`fail to use ****` exited 1"
    assert TOKEN not in repr(events) and TOKEN not in repr(result)
    audit_text = audit.path.read_text()
    assert TOKEN not in audit_text and "K3S_TOKEN=${K3S_TOKEN} sh install.sh" in audit_text
    exported = export_plan(plan, tmp_path / "join.sh")
    assert TOKEN not in exported.read_text() and '"${K3S_TOKEN}"' in exported.read_text()


async def test_a_shared_context_carries_secrets_to_the_next_plan():
    context = ApplyContext()
    executor = FakeExecutor({"k3s-token": TOKEN})
    await apply(Plan("secret", (capture(),)), executor, context=context)
    result, events, _ = await apply(Plan("node", (run(f"join {TOKEN_REF}"),)), executor, context=context)
    assert result.ok and executor.calls[-1] == f"join {TOKEN}"
    assert StepOutput(0, "running join ****") in events
    assert TOKEN not in repr(context)


async def test_a_secret_never_captured_fails_its_step():
    plan = Plan("p", (run("a", undo="undo a"), run(f"use {secret_ref('nope')}")))
    result, events, executor = await apply(plan)
    assert executor.calls == ["a", "undo a"]
    assert result.failed_index == 1 and "'nope'" in result.error and "never captured" in result.error


async def test_extra_secrets_are_masked_in_output_and_errors():
    class Chatty(FakeExecutor):  # a client that echoes its login, as a plan never holds a password
        async def execute(self, step, action, context, output) -> None:
            output(f"connected as admin:{PASSWORD}@router")
            raise RuntimeError(f"login {PASSWORD}! refused")

    result, events, _ = await apply(Plan("p", (run("/ip dns print", target=Target.ROUTER),)), Chatty(),
                                    extra_secrets=[PASSWORD])
    assert StepOutput(0, "connected as admin:****@router") in events
    assert result.error == "login ****! refused"
    assert PASSWORD not in repr(events)


def test_mask_prefers_the_longest_secret_and_masks_each_line_of_a_multiline_one():
    assert mask("a abcdef b", ["abc", "abcdef"]) == "a **** b"
    assert mask("cert: line-two-of-it", ["line-one\nline-two-of-it\n"]) == "cert: ****"
    assert mask("nothing here", ["", "  "]) == "nothing here"


# -- audit log --------------------------------------------------------------------------------


async def test_audit_records_every_outcome_in_a_private_file(tmp_path):
    audit = AuditLog(tmp_path / "state" / "audit.jsonl")
    plan = Plan("Expose nginx", (run("a", undo="undo a"), run("b", undo="fail undo b"), run("c", noop="done"),
                                 run("fail d")))
    before = datetime.now().astimezone()
    await apply(plan, audit=audit)
    records = audit_records(audit.path)
    assert [(r["index"], r["outcome"]) for r in records] == [
        (0, "applied"), (1, "applied"), (2, "skipped"), (3, "failed"), (1, "undo-failed"), (0, "undone")]
    first, failed = records[0], records[3]
    assert {k: v for k, v in first.items() if k != "time"} == {
        "plan": "Expose nginx", "index": 0, "target": "ssh", "host": "node1", "description": "do a",
        "rendering": "a", "outcome": "applied", "error": ""}
    time = datetime.fromisoformat(first["time"])
    assert time.utcoffset() == timedelta(0) and before - timedelta(seconds=1) <= time <= datetime.now().astimezone()
    assert failed["error"] == "`fail d` exited 1" and records[2]["reason"] == "done"
    assert records[5]["rendering"] == "undo a"  # what the undo ran
    assert stat.S_IMODE(audit.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(audit.path.parent.stat().st_mode) == 0o700


async def test_audit_appends_across_runs(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    await apply(Plan("first", (run("a"),)), audit=audit)
    await apply(Plan("second", (run("b"),)), audit=AuditLog(audit.path))
    assert [r["plan"] for r in audit_records(audit.path)] == ["first", "second"]


def test_default_audit_path_is_in_the_xdg_state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert engine.default_audit_path() == tmp_path / "homelab-tui" / "audit.jsonl"
    assert engine.default_audit_path().name == "audit.jsonl"


# -- export -----------------------------------------------------------------------------------

FAKE_SSH = """#!{python}
import json, os, sys
command = " ".join(sys.argv[1:])
stdin = sys.stdin.read() if "cat >" in command else ""
with open(os.environ["SSH_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "stdin": stdin}}) + "\\n")
if "node-token" in command:
    print("{token}")
if "k3s.yaml" in command:
    print({kubeconfig!r})
sys.exit(255 if command.endswith("reboot") else 0)
"""
K3S_YAML = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
"""


def fake_ssh(bin_dir: Path, token: str) -> None:
    """ssh that logs its calls, and sleep that doesn't (a reboot's wait would take 10 s)."""
    bin_dir.mkdir()
    for name, text in (("ssh", FAKE_SSH.format(python=sys.executable, token=token, kubeconfig=K3S_YAML)),
                       ("sleep", "#!/bin/sh\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)


def ssh_plan(local_file: Path) -> Plan:
    quoted = "echo 'it'\"'\"'s' > /tmp/motd && grep -q \"x y\" /etc/hosts || true"
    return Plan("Join node2", (
        capture(),
        Step(Target.SSH, "node2", "Quotes as they are", quoted, Run(quoted)),
        Step(Target.SSH, "node2", "Quotes under sudo", "sudo sh -c ...", Run(quoted, sudo=True)),
        Step(Target.SSH, "node2", "Copy the installer", "scp ...", Upload(str(local_file), "/tmp/k3s install.sh")),
        Step(Target.SSH, "node2", "Install", "sudo sh -c ...",
             Run(f"K3S_TOKEN={TOKEN_REF} sh '/tmp/k3s install.sh'", sudo=True)),
        Step(Target.SSH, "node2", "Reboot", "sudo reboot", Reboot()),
        Step(Target.SSH, "node2", "Fetch the kubeconfig", "ssh node2 sudo cat /etc/rancher/k3s/k3s.yaml",
             FetchKubeconfig("/etc/rancher/k3s/k3s.yaml", "10.0.0.11", "lab", "~/.kube/config")),
        Step(Target.SSH, "node2", "Already fine", "hostnamectl", Run("never exported"), noop_reason="it is"),
        run("/ip dns static add", target=Target.ROUTER),
    ))


def test_sh_export_passes_each_command_to_ssh_exactly(tmp_path):
    local_file = tmp_path / "install.sh"
    local_file.write_text("echo installing\n")
    plan = ssh_plan(local_file)
    script = export_plan(plan, tmp_path / "plan.sh", ssh_destinations={"node2": "pi@10.0.0.12 -p 2222"})
    text = script.read_text()
    assert stat.S_IMODE(script.stat().st_mode) == 0o600
    assert text.startswith("#!/bin/sh\n") and "\nset -eu\n" in text
    assert "# Quotes under sudo\n" in text and "never exported" not in text and "/ip dns" not in text
    assert "# by hand" not in text
    subprocess.run(["sh", "-n", str(script)], check=True)

    bin_dir = tmp_path / "bin"
    fake_ssh(bin_dir, TOKEN)
    log = tmp_path / "ssh.log"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SSH_LOG": str(log)}
    subprocess.run(["sh", str(script)], check=True, env=env, stdin=subprocess.DEVNULL, timeout=60, cwd=tmp_path)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0]["argv"] == ["server", "sudo sh -c 'cat /var/lib/rancher/k3s/server/node-token'"]
    # The destination's options go in verbatim; ssh joins the rest with spaces into the remote command.
    assert all(c["argv"][:3] == ["pi@10.0.0.12", "-p", "2222"] for c in calls[1:])
    commands = [" ".join(c["argv"][3:]) for c in calls[1:]]
    quoted = plan.steps[1].action.command
    assert commands[0] == quoted
    assert shlex.split(commands[1]) == ["sudo", "sh", "-c", quoted]
    assert commands[2] == "cat > '/tmp/k3s install.sh' && chmod 755 '/tmp/k3s install.sh'"
    assert calls[3]["stdin"] == "echo installing\n"
    # The token captured by the script reaches the install command, as the engine would fill it in.
    assert shlex.split(commands[3]) == ["sudo", "sh", "-c", f"K3S_TOKEN={TOKEN} sh '/tmp/k3s install.sh'"]
    assert commands[4] == "sudo reboot"  # exits 255 as the host goes down; the script goes on
    assert calls[6]["argv"][3:] == ["-o", "ConnectTimeout=5", "true"]  # until it is back
    assert shlex.split(commands[6]) == ["sudo", "sh", "-c", "cat /etc/rancher/k3s/k3s.yaml"]
    assert len(calls) == 8
    # the kubeconfig as the engine would merge it: renamed, pointed at the node, private
    fetched = tmp_path / "lab.kubeconfig"
    assert stat.S_IMODE(fetched.stat().st_mode) == 0o600
    assert yaml.safe_load(fetched.read_text()) == {
        **yaml.safe_load(K3S_YAML), "current-context": "lab",
        "clusters": [{"cluster": {"certificate-authority-data": "Q0E=", "server": "https://10.0.0.11:6443"},
                      "name": "lab"}],
        "contexts": [{"context": {"cluster": "lab", "user": "lab"}, "name": "lab"}],
        "users": [{"name": "lab", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}}]}


def test_sh_export_refuses_a_captured_secret_with_a_single_quote(tmp_path):
    local_file = tmp_path / "install.sh"
    local_file.write_text("")
    script = export_plan(ssh_plan(local_file), tmp_path / "plan.sh")
    bin_dir = tmp_path / "bin"
    fake_ssh(bin_dir, "it's")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SSH_LOG": str(tmp_path / "ssh.log")}
    done = subprocess.run(["sh", str(script)], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert done.returncode == 1 and "K3S_TOKEN has a single quote" in done.stderr
    assert len((tmp_path / "ssh.log").read_text().splitlines()) == 1  # nothing ran after the capture


def test_rsc_export_lists_the_router_steps_with_their_descriptions(tmp_path):
    plan = Plan("Expose nginx", (
        run("setup", target=Target.SSH),
        Step(Target.ROUTER, "", "Forward port 80", '/ip firewall nat add chain=dstnat dst-port=80 comment="x"',
             Run("unused")),
        Step(Target.ROUTER, "", "Already there", "/ip firewall nat add chain=srcnat", Run("unused"), noop_reason="ok"),
        Step(Target.ROUTER, "", "Set the secret", f"/ip dns set secret={TOKEN_REF}", Run("unused")),
    ))
    text = export_plan(plan, tmp_path / "plan.rsc").read_text()
    assert text.splitlines()[1:] == [
        "# Forward port 80", '/ip firewall nat add chain=dstnat dst-port=80 comment="x"',
        "# Set the secret", "/ip dns set secret=${K3S_TOKEN}"]


@dataclass(frozen=True)
class ApplyStandIn(KubeAction):
    """A Kubernetes action whose export is its rendering (until deploy brings the real one)."""


def test_yaml_export_joins_the_kube_manifests(tmp_path):
    deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nginx\n"
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: nginx\n"
    plan = Plan("Deploy nginx", (
        Step(Target.KUBE, "", "Create the deployment", deployment, ApplyStandIn()),
        Step(Target.KUBE, "", "Create the service", service, ApplyStandIn(), noop_reason="it exists"),
        Step(Target.KUBE, "", "Create the service", service, ApplyStandIn()),
        Step(Target.KUBE, "", "Wait for node1", "kubectl wait --for=condition=Ready node/node1",
             WaitNodeReady("node1")),
    ))
    text = export_plan(plan, tmp_path / "plan.yaml").read_text()
    assert text.count("\n---\n") == 2
    assert "# kubectl wait --for=condition=Ready node/node1" in text
    documents = list(yaml.safe_load_all(text))
    assert [d and d["kind"] for d in documents] == ["Deployment", "Service", None]


def test_export_refuses_unknown_suffixes_and_empty_exports(tmp_path):
    plan = Plan("p", (run("a"), run("b", target=Target.ROUTER, noop="there")))
    with pytest.raises(ValueError, match=r"\.sh.*\.rsc.*\.yaml"):
        export_plan(plan, tmp_path / "plan.txt")
    with pytest.raises(ValueError, match="no router steps"):
        export_plan(plan, tmp_path / "plan.rsc")
    assert list(tmp_path.iterdir()) == []
