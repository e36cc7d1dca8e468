"""Generates src/kubeprobe/analysis/data/corpus.jsonl: labeled failure texts for the RCA classifier.

Each cause has several phrasings taken from real Kubernetes, etcd, container runtime and client
error strings; names, numbers and addresses vary. Run: .venv/bin/python scripts/gen_rca_corpus.py
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

R = random.Random(20261122)
OUT = Path(__file__).resolve().parents[1] / "src/kubeprobe/analysis/data/corpus.jsonl"
STEPS = {
    "sched": ["scheduled", "scale-up", "wait-running", "rollout"],
    "create": ["create", "scale-up", "create-configmap", "rollout"],
    "run": ["running", "wait-running", "scale-up", "rollout"],
    "api": ["create", "read", "list", "watch", "update", "delete"],
    "etcd": ["put", "get", "delete", "txn"],
    "any": ["create", "scheduled", "running", "delete", "scale-up", "rollout", "put", "get"],
}


def pod() -> str:
    return f"kp-{R.choice(['pod', 'sts', 'dep', 'canary', 'node'])}-{R.randrange(16**6):06x}"


def node() -> str:
    return R.choice(["kwok-node-", "ip-10-0-", "worker-", "gke-pool-"]) + str(R.randrange(200))


def ip() -> str:
    return f"10.{R.randrange(256)}.{R.randrange(256)}.{R.randrange(1, 255)}"


def n() -> int:
    return R.randrange(1, 60)


def ns() -> str:
    return R.choice(["kubeprobe-system", "default", "team-a", "payments", "kube-system"])


def svc() -> str:
    return R.choice(["gatekeeper-webhook-service", "istiod", "kyverno-svc", "cert-manager-webhook", "opa"])


CAUSES = {
    "scheduling.insufficient_resources": (
        "sched",
        [
            lambda: (
                f"pod {pod()} not scheduled after {n()}s: 0/{(k := n())} nodes are available: {k} Insufficient cpu."
            ),
            lambda: (
                f"pod {pod()} not scheduled: 0/{(k := n())} nodes are available: {k} Insufficient memory. preemption: 0/{k} nodes are available: {k} No preemption victims found for incoming pod."
            ),
            lambda: (
                f"FailedScheduling: 0/{n()} nodes are available: {n()} Insufficient cpu, {n()} Insufficient memory."
            ),
            lambda: f"pod {pod()} Pending: {n()} node(s) had insufficient ephemeral-storage",
            lambda: f"0/{n()} nodes are available: {n()} Too many pods.",
        ],
    ),
    "scheduling.taints": (
        "sched",
        [
            lambda: (
                f"pod {pod()} not scheduled after {n()}s: 0/{(k := n())} nodes are available: {k} node(s) had untolerated taint {{dedicated: {R.choice(['infra', 'gpu', 'db'])}}}."
            ),
            lambda: (
                f"0/{n()} nodes are available: {n()} node(s) had untolerated taint(s), {n()} node(s) didn't match Pod's node affinity/selector. preemption: 0/{n()} nodes are available"
            ),
            lambda: (
                f"FailedScheduling: {n()} node(s) had taint {{team: {R.choice(['a', 'b'])}}}, that the pod didn't tolerate."
            ),
        ],
    ),
    "scheduling.affinity": (
        "sched",
        [
            lambda: (
                f"pod {pod()} not scheduled: 0/{(k := n())} nodes are available: {k} node(s) didn't match Pod's node affinity/selector."
            ),
            lambda: f"0/{n()} nodes are available: {n()} node(s) didn't match pod anti-affinity rules.",
            lambda: (
                f"FailedScheduling: 0/{n()} nodes are available: {n()} node(s) didn't match pod affinity rules, {n()} node(s) didn't satisfy existing pods anti-affinity rules."
            ),
            lambda: (
                f"0/{n()} nodes are available: {n()} node(s) didn't match pod topology spread constraints."
            ),
        ],
    ),
    "scheduling.no_nodes": (
        "sched",
        [
            lambda: f"pod {pod()} not scheduled after {n()}s: no nodes available to schedule pods",
            lambda: "0/0 nodes are available: preemption: 0/0 nodes are available: no nodes available",
            lambda: f"node probe failed: no Ready nodes in the cluster ({n()} nodes, 0 Ready)",
        ],
    ),
    "scheduling.scheduler_down": (
        "sched",
        [
            lambda: f"pod {pod()} not scheduled after {n()}s: no scheduling decision",
            lambda: (
                f"pod {pod()} still Pending without a PodScheduled condition after {n()}s; scheduler leader lease not renewed for {n() + 30}s"
            ),
            lambda: (
                f"pods {pod()}-0 not scheduled: kube-scheduler leader election lease kube-system/kube-scheduler expired"
            ),
        ],
    ),
    "admission.webhook_failure": (
        "create",
        [
            lambda: (
                f'pod {pod()} not created: Internal error occurred: failed calling webhook "{R.choice(["validation", "mutate", "check"])}.{R.choice(["gatekeeper.sh", "kyverno.svc", "istio.io"])}": failed to call webhook: Post "https://{svc()}.{ns()}.svc:443/validate?timeout={n()}s": dial tcp {ip()}:443: connect: connection refused'
            ),
            lambda: (
                'Internal error occurred: failed calling webhook "sidecar-injector.istio.io": failed to call webhook: Post "https://istiod.istio-system.svc:443/inject": context deadline exceeded'
            ),
            lambda: (
                f'failed calling webhook "{svc()}": failed to call webhook: Post "https://127.0.0.1:1/validate?timeout={n()}s": no endpoints available for service "{svc()}"'
            ),
        ],
    ),
    "admission.quota_exceeded": (
        "create",
        [
            lambda: (
                f'pod {pod()} not created: pods "{pod()}" is forbidden: exceeded quota: {R.choice(["quota", "team-quota", "kubeprobe-fault-quota"])}, requested: pods=1, used: pods={(k := n())}, limited: pods={k}'
            ),
            lambda: (
                f'pods "{pod()}" is forbidden: exceeded quota: compute, requested: limits.cpu={n()}m, used: limits.cpu={n()}, limited: limits.cpu={n()}'
            ),
            lambda: (
                f"forbidden: exceeded quota: object-counts, requested: count/configmaps=1, used: count/configmaps={n()}"
            ),
        ],
    ),
    "admission.policy_denied": (
        "create",
        [
            lambda: (
                f'admission webhook "validation.gatekeeper.sh" denied the request: [{R.choice(["psp-privileged", "required-labels", "allowed-repos"])}] container <probe> is not allowed'
            ),
            lambda: (
                f'pods "{pod()}" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "probe" must set securityContext.allowPrivilegeEscalation=false)'
            ),
            lambda: (
                f'admission webhook "validate.kyverno.svc-fail" denied the request: policy Pod/{ns()}/{pod()} for resource violation: require-requests-limits'
            ),
        ],
    ),
    "apiserver.unavailable": (
        "api",
        [
            lambda: (
                f"could not run pod-lifecycle on cluster prod-{n()}: https://{ip()}:6443: cannot reach the API server: All connection attempts failed"
            ),
            lambda: "503 ServiceUnavailable: the server is currently unable to handle the request",
            lambda: (
                f'Get "https://{ip()}:6443/api/v1/namespaces/{ns()}/pods": dial tcp {ip()}:6443: connect: connection refused'
            ),
            lambda: f"https://127.0.0.1:{R.randrange(30000, 60000)}: GET /version timed out",
            lambda: "apiserver /readyz failed: [-]etcd failed: reason withheld; [-]informer-sync failed",
        ],
    ),
    "apiserver.throttled": (
        "api",
        [
            lambda: (
                "429 TooManyRequests: the server has received too many requests and has asked us to try again later"
            ),
            lambda: (
                f"apiserver probe: {n()} of {n() + 60} requests throttled (429) by API Priority and Fairness"
            ),
            lambda: "client rate limiter Wait returned an error: context deadline exceeded",
            lambda: (
                f"flowcontrol: request rejected by priority level workload-low: too many requests queued ({n()})"
            ),
        ],
    ),
    "etcd.unavailable": (
        "etcd",
        [
            lambda: "etcd probe failed at put: etcdserver: request timed out",
            lambda: (
                f"etcd probe failed at get: context deadline exceeded after {n()}s (http://127.0.0.1:{R.randrange(2000, 60000)}/v3/kv/range)"
            ),
            lambda: "rpc error: code = Unavailable desc = etcdserver: no leader",
            lambda: "etcdserver: leader changed",
            lambda: (
                f"etcd cluster is unavailable or misconfigured; error #0: dial tcp {ip()}:2379: connect: connection refused"
            ),
            lambda: (
                "500 InternalError: rpc error: code = Unavailable desc = error reading from server: EOF (etcd)"
            ),
        ],
    ),
    "etcd.quota": (
        "etcd",
        [
            lambda: "etcdserver: mvcc: database space exceeded",
            lambda: (
                f"etcd probe failed at put: etcdserver: mvcc: database space exceeded (db size {n()}GB, quota 8GB)"
            ),
            lambda: "alarm NOSPACE raised on member 8e9e05c52164694d: etcd is read-only until defragmented",
        ],
    ),
    "node.not_ready": (
        "run",
        [
            lambda: f"node probe failed: node {node()} not Ready: Kubelet stopped posting node status.",
            lambda: f"node {node()} is NotReady since {n()}m: NodeStatusUnknown",
            lambda: (
                f"0/{n()} nodes are available: {n()} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}."
            ),
            lambda: (
                f"0/{n()} nodes are available: {n()} node(s) had untolerated taint {{node.kubernetes.io/unreachable: }}."
            ),
            lambda: (
                f"node probe failed at running: pods not running on nodes {node()}, {node()}: node failed"
            ),
        ],
    ),
    "node.pressure": (
        "run",
        [
            lambda: "The node was low on resource: memory. Threshold quantity: 100Mi, available: 42Mi.",
            lambda: (
                f"0/{n()} nodes are available: {n()} node(s) had untolerated taint {{node.kubernetes.io/disk-pressure: }}."
            ),
            lambda: f"pod {pod()} Evicted: The node was low on resource: ephemeral-storage.",
            lambda: (
                f"node {node()} has condition MemoryPressure=True: kubelet has insufficient memory available"
            ),
            lambda: f"node {node()} PIDPressure: kubelet has insufficient PID available",
        ],
    ),
    "runtime.sandbox_failure": (
        "run",
        [
            lambda: (
                f'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "{R.randrange(16**12):012x}": plugin type="calico" failed (add): error getting ClusterInformation: connection is unauthorized'
            ),
            lambda: (
                "FailedCreatePodSandBox: Failed to create pod sandbox: rpc error: code = DeadlineExceeded desc = context deadline exceeded"
            ),
            lambda: (
                f'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to reserve sandbox name "{pod()}_{ns()}": name is reserved'
            ),
            lambda: (
                "networkPlugin cni failed to set up pod network: failed to allocate for range 0: no IP addresses available in range set"
            ),
        ],
    ),
    "runtime.image_pull": (
        "run",
        [
            lambda: (
                f'Failed to pull image "registry.example.com/{R.choice(["probe", "canary", "app"])}:{n()}": rpc error: code = NotFound desc = failed to pull and unpack image: not found'
            ),
            lambda: (
                f"pod {pod()} not running after {n()}s: ErrImagePull: pull access denied, repository does not exist or may require authorization"
            ),
            lambda: f'ImagePullBackOff: Back-off pulling image "busybox:{n()}"',
            lambda: (
                f"image example/kh-check:{n()} cannot be pulled: ImagePullBackOff: Back-off pulling image"
            ),
            lambda: "Failed to pull image: toomanyrequests: You have reached your pull rate limit.",
        ],
    ),
    "runtime.crash": (
        "run",
        [
            lambda: (
                f"pod {pod()} not running: CrashLoopBackOff: back-off {n()}s restarting failed container=probe"
            ),
            lambda: "BackOff: Back-off restarting failed container probe in pod",
            lambda: f"container probe terminated: OOMKilled (exit code 137) after {n()}s",
            lambda: f"container exited with code {R.choice([1, 2, 139, 255])}: Error; restartCount={n()}",
        ],
    ),
    "network.dns": (
        "any",
        [
            lambda: f"dial tcp: lookup {svc()}.{ns()}.svc.cluster.local on 10.96.0.10:53: no such host",
            lambda: (
                f"service probe failed at resolve: lookup kp-svc-{n()}.{ns()}.svc.cluster.local: i/o timeout"
            ),
            lambda: "dial tcp: lookup kubernetes.default.svc: server misbehaving",
            lambda: f"DNS resolution of {svc()} failed: SERVFAIL from 10.96.0.10",
        ],
    ),
    "network.connection": (
        "any",
        [
            lambda: f"dial tcp {ip()}:{R.choice([80, 8080, 9090])}: connect: connection refused",
            lambda: f"dial tcp {ip()}:8443: connect: no route to host",
            lambda: f"read tcp {ip()}:{n() + 40000}->{ip()}:80: read: connection reset by peer",
            lambda: (
                f"service probe failed at endpoints: service kp-svc-{n()} has no ready endpoints after {n()}s"
            ),
        ],
    ),
    "controller.stalled": (
        "sched",
        [
            lambda: (
                f"deployment probe failed at scale-up: deployment kp-dep-{n()} has 1/3 replicas after {n()}s; no new pods created"
            ),
            lambda: (
                f'ProgressDeadlineExceeded: ReplicaSet "kp-dep-{R.randrange(16**6):06x}" has timed out progressing.'
            ),
            lambda: (
                f"statefulset kp-sts-{n()} not progressing: 0 pods created after {n()}s (observedGeneration 1 < generation 2)"
            ),
            lambda: (
                f"deployment kp-dep-{n()}: no ReplicaSet created after {n()}s; controller-manager leader lease not renewed"
            ),
        ],
    ),
    "storage.volume": (
        "run",
        [
            lambda: (
                f'FailedMount: MountVolume.SetUp failed for volume "pvc-{R.randrange(16**8):08x}" : rpc error: code = Internal desc = mount failed'
            ),
            lambda: "pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available",
            lambda: (
                f'AttachVolume.Attach failed for volume "pvc-{R.randrange(16**8):08x}" : volume attachment is being deleted'
            ),
            lambda: f'persistentvolumeclaim "data-kp-sts-{n()}-0" not found',
        ],
    ),
    "certificate.expired": (
        "any",
        [
            lambda: (
                f"x509: certificate has expired or is not yet valid: current time 2026-11-{R.randrange(10, 28)}T10:00:00Z is after 2026-11-0{R.randrange(1, 9)}T00:00:00Z"
            ),
            lambda: (
                f"certificate probe failed at apiserver-cert: serving certificate of https://{ip()}:6443 expires in {R.randrange(1, 6)} days (threshold 30)"
            ),
            lambda: (
                f"client certificate CN=kubeprobe expires in {R.randrange(1, 9)}d: below the {R.choice([14, 30])}d threshold"
            ),
            lambda: (
                'tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of "crypto/rsa: verification error")'
            ),
        ],
    ),
    "auth.forbidden": (
        "api",
        [
            lambda: (
                f'pods is forbidden: User "system:serviceaccount:kubeprobe-system:kp-case-{n()}" cannot create resource "pods" in API group "" in the namespace "{ns()}"'
            ),
            lambda: "401 Unauthorized: Unauthorized",
            lambda: (
                f'403 Forbidden: configmaps "kp-run-{n()}" is forbidden: User "kubeprobe" cannot get resource "configmaps"'
            ),
        ],
    ),
    "probe.timeout": (
        "any",
        [
            lambda: f"pod-lifecycle probe did not finish before its deadline (at {R.choice(STEPS['any'])})",
            lambda: "statefulset-lifecycle probe did not finish before its deadline (at scale-down)",
            lambda: "the case did not finish before its deadline and was killed",
            lambda: f"pod kp-run-{n()} did not finish before the deadline; deleted",
        ],
    ),
    "unknown": (
        "any",
        [
            lambda: "unexpected EOF",
            lambda: f"probe failed: unexpected response {R.choice([418, 422, 499])}",
            lambda: "something went wrong: panic recovered in handler",
            lambda: f"invalid character '<' looking for beginning of value (status {n()})",
        ],
    ),
}

#: More phrasings per cause (real kubelet, scheduler, apiserver, etcd, runtime and client message
#: shapes), so that the benchmark can hold out whole phrasings and still have several to train on.
MORE: dict[str, list[Callable[[], str]]] = {
    "scheduling.insufficient_resources": [
        lambda: f"Warning FailedScheduling default-scheduler 0/{(k := n())} nodes are available: {k} Insufficient nvidia.com/gpu.",
        lambda: f"OutOfcpu: Node didn't have enough resource: cpu, requested: {n() * 100}, used: {n() * 100}, capacity: 4000",
        lambda: f"pod {pod()} stays Pending: no node has enough free memory for the request ({n()}Gi)",
    ],
    "scheduling.taints": [
        lambda: f"0/{(k := n())} nodes are available: {k} node(s) were unschedulable.",
        lambda: f"FailedScheduling: {n()} node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}.",
        lambda: f"pod {pod()} not scheduled: every node is tainted {R.choice(['dedicated=infra', 'gpu=true'])}:NoSchedule and the pod has no toleration",
    ],
    "scheduling.affinity": [
        lambda: f"0/{n()} nodes are available: {n()} Predicate NodeAffinity failed.",
        lambda: f"pod {pod()} not scheduled: no node matches nodeSelector {{zone: {R.choice(['eu-1a', 'us-2b'])}}}",
        lambda: f"0/{n()} nodes are available: {n()} node(s) had volume node affinity conflict.",
    ],
    "scheduling.no_nodes": [
        lambda: f"daemonset probe: 0 nodes in the cluster; nothing to place (desired {0}, {n()}s)",
        lambda: "no nodes registered with the API server: node list is empty",
        lambda: f"0/0 nodes are available: cluster has no schedulable nodes after {n()}s",
    ],
    "scheduling.scheduler_down": [
        lambda: f"kube-scheduler /healthz failed: dial tcp 127.0.0.1:10259: connect: connection refused; pod {pod()} Pending",
        lambda: f"pod {pod()} has no nodeName after {n()}s and no FailedScheduling event: is the scheduler running?",
        lambda: f"lease kube-system/kube-scheduler last renewed {n() + 60}s ago (duration 15s): no active scheduler",
    ],
    "admission.webhook_failure": [
        lambda: f'Internal error occurred: failed calling webhook "{svc()}.{ns()}": failed to call webhook: Post "https://{svc()}.{ns()}.svc:443/mutate?timeout=10s": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
        lambda: f"admission webhook {svc()} is unreachable: service {ns()}/{svc()} has no endpoints; failurePolicy=Fail rejects every pod",
        lambda: f'failed calling webhook "{svc()}": Post "https://{ip()}:9443/validate": EOF (webhook server closed the connection)',
    ],
    "admission.quota_exceeded": [
        lambda: f'pods "{pod()}" is forbidden: failed quota: {R.choice(["compute", "team-quota"])}: must specify limits.cpu for: probe; limits.memory for: probe',
        lambda: f"ResourceQuota {ns()}/{R.choice(['quota', 'pods'])} is full: used pods={(k := n())}, hard pods={k}",
        lambda: f'persistentvolumeclaims "data-{n()}" is forbidden: exceeded quota: storage, requested: requests.storage=10Gi',
    ],
    "admission.policy_denied": [
        lambda: f"ValidatingAdmissionPolicy '{R.choice(['require-labels', 'no-latest'])}' with binding 'b-{n()}' denied request: failed expression: object.metadata.labels.team != null",
        lambda: f'pods "{pod()}" is forbidden: unable to validate against any security context constraint',
        lambda: f'admission webhook "mutation.gatekeeper.sh" denied the request: policy {R.choice(["k8sallowedrepos", "k8srequiredprobes"])} forbids this pod',
    ],
    "apiserver.unavailable": [
        lambda: "the server was unable to return a response in the time allotted, but may still be processing the request",
        lambda: f"The connection to the server {ip()}:6443 was refused - did you specify the right host or port?",
        lambda: f"https://{ip()}:6443: GET /api/v1/namespaces/{ns()}/pods: net/http: TLS handshake timeout",
        lambda: "http2: server sent GOAWAY and closed the connection; LastStreamID=1999, ErrCode=NO_ERROR",
    ],
    "apiserver.throttled": [
        lambda: f"Throttling request took {n() / 10:.1f}s, request: GET:https://{ip()}:6443/api/v1/pods?limit=500",
        lambda: "rate: Wait(n=1) would exceed context deadline",
        lambda: f"client-side throttling, not priority and fairness: waited {n()}s for {n() * 10} list calls",
    ],
    "etcd.unavailable": [
        lambda: "etcdserver: request timed out, possibly due to previous leader failure",
        lambda: "Timeout: request did not complete within requested timeout - context deadline exceeded (storage)",
        lambda: f"etcd member {R.randrange(16**8):08x} is unhealthy: failed to commit proposal: context deadline exceeded",
        lambda: "grpc: the client connection is closing: etcd client closed",
    ],
    "etcd.quota": [
        lambda: f"etcd alarm: NOSPACE on member {R.randrange(16**16):016x}; writes are refused until the alarm is disarmed",
        lambda: f"etcd backend size {n() + 8}GiB reached --quota-backend-bytes; compact and defragment",
        lambda: "rpc error: code = ResourceExhausted desc = etcdserver: mvcc: database space exceeded",
    ],
    "node.not_ready": [
        lambda: f"NodeNotReady: Node {node()} status is now: NodeNotReady",
        lambda: f"node {node()}: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady",
        lambda: f"node {node()}: PLEG is not healthy: pleg was last seen active {n()}m{n()}s ago; threshold is 3m0s",
        lambda: f"Ready=False on node {node()} (reason KubeletNotReady) for {n()}m",
    ],
    "node.pressure": [
        lambda: "Evicted: The node had condition: [DiskPressure].",
        lambda: f"0/{n()} nodes are available: {n()} node(s) had untolerated taint {{node.kubernetes.io/memory-pressure: }}.",
        lambda: f"node {node()} DiskPressure=True: kubelet has disk pressure; evicting pods from imagefs",
    ],
    "runtime.sandbox_failure": [
        lambda: f'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox image "registry.k8s.io/pause:3.{n() % 10}": failed to pull image',
        lambda: f'failed to setup network for sandbox "{R.randrange(16**12):012x}": plugin type="cilium-cni" failed (add): unable to connect to Cilium daemon',
        lambda: f"pod {pod()} stuck ContainerCreating: sandbox creation failed {n()} times (cni plugin not initialized)",
    ],
    "runtime.image_pull": [
        lambda: f'Failed to pull image "{R.choice(["quay.io", "ghcr.io"])}/team/probe:v{n()}": manifest unknown',
        lambda: f'InvalidImageName: Failed to apply default image tag "Probe:{n()}": couldn\'t parse image reference',
        lambda: f"ErrImageNeverPull: Container image \"probe:{n()}\" is not present with pull policy of Never",
    ],
    "runtime.crash": [
        lambda: f"Liveness probe failed: HTTP probe failed with statuscode: 500; Container probe failed liveness probe, will be restarted ({n()} times)",
        lambda: f"Last State: Terminated, Reason: Error, Exit Code: {R.choice([1, 2, 127])}; Restart Count: {n()}",
        lambda: f"container probe in pod {pod()} keeps restarting: back-off {n()}s",
    ],
    "network.dns": [
        lambda: f";; connection timed out; no servers could be reached (nslookup {svc()}.{ns()})",
        lambda: f"lookup {svc()}.{ns()}.svc.cluster.local: NXDOMAIN",
        lambda: f"coredns: {n()} of {n() + 60} queries failed: read udp {ip()}:53: i/o timeout",
    ],
    "network.connection": [
        lambda: f'Get "http://{ip()}:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
        lambda: f"pod-to-pod probe: {ip()} -> {ip()}:80 failed: EOF",
        lambda: f"service kp-svc-{n()}: {n()} of {n() + 5} requests failed: connect: connection timed out",
    ],
    "controller.stalled": [
        lambda: f'deployment "kp-dep-{n()}" exceeded its progress deadline',
        lambda: f"ReplicaFailure: replicaset kp-dep-{R.randrange(16**6):06x} created 0 of {n()} pods in {n()}s",
        lambda: f"statefulset kp-sts-{n()}: currentRevision stays {n()} and updatedReplicas 0 after {n()}s",
    ],
    "storage.volume": [
        lambda: f'Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data kube-api-access-{R.randrange(16**5):05x}]: timed out waiting for the condition',
        lambda: 'waiting for a volume to be created, either by external provisioner "ebs.csi.aws.com" or manually created by system administrator',
        lambda: f"ProvisioningFailed: failed to provision volume with StorageClass \"{R.choice(['gp3', 'standard'])}\": rpc error: code = ResourceExhausted",
    ],
    "certificate.expired": [
        lambda: "remote error: tls: expired certificate",
        lambda: f"certificate kp-tls-{n()} in {ns()} has expired (notAfter 2026-0{R.randrange(1, 9)}-01)",
        lambda: f"kubelet serving certificate on {node()} expired {n()} days ago; TLS handshake fails",
    ],
    "auth.forbidden": [
        lambda: "the server has asked for the client to provide credentials",
        lambda: f'namespaces "{ns()}" is forbidden: User "system:anonymous" cannot get resource "namespaces"',
        lambda: f"RBAC: access denied for serviceaccount kp-case-{n()} (no RoleBinding grants list on pods)",
    ],
    "probe.timeout": [
        lambda: f"run kp-run-{n()}: report refused: run passed its deadline (HTTP 410)",
        lambda: f"probe exceeded its {n() * 10}s timeout at step {R.choice(STEPS['any'])} and was cancelled",
        lambda: "deadline exceeded: the case was killed at its deadline before reporting",
    ],
    "unknown": [
        lambda: f"json: cannot unmarshal string into Go value of type int (field {R.choice(['count', 'port'])})",
        lambda: "assertion failed: expected 3 items, got 2",
        lambda: f"probe returned ok=false without a reason (exit {n()})",
    ],
}
PROBES = ["pod-lifecycle", "deployment-rollout", "statefulset-lifecycle", "node", "etcd", "service", "apiserver"]

EVENTS = {
    "scheduling": ["Warning FailedScheduling"],
    "admission": [],
    "runtime.image_pull": ["Warning Failed", "Warning BackOff"],
    "runtime.crash": ["Warning BackOff"],
    "runtime.sandbox_failure": ["Warning FailedCreatePodSandBox"],
    "storage": ["Warning FailedMount", "Warning FailedAttachVolume"],
    "node.pressure": ["Warning Evicted"],
}


def sample(cause: str) -> dict[str, object]:
    kind, base = CAUSES[cause]
    phrasings = [*base, *MORE[cause]]
    phrasing = R.randrange(len(phrasings))
    message = phrasings[phrasing]()
    step = R.choice(STEPS[kind])
    if R.random() < 0.4 and "probe failed" not in message:  # how the built-in cases wrap a failure
        message = f"{R.choice(PROBES)} probe failed at {step}: {message}"
    events = next(
        (R.sample(v, k=min(len(v), R.randrange(0, 2))) for k, v in EVENTS.items() if cause.startswith(k)), []
    )
    row = {"step": step, "messages": [message], "events": events, "cause": cause}
    return {**row, "phrasing": phrasing}


def main() -> None:
    rows = [sample(cause) for cause in CAUSES for _ in range(64)]
    R.shuffle(rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} samples over {len(CAUSES)} causes to {OUT}")


if __name__ == "__main__":
    main()
