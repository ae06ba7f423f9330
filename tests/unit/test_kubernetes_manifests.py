"""The Kubernetes manifests (deploy/kubernetes/): no cluster runs here, so they are held
to what can be checked without one.

1. Every document of every file is a valid object of the Kubernetes API, by the OpenAPI
   schemas `kubernetes-validate` bundles, strictly (an unknown or misspelt field fails).
2. Each boundary of the Docker platform holds in them too, checked by reading the
   NetworkPolicies, pods and roles as the API server would apply them, and written as
   the attack each one stops. Every check is also shown to fail on a manifest broken in
   the way it guards against, so that a passing test means something.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shuyu.sandbox.firewall import plan_for
from shuyu.settings import PlatformSettings

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "deploy" / "kubernetes"
DOC = REPO / "docs" / "KUBERNETES.md"
KUBERNETES_VERSION = "1.30.0"
NAMESPACE = "shuyu"
# files the service and the hub instantiate (one Job per runner job, one pod per
# sandbox); never applied as they are
TEMPLATES = {"runner-job.yaml", "sandbox-pod.yaml"}

SANDBOX = "singleuser-server"  # the `component` label KubeSpawner gives a user's pod
RUNNER = "runner"
PRODUCTS = "products"
# the API ports at which a compromised hub or service could reach the Kubernetes API
API_SERVER_PORTS = {443, 6443}

Doc = dict[str, Any]
Manifests = dict[str, list[Doc]]


def load() -> Manifests:
    """Every manifest file's documents (kustomization.yaml is not an API object)."""
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for path in sorted(MANIFESTS.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def documents(manifests: Manifests) -> Iterator[Doc]:
    for docs in manifests.values():
        yield from docs


@dataclass
class PodSpec:
    """A pod as it would run: its labels and spec (a Deployment's or Job's template)."""

    where: str
    labels: dict[str, str]
    spec: dict[str, Any]

    @property
    def component(self) -> str:
        return self.labels.get("component", "")

    def containers(self) -> list[dict[str, Any]]:
        return [*self.spec.get("initContainers", []), *self.spec.get("containers", [])]


def pods(manifests: Manifests) -> list[PodSpec]:
    found = []
    for name, docs in manifests.items():
        for doc in docs:
            where = f"{name}: {doc['kind']} {doc['metadata']['name']}"
            if doc["kind"] == "Pod":
                found.append(PodSpec(where, doc["metadata"].get("labels", {}), doc["spec"]))
            elif doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
                template = doc["spec"]["template"]
                found.append(
                    PodSpec(where, template["metadata"].get("labels", {}), template["spec"])
                )
            elif doc["kind"] == "CronJob":
                template = doc["spec"]["jobTemplate"]["spec"]["template"]
                found.append(
                    PodSpec(where, template["metadata"].get("labels", {}), template["spec"])
                )
    return found


def pod(manifests: Manifests, component: str) -> PodSpec:
    (only,) = [p for p in pods(manifests) if p.component == component]
    return only


# ---------------------------------------------------------------- NetworkPolicy semantics


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector as the API server reads it: `{}` selects everything."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def policies(manifests: Manifests) -> list[Doc]:
    return [d for d in documents(manifests) if d["kind"] == "NetworkPolicy"]


def policies_for(manifests: Manifests, labels: Mapping[str, str], direction: str) -> list[Doc]:
    """The policies that apply to a pod with these labels in this direction."""
    return [
        p
        for p in policies(manifests)
        if p["metadata"].get("namespace") == NAMESPACE
        and selects(p["spec"]["podSelector"], labels)
        and direction in p["spec"].get("policyTypes", ["Ingress"])
    ]


def rules(manifests: Manifests, labels: Mapping[str, str], direction: str) -> list[Doc]:
    key = "egress" if direction == "Egress" else "ingress"
    return [r for p in policies_for(manifests, labels, direction) for r in p["spec"].get(key, [])]


def sandbox_egress_problems(manifests: Manifests) -> list[str]:
    """What a sandbox pod may open, beyond the hub's API, MLflow and the submission port.

    Policies add up, so every rule of every policy selecting a sandbox counts. A rule with
    no `to` (or `to: []`) allows every destination; an ipBlock reaches outside the
    cluster; a namespaceSelector (even with a podSelector) reaches pods of other
    namespaces, `{}` all of them; a podSelector `{}` reaches every pod here, the runners
    and the product API included; a rule without ports allows every port, DNS included.
    """
    sandbox = pod(manifests, SANDBOX).labels
    platform = pods(manifests)
    allowed = expected_sandbox_peers(manifests)
    problems = []
    for rule in rules(manifests, sandbox, "Egress"):
        peers = rule.get("to") or []
        ports = rule.get("ports") or []
        if not peers:
            problems.append(f"an egress rule with no `to` allows every destination: {rule}")
        if not ports:
            problems.append(f"an egress rule with no `ports` allows every port: {rule}")
        for peer in peers:
            if "ipBlock" in peer:
                problems.append(f"an ipBlock reaches addresses outside the pods: {peer}")
            if "namespaceSelector" in peer:
                problems.append(f"a namespaceSelector reaches other namespaces: {peer}")
            selector = peer.get("podSelector")
            if selector is None:
                continue
            if not selector:
                problems.append(f"podSelector {{}} reaches every pod of the namespace: {peer}")
            reached = [p for p in platform if selects(selector, p.labels)]
            if not reached:
                problems.append(f"a peer that selects none of the platform's pods: {peer}")
            for target in reached:
                for port in ports:
                    if "endPort" in port or (target.component, port.get("port")) not in allowed:
                        problems.append(
                            f"sandboxes may open {target.component} port {port}: "
                            f"not one of the firewall's peers {sorted(allowed)}"
                        )
    return problems


def expected_sandbox_peers(manifests: Manifests) -> set[tuple[str, int]]:
    """The Docker firewall's peers for sandboxes (`plan_for`), with each address mapped to
    the component of the Service holding that cluster IP: the same three, on both."""
    by_ip = {
        d["spec"]["clusterIP"]: d["spec"]["selector"]["component"]
        for d in documents(manifests)
        if d["kind"] == "Service" and d["spec"].get("clusterIP")
    }
    plan = plan_for(platform_settings(manifests))
    return {(by_ip.get(peer.ip, f"nothing at {peer.ip}"), peer.port) for peer in plan.peers}


def platform_settings(manifests: Manifests) -> PlatformSettings:
    """The settings the hub's pod runs with (its SHUYU_* values)."""
    env = {
        e["name"]: e["value"]
        for c in pod(manifests, "hub").containers()
        for e in c.get("env", [])
        if "value" in e
    }
    return PlatformSettings.from_env(env)


def default_deny_problems(manifests: Manifests) -> list[str]:
    """Without a default deny, any pod no policy selects (a runner, a pod the hub was
    tricked into making with other labels) has the cluster's flat network, in and out."""
    deny = [
        p
        for p in policies(manifests)
        if p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        and p["metadata"].get("namespace") == NAMESPACE
    ]
    return [] if deny else ["no policy denies all ingress and egress to every pod"]


def runner_problems(manifests: Manifests) -> list[str]:
    """A runner executes partner-influenced code (a model, a notebook) next to the holdout:
    any path out, or a token for the Kubernetes API, is a way to send it elsewhere."""
    runner = pod(manifests, RUNNER)
    problems = []
    if runner.spec.get("automountServiceAccountToken") is not False:
        problems.append("the runner's pod would get a service-account token")
    if runner.spec.get("hostNetwork"):
        problems.append("the runner shares the node's network")
    if runner.spec.get("dnsPolicy") != "None":
        problems.append("the runner is given the cluster's resolver")
    for direction in ("Egress", "Ingress"):
        for rule in rules(manifests, runner.labels, direction):
            problems.append(f"a policy opens {direction.lower()} to runners: {rule}")
    # another pod's ingress rule cannot open a runner's egress, but a runner listed as a
    # peer is a sign someone meant to give it a path
    for policy in policies(manifests):
        for key, side in (("egress", "to"), ("ingress", "from")):
            for rule in policy["spec"].get(key, []):
                for peer in rule.get(side) or []:
                    selector = peer.get("podSelector")
                    if selector and selects(selector, runner.labels):
                        problems.append(f"{policy['metadata']['name']} names runners as a peer")
    return problems


def products_ingress_problems(manifests: Manifests) -> list[str]:
    """Only consumers (through the ingress controller) call the product API: a sandbox or
    a runner that could would score every subject with the masking key's pseudonyms."""
    products = pod(manifests, PRODUCTS).labels
    here = pods(manifests)
    problems = []
    for rule in rules(manifests, products, "Ingress"):
        peers = rule.get("from") or []
        if not peers:
            problems.append(f"an ingress rule with no `from` admits every pod: {rule}")
        for peer in peers:
            if "ipBlock" in peer:
                problems.append(f"an ipBlock admits pods by address: {peer}")
            if "namespaceSelector" not in peer:
                callers = [
                    p.component for p in here if selects(peer.get("podSelector", {}), p.labels)
                ]
                problems.append(f"pods of this namespace may call the product API: {callers}")
            elif not peer["namespaceSelector"] or not peer.get("podSelector"):
                problems.append(f"every pod of a namespace (or of all) may call it: {peer}")
    for rule in rules(manifests, products, "Egress"):
        for peer in rule.get("to") or [{}]:
            for target in here:
                if "namespaceSelector" not in peer and selects(
                    peer.get("podSelector", {}), target.labels
                ):
                    problems.append(f"the product API may reach {target.component}")
    return problems


def broad_egress_problems(manifests: Manifests) -> list[str]:
    """Outside the sandbox policy, an ipBlock or an all-namespaces selector is allowed only
    for the hub's and service's way to the Kubernetes API, and only on its ports."""
    problems = []
    for policy in policies(manifests):
        name = policy["metadata"]["name"]
        for key, side in (("egress", "to"), ("ingress", "from")):
            for rule in policy["spec"].get(key, []):
                for peer in rule.get(side) or []:
                    if peer.get("namespaceSelector") == {}:
                        problems.append(f"{name}: a peer in every namespace: {peer}")
                    if "ipBlock" in peer:
                        ports = {p.get("port") for p in rule.get("ports") or [{}]}
                        if key != "egress" or name not in {"hub", "service"}:
                            problems.append(f"{name}: an ipBlock {key} rule")
                        elif not ports <= API_SERVER_PORTS:
                            problems.append(f"{name}: an ipBlock beyond the API's ports: {ports}")
    return problems


# ---------------------------------------------------------------- pods and secrets


def secret_problems(manifests: Manifests) -> list[str]:
    """No secret value is in the repository, and none reaches partner code: a Secret's data
    here would be published with the code; one mounted into a sandbox or a runner would be
    readable by the partner's notebook."""
    problems = []
    for doc in documents(manifests):
        if doc["kind"] == "Secret":
            problems.append(
                f"Secret {doc['metadata']['name']} is defined here; the site creates it"
            )
    for p in pods(manifests):
        for container in p.containers():
            for env in container.get("env", []):
                value = str(env.get("value", ""))
                if re.search(r"://[^/@\s]+:[^/@\s]+@", value):
                    problems.append(f"{p.where}: {env['name']} holds a password in a URL")
        if p.component not in {SANDBOX, RUNNER}:
            continue
        for volume in p.spec.get("volumes", []):
            sources = [volume, *volume.get("projected", {}).get("sources", [])]
            if any("secret" in s for s in sources):
                problems.append(f"{p.where}: a Secret is mounted into partner code's pod")
        for container in p.containers():
            for env in container.get("env", []):
                if "secretKeyRef" in env.get("valueFrom", {}):
                    problems.append(f"{p.where}: {env['name']} comes from a Secret")
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    problems.append(f"{p.where}: every key of a Secret is in its environment")
    return problems


def container_problems(manifests: Manifests) -> list[str]:
    """Every container, init containers included: bounded, unprivileged, non-root. A pod
    without limits can starve the node (and the others' sandboxes); one with privilege
    escalation or capabilities can undo its own confinement. The namespace's `restricted`
    Pod Security level would refuse most of these; this says which line is wrong."""
    problems = []
    for p in pods(manifests):
        pod_context = p.spec.get("securityContext", {})
        if pod_context.get("runAsNonRoot") is not True:
            problems.append(f"{p.where}: may run as root")
        if pod_context.get("seccompProfile", {}).get("type") not in {"RuntimeDefault", "Localhost"}:
            problems.append(f"{p.where}: no seccomp profile")
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if p.spec.get(flag):
                problems.append(f"{p.where}: {flag}")
        for volume in p.spec.get("volumes", []):
            if "hostPath" in volume:
                problems.append(f"{p.where}: mounts the node's {volume['hostPath']['path']}")
        for container in p.containers():
            name = f"{p.where} container {container['name']}"
            limits = container.get("resources", {}).get("limits", {})
            for resource in ("cpu", "memory"):
                if resource not in limits:
                    problems.append(f"{name}: no {resource} limit")
            context = container.get("securityContext", {})
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: allowPrivilegeEscalation is not false")
            if context.get("privileged"):
                problems.append(f"{name}: privileged")
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: its root file system is writable")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{name}: does not drop all capabilities")
            if context.get("capabilities", {}).get("add"):
                problems.append(f"{name}: adds capabilities")
            if context.get("runAsUser") == 0 or context.get("runAsNonRoot") is False:
                problems.append(f"{name}: runs as root")
    return problems


def token_problems(manifests: Manifests) -> list[str]:
    """Only the hub (KubeSpawner) and the service (runner Jobs) talk to the Kubernetes API;
    any other pod with a token is one more credential a compromise would get."""
    problems = []
    for p in pods(manifests):
        wants = p.component in {"hub", "service"}
        mounted = p.spec.get("automountServiceAccountToken", True) is not False
        if mounted and not wants:
            problems.append(f"{p.where}: mounts a service-account token")
    return problems


def rbac_problems(manifests: Manifests) -> list[str]:
    """The hub may manage pods and PVCs, the service Jobs — in this namespace only. A
    ClusterRole, a wildcard, or any access to Secrets would let them reach beyond."""
    problems = []
    for doc in documents(manifests):
        kind = doc["kind"]
        if kind in {"ClusterRole", "ClusterRoleBinding"}:
            problems.append(f"{kind} {doc['metadata']['name']}: cluster-wide")
        if kind == "RoleBinding" and doc["roleRef"]["kind"] != "Role":
            problems.append(f"RoleBinding {doc['metadata']['name']} binds a ClusterRole")
        if kind == "Role":
            for rule in doc["rules"]:
                if "*" in rule.get("verbs", []) + rule.get("resources", []):
                    problems.append(f"Role {doc['metadata']['name']}: a wildcard: {rule}")
                if {"secrets", "serviceaccounts/token", "pods/exec"} & set(rule["resources"]):
                    problems.append(f"Role {doc['metadata']['name']}: {rule['resources']}")
                if {"escalate", "bind", "impersonate"} & set(rule["verbs"]):
                    problems.append(f"Role {doc['metadata']['name']}: {rule['verbs']}")
    return problems


# ---------------------------------------------------------------- the tests

ALL_CHECKS: dict[str, Callable[[Manifests], list[str]]] = {
    "sandbox egress": sandbox_egress_problems,
    "default deny": default_deny_problems,
    "runner": runner_problems,
    "products ingress": products_ingress_problems,
    "broad egress": broad_egress_problems,
    "secrets": secret_problems,
    "containers": container_problems,
    "tokens": token_problems,
    "rbac": rbac_problems,
}


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    return load()


def _each_document() -> list[Any]:
    return [
        pytest.param(doc, id=f"{name}:{doc['kind']}/{doc['metadata']['name']}")
        for name, docs in load().items()
        for doc in docs
    ]


@pytest.mark.parametrize("doc", _each_document())
def test_every_document_is_a_valid_kubernetes_object(doc: Doc) -> None:
    """By the API's OpenAPI schema of Kubernetes 1.30, strictly: a misspelt field is an
    error here, where the API server would drop it (and a security setting with it)."""
    assert kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_security_field_is_rejected_by_the_schema(manifests: Manifests) -> None:
    (deployment,) = [d for d in manifests["products.yaml"] if d["kind"] == "Deployment"]
    broken = copy.deepcopy(deployment)
    context = broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    context["readOnlyRootFileSystem"] = context.pop("readOnlyRootFilesystem")
    with pytest.raises(kubernetes_validate.ValidationError, match="readOnlyRootFileSystem"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(deployment)
    broken["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=list(ALL_CHECKS))
def test_the_manifests_hold_the_platforms_boundaries(manifests: Manifests, check: str) -> None:
    assert ALL_CHECKS[check](manifests) == []


def test_the_kustomization_applies_every_manifest_but_the_templates(manifests: Manifests) -> None:
    """A file left out of kustomization.yaml (a NetworkPolicy above all) is simply not
    applied by `kubectl apply -k`."""
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["namespace"] == NAMESPACE
    assert set(kustomization["resources"]) == set(manifests) - TEMPLATES
    assert len(kustomization["resources"]) == len(set(kustomization["resources"]))


def test_every_namespaced_object_is_in_the_platforms_namespace(manifests: Manifests) -> None:
    (namespace,) = [d for d in documents(manifests) if d["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in documents(manifests):
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


def test_sandboxes_reach_exactly_the_peers_the_docker_firewall_allows(
    manifests: Manifests,
) -> None:
    """The Services sit at the addresses the hub hands sandboxes (SHUYU_SANDBOX_SUBNET's
    .2 hub, .3 MLflow, .4 service), and the sandbox policy opens exactly the firewall's
    peers at them: the hub's API, MLflow, the submission endpoint — not DNS, not the
    service's pages, not the product API."""
    settings = platform_settings(manifests)
    cluster_ips = {
        d["metadata"]["name"]: d["spec"].get("clusterIP")
        for d in documents(manifests)
        if d["kind"] == "Service"
    }
    assert cluster_ips["hub"] == settings.hub_ip
    assert cluster_ips["mlflow"] == settings.mlflow_ip
    assert cluster_ips["service"] == settings.service_ip
    assert cluster_ips["index"] == settings.index_ip
    for p in pods(manifests):
        for container in p.containers():
            subnet = [e for e in container.get("env", []) if e["name"] == "SHUYU_SANDBOX_SUBNET"]
            assert [e["value"] for e in subnet] in ([], [settings.sandbox_subnet]), p.where
    opened = {
        (target.component, port["port"])
        for rule in rules(manifests, pod(manifests, SANDBOX).labels, "Egress")
        for peer in rule["to"]
        for target in pods(manifests)
        if selects(peer["podSelector"], target.labels)
        for port in rule["ports"]
    }
    assert opened == expected_sandbox_peers(manifests)
    assert opened == {("hub", 8081), ("mlflow", 5000), ("service", 8092), ("index", 8093)}


def test_sandboxes_admit_only_the_hub(manifests: Manifests) -> None:
    """Another partner's sandbox, a runner or the service cannot open a sandbox's server."""
    sandbox = pod(manifests, SANDBOX)
    admitted = {
        (target.component, port["port"])
        for rule in rules(manifests, sandbox.labels, "Ingress")
        for peer in rule["from"]
        for target in pods(manifests)
        if selects(peer["podSelector"], target.labels)
        for port in rule["ports"]
    }
    assert admitted == {("hub", PlatformSettings().sandbox_port)}


def test_mlflow_uses_postgresql_and_s3_from_secrets(manifests: Manifests) -> None:
    """The tracking store's URL and the artifact store's keys come from a Secret the site
    created; the artifact store is S3-compatible, at the endpoint MLflow's boto client
    reads."""
    (container,) = pod(manifests, "mlflow").spec["containers"]
    env = {e["name"]: e for e in container["env"]}
    for name in ("SHUYU_MLFLOW_BACKEND_URI", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert "secretKeyRef" in env[name]["valueFrom"], name
    assert env["SHUYU_MLFLOW_ARTIFACTS_DESTINATION"]["value"].startswith("s3://")
    assert env["MLFLOW_S3_ENDPOINT_URL"]["value"].startswith(("http://", "https://"))


def test_the_products_pod_is_read_only_and_unprivileged(manifests: Manifests) -> None:
    products = pod(manifests, PRODUCTS)
    assert products.spec["securityContext"]["runAsNonRoot"] is True
    assert products.spec["automountServiceAccountToken"] is False
    for container in products.containers():
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        for mount in container["volumeMounts"]:
            assert mount.get("readOnly") or mount["mountPath"] in {"/tmp", "/policies"}, mount


def test_the_runner_job_is_bounded_in_time_and_cleaned_up(manifests: Manifests) -> None:
    (job,) = manifests["runner-job.yaml"]
    assert job["kind"] == "Job"
    assert 0 < job["spec"]["activeDeadlineSeconds"] <= 6 * 3600
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert job["spec"]["backoffLimit"] == 0
    runner = pod(manifests, RUNNER)
    assert runner.spec["restartPolicy"] == "Never"
    writable = [
        m["mountPath"]
        for c in runner.containers()
        for m in c["volumeMounts"]
        if not m.get("readOnly")
    ]
    assert sorted(writable) == ["/output", "/tmp"]


def test_every_image_is_one_the_offline_build_makes(manifests: Manifests) -> None:
    """The names of docker-compose.yml and the settings (shuyu/<part>:local); a site
    retags them into its registry through kustomization.yaml's `images:`."""
    built = {"shuyu/hub:local", "shuyu/mlflow:local", "shuyu/service:local"}
    built |= {PlatformSettings().notebook_image, "shuyu/runner:local"}
    compose = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    for image in ("shuyu/hub:local", "shuyu/mlflow:local", "shuyu/service:local"):
        assert image in compose
    for p in pods(manifests):
        for container in p.containers():
            assert container["image"] in built, (p.where, container["image"])


def test_the_guide_creates_every_secret_and_config_map_the_manifests_name(
    manifests: Manifests,
) -> None:
    """A Secret named in a manifest but not in the guide's kubectl commands leaves a pod
    pending on a site; every key a manifest reads must be among those created."""
    guide = DOC.read_text(encoding="utf-8")
    created: dict[str, set[str]] = {}
    for match in re.finditer(
        r"kubectl -n shuyu create (?:secret generic|configmap) (\S+)(.*)", guide
    ):
        keys = set(re.findall(r"--from-(?:file|literal)=([^=\s]+)=", match.group(2)))
        created.setdefault(match.group(1), set()).update(keys)
    needed: dict[str, set[str]] = {}
    for p in pods(manifests):
        for volume in p.spec.get("volumes", []):
            if "secret" in volume:
                needed.setdefault(volume["secret"]["secretName"], set())
            if "configMap" in volume:
                needed.setdefault(volume["configMap"]["name"], set())
        for container in p.containers():
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    needed.setdefault(ref["name"], set()).add(ref["key"])
    for name, keys in needed.items():
        assert name in created, f"{name}: no `kubectl -n shuyu create` for it in {DOC.name}"
        assert keys <= created[name], (name, keys - created[name])


# ---------------------------------------------------------------- the checks can fail


def _policy(manifests: Manifests, name: str) -> Doc:
    (found,) = [p for p in policies(manifests) if p["metadata"]["name"] == name]
    return found


def _add_sandbox_egress(rule: Doc) -> Callable[[Manifests], None]:
    def apply(m: Manifests) -> None:
        _policy(m, "sandbox")["spec"]["egress"].append(rule)

    return apply


def _pod_spec(component: str) -> Callable[[Manifests], dict[str, Any]]:
    return lambda m: pod(m, component).spec


def _set(component: str, key: str, value: Any) -> Callable[[Manifests], None]:
    return lambda m: _pod_spec(component)(m).__setitem__(key, value)


def _container_context(component: str, key: str, value: Any) -> Callable[[Manifests], None]:
    def apply(m: Manifests) -> None:
        pod(m, component).spec["containers"][0]["securityContext"][key] = value

    return apply


def _drop_limits(m: Manifests) -> None:
    del pod(m, "mlflow").spec["containers"][0]["resources"]["limits"]


def _mount_secret_into_sandbox(m: Manifests) -> None:
    spec = pod(m, SANDBOX).spec
    spec["volumes"].append({"name": "creds", "secret": {"secretName": "shuyu-mlflow"}})
    spec["containers"][0]["volumeMounts"].append({"name": "creds", "mountPath": "/creds"})


def _secret_env_in_runner(m: Manifests) -> None:
    pod(m, RUNNER).spec["containers"][0]["env"].append(
        {"name": "GATE", "valueFrom": {"secretKeyRef": {"name": "shuyu-service", "key": "k"}}}
    )


def _define_secret(m: Manifests) -> None:
    m["mlflow.yaml"].append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "shuyu-mlflow-store", "namespace": NAMESPACE},
            "stringData": {"backend-store-uri": "postgresql://mlflow:hunter2@db/mlflow"},
        }
    )


def _password_in_url(m: Manifests) -> None:
    (container,) = pod(m, "mlflow").spec["containers"]
    env = next(e for e in container["env"] if e["name"] == "SHUYU_MLFLOW_BACKEND_URI")
    env.pop("valueFrom")
    env["value"] = "postgresql://mlflow:hunter2@db.example/mlflow"


def _allow_all_egress_policy(m: Manifests) -> None:
    """A second, innocent-looking policy: policies add up, so it opens sandboxes too."""
    m["networkpolicies.yaml"].append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-egress", "namespace": NAMESPACE},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
        }
    )


def _runner_egress_policy(m: Manifests) -> None:
    m["networkpolicies.yaml"].append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "runner-mlflow", "namespace": NAMESPACE},
            "spec": {
                "podSelector": {"matchLabels": {"component": RUNNER}},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": {"matchLabels": {"component": "mlflow"}}}]}],
            },
        }
    )


def _narrow_default_deny(m: Manifests) -> None:
    _policy(m, "default-deny-all")["spec"]["podSelector"] = {"matchLabels": {"component": SANDBOX}}


def _sandbox_may_call_products(m: Manifests) -> None:
    _policy(m, "products")["spec"]["ingress"].append(
        {"from": [{"podSelector": {"matchLabels": {"component": SANDBOX}}}]}
    )


def _hub_reads_secrets(m: Manifests) -> None:
    (role,) = [d for d in m["hub.yaml"] if d["kind"] == "Role"]
    role["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})


def _cluster_role(m: Manifests) -> None:
    (binding,) = [d for d in m["hub.yaml"] if d["kind"] == "RoleBinding"]
    binding["roleRef"]["kind"] = "ClusterRole"


def _hub_ipblock_anywhere(m: Manifests) -> None:
    rule = _policy(m, "hub")["spec"]["egress"][-1]
    rule["ports"].append({"protocol": "TCP", "port": 80})


BROKEN: dict[str, tuple[str, Callable[[Manifests], None]]] = {
    # a sandbox that reaches more than the hub, MLflow and the submission port
    "egress rule with `to: []`": (
        "sandbox egress",
        _add_sandbox_egress({"to": [], "ports": [{"port": 443}]}),
    ),
    "egress rule `{}`": ("sandbox egress", _add_sandbox_egress({})),
    "egress to 0.0.0.0/0": (
        "sandbox egress",
        _add_sandbox_egress({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]}),
    ),
    "egress to every namespace": (
        "sandbox egress",
        _add_sandbox_egress({"to": [{"namespaceSelector": {}}], "ports": [{"port": 80}]}),
    ),
    "egress to every pod here": (
        "sandbox egress",
        _add_sandbox_egress({"to": [{"podSelector": {}}], "ports": [{"port": 8700}]}),
    ),
    "DNS to kube-dns": (
        "sandbox egress",
        _add_sandbox_egress(
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                        },
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"protocol": "UDP", "port": 53}],
            }
        ),
    ),
    "the service's pages": (
        "sandbox egress",
        _add_sandbox_egress(
            {
                "to": [{"podSelector": {"matchLabels": {"component": "service"}}}],
                "ports": [{"port": 8090}],
            }
        ),
    ),
    "MLflow on every port": (
        "sandbox egress",
        _add_sandbox_egress({"to": [{"podSelector": {"matchLabels": {"component": "mlflow"}}}]}),
    ),
    "a second policy allowing all egress": ("sandbox egress", _allow_all_egress_policy),
    # the floor under everything
    "default deny only for sandboxes": ("default deny", _narrow_default_deny),
    # runners
    "runner with a token": ("runner", _set(RUNNER, "automountServiceAccountToken", True)),
    "runner on the node's network": ("runner", _set(RUNNER, "hostNetwork", True)),
    "runner reaching MLflow": ("runner", _runner_egress_policy),
    # the product API
    "sandbox calling the product API": ("products ingress", _sandbox_may_call_products),
    "products with a writable root": (
        "containers",
        _container_context(PRODUCTS, "readOnlyRootFilesystem", False),
    ),
    "products allowed to escalate": (
        "containers",
        _container_context(PRODUCTS, "allowPrivilegeEscalation", True),
    ),
    "a container without limits": ("containers", _drop_limits),
    "a pod as root": (
        "containers",
        lambda m: pod(m, "mlflow").spec["securityContext"].__setitem__("runAsNonRoot", False),
    ),
    # secrets
    "a Secret with data in the repository": ("secrets", _define_secret),
    "a password in an env URL": ("secrets", _password_in_url),
    "a Secret mounted into a sandbox": ("secrets", _mount_secret_into_sandbox),
    "a Secret in a runner's environment": ("secrets", _secret_env_in_runner),
    "a token for the product API": ("tokens", _set(PRODUCTS, "automountServiceAccountToken", True)),
    # the API server
    "the hub reading Secrets": ("rbac", _hub_reads_secrets),
    "the hub bound to a ClusterRole": ("rbac", _cluster_role),
    "the hub's API rule opened to port 80": ("broad egress", _hub_ipblock_anywhere),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_manifest_broken_this_way_is_rejected(manifests: Manifests, case: str) -> None:
    check, breaks = BROKEN[case]
    broken = copy.deepcopy(manifests)
    breaks(broken)
    assert ALL_CHECKS[check](broken) != []
    # and the original is untouched, so that the other tests read the real manifests
    assert ALL_CHECKS[check](manifests) == []
