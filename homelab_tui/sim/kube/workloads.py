"""Workload controllers of the simulated cluster, after kube-controller-manager's:

- the deployment controller: a ReplicaSet per pod template (`<deployment>-<pod-template-hash>`,
  revision annotations), a RollingUpdate that scales the new ReplicaSet up within maxSurge and
  the old ones down within maxUnavailable as new pods become available (or Recreate), the status
  counts and the Progressing / Available conditions as the real one computes them, and
  ProgressDeadlineExceeded when a rollout makes no progress for progressDeadlineSeconds (times
  the controller's `time_scale`); old ReplicaSets beyond revisionHistoryLimit go;
- the ReplicaSet controller: pods from the template, the least valuable deleted first;
- the DaemonSet controller: one pod per node matching the template's nodeSelector;
- the garbage collector: dependents of an owner that is gone (ownerReferences).
Each records the Events its real counterpart records."""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable

from .events import EventRecorder
from .objects import NAME_SUFFIX_ALPHABET, clone, labels_of, object_key, timestamp
from .resources import JsonObject, resource_type
from .store import Store
from .verbs import Verbs

REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
OWNER_KINDS = {"Deployment": "deployments", "ReplicaSet": "replicasets", "DaemonSet": "daemonsets",
               "Service": "services"}


def template_hash(template: JsonObject) -> str:
    """pod-template-hash as the controllers make it: a 32-bit hash, safe-encoded."""
    digest = str(zlib.crc32(json.dumps(template, sort_keys=True).encode()))
    return "".join(NAME_SUFFIX_ALPHABET[ord(ch) % len(NAME_SUFFIX_ALPHABET)] for ch in digest)


def controller_of(obj: JsonObject) -> JsonObject | None:
    return next((o for o in obj["metadata"].get("ownerReferences") or [] if o.get("controller")), None)


def owner_reference(owner: JsonObject) -> JsonObject:
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int, or a percentage of `total` rounded."""
    if value is None:
        value = "25%"
    if isinstance(value, int):
        return value
    percent = int(str(value).rstrip("%"))
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def surge_and_unavailable(deploy: JsonObject) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved as ResolveFenceposts does: surge rounds up,
    unavailable down, and both 0 makes unavailable 1. Recreate: (0, 0)."""
    spec = deploy["spec"]
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    replicas = spec.get("replicas", 1)
    surge = scaled_value(rolling.get("maxSurge"), replicas, True)
    unavailable = scaled_value(rolling.get("maxUnavailable"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def pod_ready(pod: JsonObject) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions") or [])


def _active(pod: JsonObject) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and pod.get("status", {}).get("phase") not in (
        "Succeeded", "Failed")


def _deletion_rank(pod: JsonObject) -> tuple:
    """Pods a ReplicaSet deletes first sort first (ActivePodsWithRanks): unscheduled, pending,
    not ready, more restarts, newer."""
    status = pod.get("status", {})
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", "Pending"), 0)
    created = pod["metadata"].get("creationTimestamp", "")
    return (bool(pod["spec"].get("nodeName")), phase_rank, pod_ready(pod), -restarts,
            "".join(chr(0x10FFFF - ord(c)) for c in created), pod["metadata"]["name"])


def _set_condition(conditions: list[JsonObject], kind: str, status: str, reason: str, message: str,
                   now: str) -> list[JsonObject]:
    """SetDeploymentCondition: unchanged status and reason keep the condition; a same status
    keeps lastTransitionTime; the new one goes last."""
    current = next((c for c in conditions if c["type"] == kind), None)
    if current and current["status"] == status and current["reason"] == reason:
        return conditions
    transition = current["lastTransitionTime"] if current and current["status"] == status else now
    return [c for c in conditions if c["type"] != kind] + [
        {"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": transition,
         "reason": reason, "message": message}]


class Workloads:
    def __init__(self, store: Store, verbs: Verbs, events: EventRecorder, now: Callable[[], float],
                 wake: Callable[[float], None]) -> None:
        self._store = store
        self._verbs = verbs
        self._events = events
        self._now = now
        self._wake = wake
        self.time_scale = 1.0
        self._progress_at: dict[str, float] = {}  # deployment uid -> loop time of its last progress
        self._pod_rt, self._rs_rt = resource_type("Pod"), resource_type("ReplicaSet")
        self._deploy_rt, self._ds_rt = resource_type("Deployment"), resource_type("DaemonSet")

    def reconcile(self) -> None:
        self._collect_garbage()
        pods_by_owner = self._pods_by_owner()
        for deploy in list(self._store.objects["deployments"].values()):
            self._sync_deployment(deploy)
        for rs in list(self._store.objects["replicasets"].values()):
            self._sync_replica_set(rs, pods_by_owner.get(rs["metadata"]["uid"], []))
        for ds in list(self._store.objects["daemonsets"].values()):
            self._sync_daemon_set(ds, pods_by_owner.get(ds["metadata"]["uid"], []))
        for deploy in list(self._store.objects["deployments"].values()):
            self._sync_deployment_status(deploy)

    def _pods_by_owner(self) -> dict[str, list[JsonObject]]:
        owned: dict[str, list[JsonObject]] = {}
        if not self._store.objects["replicasets"] and not self._store.objects["daemonsets"]:
            return owned
        for pod in self._store.objects["pods"].values():
            if pod["metadata"].get("ownerReferences") and (owner := controller_of(pod)):
                owned.setdefault(owner["uid"], []).append(pod)
        return owned

    def _owned(self, plural: str, owner: JsonObject) -> list[JsonObject]:
        uid = owner["metadata"]["uid"]
        namespace = owner["metadata"].get("namespace")
        return [o for (ns, _), o in sorted(self._store.objects[plural].items())
                if ns == namespace and (controller_of(o) or {}).get("uid") == uid]

    # -- garbage collection -----------------------------------------------------------------

    def _collect_garbage(self) -> None:
        live = {o["metadata"]["uid"] for plural in OWNER_KINDS.values() for o in self._store.objects[plural].values()}
        for plural in ("replicasets", "pods", "endpointslices"):
            rt = resource_type(plural)
            for obj in [o for o in self._store.objects[plural].values() if o["metadata"].get("ownerReferences")]:
                owner = controller_of(obj)
                if owner and owner.get("kind") in OWNER_KINDS and owner["uid"] not in live:
                    if not obj["metadata"].get("deletionTimestamp"):
                        self._verbs.delete(rt, *object_key(obj), None)

    # -- Deployments ------------------------------------------------------------------------

    def _sync_deployment(self, deploy: JsonObject) -> None:
        spec = deploy["spec"]
        owned = self._owned("replicasets", deploy)
        wanted_hash = template_hash(spec["template"])
        new_rs = next((rs for rs in owned if labels_of(rs).get("pod-template-hash") == wanted_hash), None)
        old = [rs for rs in owned if rs is not new_rs]
        if spec.get("paused"):
            return
        max_old = max((int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in old), default=0)
        if new_rs is None:
            new_rs = self._create_replica_set(deploy, wanted_hash, old, max_old + 1)
            owned = [*old, new_rs]
        elif int((new_rs["metadata"].get("annotations") or {}).get(REVISION, "0")) <= max_old:
            new_rs = self._annotate(new_rs, {REVISION: str(max_old + 1)})  # a rollback to an older template
        revision = new_rs["metadata"]["annotations"][REVISION]
        if (deploy["metadata"].get("annotations") or {}).get(REVISION) != revision:
            deploy = self._annotate_deployment(deploy, revision)
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            self._recreate(deploy, new_rs, old)
        elif not self._scale_new(deploy, new_rs, [*old, new_rs]):
            self._scale_old(deploy, new_rs, old)
        self._clean_up_history(deploy, old)

    def _create_replica_set(self, deploy: JsonObject, pod_hash: str, old: list[JsonObject], revision: int) -> JsonObject:
        meta, spec = deploy["metadata"], deploy["spec"]
        template = clone(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
        surge, _ = surge_and_unavailable(deploy)
        rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{meta['name']}-{pod_hash}", "namespace": meta["namespace"],
                         "labels": dict(template["metadata"]["labels"]),
                         "annotations": {DESIRED_REPLICAS: str(spec.get("replicas", 1)),
                                         MAX_REPLICAS: str(spec.get("replicas", 1) + surge), REVISION: str(revision)},
                         "ownerReferences": [owner_reference(deploy)]},
            "spec": {"replicas": 0, "selector": {"matchLabels": {**(spec.get("selector") or {}).get("matchLabels", {}),
                                                                 "pod-template-hash": pod_hash}},
                     "template": template},
        }
        if spec.get("minReadySeconds"):
            rs["spec"]["minReadySeconds"] = spec["minReadySeconds"]
        if (spec.get("strategy") or {}).get("type") != "Recreate":
            rs["spec"]["replicas"] = self._new_replicas(deploy, 0, old)
        created = self._verbs.create(self._rs_rt, meta["namespace"], rs)
        if created["spec"]["replicas"]:
            self._scaling_event(deploy, created, 0, created["spec"]["replicas"])
        status = clone(deploy.get("status") or {})
        status["conditions"] = _set_condition(status.get("conditions") or [], "Progressing", "True",
                                              "NewReplicaSetCreated", f'Created new replica set "{rs["metadata"]["name"]}"',
                                              timestamp())
        self._commit_deploy_status(deploy, status)
        return created

    def _annotate(self, obj: JsonObject, annotations: dict[str, str]) -> JsonObject:
        updated = clone(obj)
        updated["metadata"].setdefault("annotations", {}).update(annotations)
        return self._store.commit(resource_type(obj["kind"]), "MODIFIED", updated, obj)

    def _annotate_deployment(self, deploy: JsonObject, revision: str) -> JsonObject:
        current = self._store.objects["deployments"].get(object_key(deploy), deploy)
        return self._annotate(current, {REVISION: revision})

    def _new_replicas(self, deploy: JsonObject, new_count: int, all_rs: list[JsonObject]) -> int:
        """NewRSNewReplicas: up to replicas + maxSurge pods in all, never beyond replicas."""
        replicas = deploy["spec"].get("replicas", 1)
        surge, _ = surge_and_unavailable(deploy)
        current = sum(rs["spec"].get("replicas", 0) for rs in all_rs) + new_count
        if current >= replicas + surge:
            return new_count
        return new_count + min(replicas + surge - current, replicas - new_count)

    def _scale(self, deploy: JsonObject, rs: JsonObject, count: int) -> JsonObject:
        current = self._store.objects["replicasets"].get(object_key(rs), rs)
        before = current["spec"].get("replicas", 0)
        surge, _ = surge_and_unavailable(deploy)
        replicas = deploy["spec"].get("replicas", 1)
        updated = clone(current)
        updated["spec"]["replicas"] = count
        updated["metadata"].setdefault("annotations", {}).update(
            {DESIRED_REPLICAS: str(replicas), MAX_REPLICAS: str(replicas + surge)})
        if updated == current:
            return current
        committed = self._store.commit(self._rs_rt, "MODIFIED", updated, current)
        if count != before:
            self._scaling_event(deploy, committed, before, count)
        return committed

    def _scaling_event(self, deploy: JsonObject, rs: JsonObject, before: int, after: int) -> None:
        self._events.record(deploy, "Normal", "ScalingReplicaSet", f"Scaled {'up' if after > before else 'down'} "
                            f"replica set {rs['metadata']['name']} to {after} from {before}", "deployment-controller")

    def _scale_new(self, deploy: JsonObject, new_rs: JsonObject, all_rs: list[JsonObject]) -> bool:
        replicas, have = deploy["spec"].get("replicas", 1), new_rs["spec"].get("replicas", 0)
        if have == replicas:
            return False
        if have > replicas:
            self._scale(deploy, new_rs, replicas)
            return True
        others = [rs for rs in all_rs if rs is not new_rs]
        wanted = self._new_replicas(deploy, have, others)
        if wanted == have:
            return False
        self._scale(deploy, new_rs, wanted)
        return True

    def _scale_old(self, deploy: JsonObject, new_rs: JsonObject, old: list[JsonObject]) -> bool:
        """reconcileOldReplicaSets: unhealthy old pods first, then as many as keep
        replicas - maxUnavailable available."""
        old = sorted((rs for rs in old if rs["spec"].get("replicas", 0)), key=lambda r: r["metadata"]["creationTimestamp"])
        if not old:
            return False
        replicas = deploy["spec"].get("replicas", 1)
        _, unavailable = surge_and_unavailable(deploy)
        min_available = replicas - unavailable
        all_rs = [*old, new_rs]
        total = sum(rs["spec"].get("replicas", 0) for rs in all_rs)
        new_unavailable = new_rs["spec"].get("replicas", 0) - new_rs.get("status", {}).get("availableReplicas", 0)
        budget = total - min_available - new_unavailable
        if budget <= 0:
            return False
        scaled = 0
        for index, rs in enumerate(old):  # cleanupUnhealthyReplicas
            have, available = rs["spec"].get("replicas", 0), rs.get("status", {}).get("availableReplicas", 0)
            if scaled >= budget or have == available:
                continue
            down = min(budget - scaled, have - available)
            old[index] = self._scale(deploy, rs, have - down)
            scaled += down
        available = sum(rs.get("status", {}).get("availableReplicas", 0) for rs in [*old, new_rs])
        to_remove = available - min_available
        removed = 0
        for rs in old:  # scaleDownOldReplicaSetsForRollingUpdate
            have = rs["spec"].get("replicas", 0)
            if removed >= to_remove:
                break
            if have == 0:
                continue
            down = min(have, to_remove - removed)
            self._scale(deploy, rs, have - down)
            removed += down
        return scaled + removed > 0

    def _recreate(self, deploy: JsonObject, new_rs: JsonObject, old: list[JsonObject]) -> None:
        for rs in old:
            if rs["spec"].get("replicas", 0):
                self._scale(deploy, rs, 0)
        old_uids = {rs["metadata"]["uid"] for rs in old}
        if any((controller_of(p) or {}).get("uid") in old_uids for p in self._store.objects["pods"].values()):
            return  # Recreate waits for every old pod to be gone
        self._scale(deploy, new_rs, deploy["spec"].get("replicas", 1))

    def _clean_up_history(self, deploy: JsonObject, old: list[JsonObject]) -> None:
        limit = deploy["spec"].get("revisionHistoryLimit", 10)
        idle = [self._store.objects["replicasets"].get(object_key(rs)) for rs in old]
        idle = [rs for rs in idle if rs and not rs["spec"].get("replicas") and not rs.get("status", {}).get("replicas")]
        idle.sort(key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")))
        for rs in idle[: max(0, len(idle) - limit)]:
            self._verbs.delete(self._rs_rt, *object_key(rs), None)

    def _commit_deploy_status(self, deploy: JsonObject, status: JsonObject) -> JsonObject:
        current = self._store.objects["deployments"].get(object_key(deploy), deploy)
        if current.get("status") == status:
            return current
        return self._store.commit(self._deploy_rt, "MODIFIED", {**clone(current), "status": status}, current)

    def _sync_deployment_status(self, deploy: JsonObject) -> None:
        """calculateStatus and syncRolloutStatus: the counts from the ReplicaSets, then the
        Available and Progressing conditions."""
        spec, meta = deploy["spec"], deploy["metadata"]
        owned = self._owned("replicasets", deploy)
        wanted_hash = template_hash(spec["template"])
        new_rs = next((rs for rs in owned if labels_of(rs).get("pod-template-hash") == wanted_hash), None)
        replicas = spec.get("replicas", 1)
        _, unavailable = surge_and_unavailable(deploy)
        rs_status = [rs.get("status") or {} for rs in owned]
        available = sum(s.get("availableReplicas", 0) for s in rs_status)
        counts = {
            "replicas": sum(s.get("replicas", 0) for s in rs_status),
            "updatedReplicas": (new_rs.get("status") or {}).get("replicas", 0) if new_rs else 0,
            "readyReplicas": sum(s.get("readyReplicas", 0) for s in rs_status),
            "availableReplicas": available,
            "unavailableReplicas": max(0, sum(rs["spec"].get("replicas", 0) for rs in owned) - available),
        }
        old_status = deploy.get("status") or {}
        status: JsonObject = {"observedGeneration": meta.get("generation", 1),
                              **{k: v for k, v in counts.items() if v}}  # the real API omits zero counts
        if old_status.get("collisionCount"):
            status["collisionCount"] = old_status["collisionCount"]
        now = timestamp()
        conditions = list(old_status.get("conditions") or [])
        if available >= replicas - unavailable:
            conditions = _set_condition(conditions, "Available", "True", "MinimumReplicasAvailable",
                                        "Deployment has minimum availability.", now)
        else:
            conditions = _set_condition(conditions, "Available", "False", "MinimumReplicasUnavailable",
                                        "Deployment does not have minimum availability.", now)
        status["conditions"] = self._progressing(deploy, new_rs, status, counts, conditions, now)
        self._commit_deploy_status(deploy, status)

    def _progressing(self, deploy: JsonObject, new_rs: JsonObject | None, status: JsonObject,
                     counts: dict[str, int], conditions: list[JsonObject], now: str) -> list[JsonObject]:
        spec, uid = deploy["spec"], deploy["metadata"]["uid"]
        deadline = spec.get("progressDeadlineSeconds")
        if deadline is None:
            return [c for c in conditions if c["type"] != "Progressing"]
        current = next((c for c in conditions if c["type"] == "Progressing"), None)
        if counts["replicas"] == counts["updatedReplicas"] and current and current["reason"] == "NewReplicaSetAvailable":
            return conditions
        old = deploy.get("status") or {}
        replicas = spec.get("replicas", 1)
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        complete = all(counts[k] == replicas for k in ("updatedReplicas", "replicas", "availableReplicas"))
        progressed = (counts["updatedReplicas"] > old.get("updatedReplicas", 0)
                      or counts["replicas"] - counts["updatedReplicas"]
                      < old.get("replicas", 0) - old.get("updatedReplicas", 0)
                      or counts["readyReplicas"] > old.get("readyReplicas", 0)
                      or counts["availableReplicas"] > old.get("availableReplicas", 0))
        loop_now = self._now()
        if complete:
            self._progress_at.pop(uid, None)
            return _set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable",
                                  f'ReplicaSet "{rs_name}" has successfully progressed.', now)
        if progressed:
            self._progress_at[uid] = loop_now
            self._wake(loop_now + deadline * self.time_scale)
            transition = current["lastTransitionTime"] if current and current["status"] == "True" else now
            return [c for c in conditions if c["type"] != "Progressing"] + [
                {"type": "Progressing", "status": "True", "lastUpdateTime": now, "lastTransitionTime": transition,
                 "reason": "ReplicaSetUpdated", "message": f'ReplicaSet "{rs_name}" is progressing.'}]
        if current is None or current["reason"] == "ProgressDeadlineExceeded":
            return conditions
        since = self._progress_at.setdefault(uid, loop_now)
        if loop_now >= since + deadline * self.time_scale:
            return _set_condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded",
                                  f'ReplicaSet "{rs_name}" has timed out progressing.', now)
        self._wake(since + deadline * self.time_scale)
        return conditions

    # -- ReplicaSets ------------------------------------------------------------------------

    def _sync_replica_set(self, rs: JsonObject, pods: list[JsonObject]) -> None:
        rs = self._store.objects["replicasets"].get(object_key(rs), rs)
        active = [p for p in pods if _active(p)]
        wanted = rs["spec"].get("replicas", 1)
        if len(active) < wanted:
            for _ in range(wanted - len(active)):
                pod = self._verbs.create(self._pod_rt, rs["metadata"]["namespace"], _pod_from_template(rs))
                self._events.record(rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                                    "replicaset-controller")
                active.append(pod)
        elif len(active) > wanted:
            active.sort(key=_deletion_rank)
            for pod in active[: len(active) - wanted]:
                self._verbs.delete(self._pod_rt, *object_key(pod), None)
                self._events.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                                    "replicaset-controller")
            active = active[len(active) - wanted:]
        ready = sum(1 for p in active if pod_ready(p))
        status: JsonObject = {"replicas": len(active), "fullyLabeledReplicas": len(active), "readyReplicas": ready,
                              "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        if rs.get("status") != status:
            self._store.commit(self._rs_rt, "MODIFIED", {**clone(rs), "status": status}, rs)

    # -- DaemonSets -------------------------------------------------------------------------

    def _sync_daemon_set(self, ds: JsonObject, pods: list[JsonObject]) -> None:
        template = ds["spec"]["template"]
        wanted_hash = template_hash(template)
        selector = (template.get("spec") or {}).get("nodeSelector") or {}
        nodes = [n for n in self._store.select(resource_type("Node"), None)
                 if all(labels_of(n).get(k) == v for k, v in selector.items())]
        by_node: dict[str, list[JsonObject]] = {}
        for pod in pods:
            if _active(pod):
                by_node.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
        node_names = {n["metadata"]["name"] for n in nodes}
        for node_name, node_pods in by_node.items():
            keep = next((p for p in node_pods if labels_of(p).get("controller-revision-hash") == wanted_hash), None)
            for pod in node_pods:
                if pod is not keep or node_name not in node_names:
                    self._verbs.delete(self._pod_rt, *object_key(pod), None)
                    self._events.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                                        "daemonset-controller")
            by_node[node_name] = [keep] if keep and node_name in node_names else []
        for node_name in sorted(node_names):
            if not by_node.get(node_name):
                pod = self._verbs.create(self._pod_rt, ds["metadata"]["namespace"],
                                         _pod_from_template(ds, node_name, wanted_hash))
                self._events.record(ds, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                                    "daemonset-controller")
                by_node[node_name] = [pod]
        scheduled = [p for ps in by_node.values() for p in ps]
        ready = sum(1 for p in scheduled if pod_ready(p))
        status: JsonObject = {"currentNumberScheduled": len(scheduled), "desiredNumberScheduled": len(nodes),
                              "numberMisscheduled": 0, "numberReady": ready, "numberAvailable": ready,
                              "updatedNumberScheduled": sum(1 for p in scheduled if labels_of(p).get(
                                  "controller-revision-hash") == wanted_hash),
                              "observedGeneration": ds["metadata"].get("generation", 1)}
        if len(nodes) > ready:
            status["numberUnavailable"] = len(nodes) - ready
        if not ready:
            del status["numberAvailable"]
        current = self._store.objects["daemonsets"].get(object_key(ds), ds)
        if current.get("status") != status:
            self._store.commit(self._ds_rt, "MODIFIED", {**clone(current), "status": status}, current)


def _pod_from_template(owner: JsonObject, node_name: str = "", revision_hash: str = "") -> JsonObject:
    template, meta = owner["spec"]["template"], owner["metadata"]
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    if revision_hash:
        labels["controller-revision-hash"] = revision_hash
    pod: JsonObject = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": f"{meta['name']}-", "namespace": meta["namespace"], "labels": labels,
                     "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
                     "ownerReferences": [owner_reference(owner)]},
        "spec": clone(template.get("spec") or {}),
    }
    if node_name:  # a DaemonSet's pod is for its node (the real controller pins it by node affinity)
        pod["spec"]["nodeName"] = node_name
    return pod
