"""The reachability probe, read and judged, for both front ends (cli/probe.py and ui/probe.py): the
facts (facts/probe.py), read through SSH sessions to the nodes that are closed when it is done,
then the pure verdict (plans/verdicts/probe.py). It makes no plan and changes nothing."""

from __future__ import annotations

from ..config import Config
from ..plans.verdicts.probe import ProbeAnswers, ProbeFacts, Verdict, probe_verdict


async def probe(config: Config, answers: ProbeAnswers) -> tuple[ProbeFacts, Verdict]:
    """What was read about `answers.service`, and its hops. PlanError("--service") when the Service
    does not exist; PlanError naming the router or the cluster when either cannot be read."""
    from ..executors import build_executors  # the SSH client loads when a probe runs
    from ..facts.probe import probe_facts

    executors = build_executors(config)
    try:
        facts = await probe_facts(config, answers, executors.ssh.session)
    finally:
        await executors.close()
    return facts, probe_verdict(answers, facts)
