"""Checks the Helm chart in helm/broker-bridge: lint, renders and what they hold.

Run by ctest as bb_chart with Debian's /usr/bin/python3 (python3-yaml):
    check_chart.py --source <repo> --binary <build>/bin/broker-bridge

For the default values and every helm/broker-bridge/ci/*-values.yaml it lints the chart with
--strict, renders it, and checks the manifests: every Deployment has probes on /healthz and
/readyz, resources, a locked-down security context and a grace period that covers the
daemon's drain; each handler group is one Deployment running its bindings, scaled only
when neither per-aggregate ordering nor a SQLite analytics file forbids it; the ConfigMap's
config passes `broker-bridge check-config --offline`; secrets arrive only through
secretKeyRef, and every ${VAR} a pod's part of the config needs is set from a Secret;
presence, buckets and e-mail templates appear when their values turn them on. Every tests/helm/invalid/*.yaml must be refused, with the text its
`# expect:` line names. configs/cluster.yaml must equal the default render's config.
"""
import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
    return condition


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def seconds(duration):
    """A broker-bridge duration (500ms, 1m30s) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)(ms|s|m|h|d)", duration)
    return sum(int(n) * units[u] for n, u in parts)


def render(helm, chart, values):
    extra = ["-f", str(values)] if values else []
    lint = run([helm, "lint", "--strict", str(chart)] + extra)
    check(lint.returncode == 0, f"helm lint --strict {values}: {lint.stdout}{lint.stderr}")
    out = run([helm, "template", "bb", str(chart)] + extra)
    if not check(out.returncode == 0, f"helm template {values}: {out.stderr}"):
        return []
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def check_container(name, c, pod):
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, f"{name}: root file system not read-only")
    check(sc.get("allowPrivilegeEscalation") is False, f"{name}: privilege escalation allowed")
    check("ALL" in sc.get("capabilities", {}).get("drop", []), f"{name}: capabilities kept")
    non_root = sc.get("runAsNonRoot", pod.get("securityContext", {}).get("runAsNonRoot"))
    check(non_root is True, f"{name}: may run as root")
    seccomp = sc.get("seccompProfile", pod.get("securityContext", {}).get("seccompProfile"))
    check((seccomp or {}).get("type") == "RuntimeDefault", f"{name}: no RuntimeDefault seccomp")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        got = c.get(probe, {}).get("httpGet", {})
        check(got.get("path") == path and got.get("port") == "admin",
              f"{name}: {probe} is not GET {path} on the admin port")
    res = c.get("resources", {})
    check(res.get("requests") and res.get("limits"), f"{name}: resources missing")
    for env in c.get("env", []):
        check("valueFrom" in env or env["name"] == "BB_HANDLER_GROUP",
              f"{name}: env {env['name']} is a literal value, not a secretKeyRef")


def check_secret_env(label, config_text, dep):
    """Every ${VAR} without a default that this part of the config names reaches the pod
    from a Secret: otherwise the pod would refuse to start on an unset variable."""
    env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    for var in sorted(set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", config_text))):
        got = env.get(var, {}).get("valueFrom", {}).get("secretKeyRef", {})
        check(got.get("name") and got.get("key"), f"{label}: ${{{var}}} is not set from a Secret")


def check_optional_parts(values, config, by_kind, label):
    """Presence and e-mail templates appear exactly when their values turn them on."""
    presence = values.get("streams", {}).get("presence", {}).get("enabled", False)
    check(("presence" in config["streams"]) == presence, f"{label}: stream PRESENCE {presence}")
    if "edge" in config:
        check(("presence" in config["edge"]) == presence, f"{label}: edge.presence {presence}")
    buckets = {b["name"] for b in config.get("buckets", [])}
    for b in config["bindings"]:
        plugin_config = b.get("config") or {}
        wanted = {"email": [plugin_config.get("bucket")], "presence": ["presence"],
                  "push": ["push_subscriptions", "push_sent"]}.get(b["plugin"], [])
        for name in wanted:
            check(name in buckets, f"{label}: binding {b['name']} needs bucket {name}")
    templates = values.get("email", {}).get("templatesConfigMap")
    for dep in by_kind.get("Deployment", []):
        pod = dep["spec"]["template"]["spec"]
        mounts = {m["mountPath"] for m in pod["containers"][0].get("volumeMounts", [])}
        check(("/etc/broker-bridge-templates" in mounts) == bool(templates),
              f"{dep['metadata']['name']}: e-mail templates mounted={not templates}")


def check_config(binary, text, label):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(text)
        f.flush()
        env = {"PATH": "/usr/bin:/bin"}  # no secrets set: offline must not need them
        got = run([str(binary), "check-config", "--offline", f.name], env=env)
        check(got.returncode == 0, f"{label}: check-config --offline refused the ConfigMap: "
                                   f"{got.stdout}{got.stderr}")
        full = run([str(binary), "check-config", f.name], env=env)
        check(full.returncode != 0 or "BB_JWT_SECRET" not in text,
              f"{label}: check-config without --offline accepted unset secrets")


def check_render(docs, values, binary, label):
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    config_text = by_kind["ConfigMap"][0]["data"]["config.yaml"]
    config = yaml.safe_load(config_text)
    check_config(binary, config_text, label)
    check(not by_kind.get("Secret"), f"{label}: the chart renders a Secret")
    replicas = values.get("streams", {}).get("replicas", 3)
    for s in ("events", "dlq", "realtime", "advisories"):
        check(config["streams"][s]["replicas"] == replicas, f"{label}: stream {s} replicas")
    nats_drain = seconds(config["nats"]["request_timeout"])
    groups = values["handlerGroups"]
    handler_deps = {}
    for dep in by_kind.get("Deployment", []):
        name = dep["metadata"]["name"]
        pod = dep["spec"]["template"]["spec"]
        check("checksum/config" in dep["spec"]["template"]["metadata"].get("annotations", {}),
              f"{name}: no checksum/config annotation")
        for c in pod["containers"]:
            check_container(f"{label}: {name}/{c['name']}", c, pod)
        args = pod["containers"][0]["args"]
        grace = pod["terminationGracePeriodSeconds"]
        if args[0] == "edge":
            pre_stop = int(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
            need = pre_stop + seconds(config["edge"]["drain_timeout"]) + nats_drain
            check(grace > need, f"{label}: {name}: grace {grace}s <= preStop+drains {need}s")
        else:
            check(args[0] == "run" and args[-2] == "--bindings", f"{name}: args {args}")
            need = seconds(config["handlers"]["shutdown_timeout"]) + nats_drain
            check(grace > need, f"{label}: {name}: grace {grace}s <= shutdown+drain {need}s")
            env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
            handler_deps[env["BB_HANDLER_GROUP"]] = (dep, args[-1].split(","))
    check(sorted(handler_deps) == sorted(g["name"] for g in groups),
          f"{label}: handler Deployments {sorted(handler_deps)} != groups")
    ordered = {b["name"] for b in config["bindings"] if b.get("ordering") == "per-aggregate"}
    on_sqlite = {b["name"] for b in config["bindings"] if b["plugin"] == "analytics" and
                 (b.get("config") or {}).get("sink", "sqlite") == "sqlite"}
    for g in groups:
        dep, bindings = handler_deps.get(g["name"], (None, []))
        check(bindings == [b["name"] for b in g["bindings"]], f"{label}: {g['name']} bindings")
        if dep and ordered.intersection(bindings):
            check(dep["spec"]["replicas"] <= 1, f"{label}: ordered group {g['name']} scaled")
        if dep and on_sqlite.intersection(bindings):
            check(dep["spec"]["replicas"] <= 1, f"{label}: SQLite analytics {g['name']} scaled")
        if dep:
            text = yaml.safe_dump([b for b in config["bindings"] if b["name"] in bindings])
            check_secret_env(f"{label}: group {g['name']}", text, dep)
    if "edge" in config:
        edge_dep = [d for d in by_kind["Deployment"]
                    if d["spec"]["template"]["spec"]["containers"][0]["args"][0] == "edge"]
        check_secret_env(f"{label}: edge", yaml.safe_dump(config["edge"]), edge_dep[0])
    check_optional_parts(values, config, by_kind, label)
    edge = values.get("edge", {})
    if edge.get("enabled", True) is False:
        check("edge" not in config, f"{label}: edge disabled but configured")
    if edge.get("ingress", {}).get("enabled"):
        ann = by_kind["Ingress"][0]["metadata"]["annotations"]
        check(int(ann["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >
              seconds(config["edge"]["ping_timeout"]), f"{label}: ingress times out idle sockets")
    for flag, kind in ((edge.get("autoscaling", {}).get("enabled"), "HorizontalPodAutoscaler"),
                       (values.get("metrics", {}).get("serviceMonitor", {}).get("enabled"),
                        "ServiceMonitor"),
                       (values.get("networkPolicy", {}).get("enabled"), "NetworkPolicy")):
        check(bool(by_kind.get(kind)) == bool(flag), f"{label}: {kind} present={not flag}")
    return config_text


def check_refusals(helm, chart, invalid_dir):
    files = sorted(invalid_dir.glob("*.yaml"))
    check(len(files) >= 3, "fewer than three invalid values files")
    for f in files:
        expect = re.search(r"^# expect: (.+)$", f.read_text(), re.M).group(1)
        got = run([helm, "template", "bb", str(chart), "-f", str(f)])
        check(got.returncode != 0, f"{f.name}: helm accepted invalid values")
        check(expect in got.stderr, f"{f.name}: error does not name '{expect}': {got.stderr}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=pathlib.Path, required=True)
    ap.add_argument("--binary", type=pathlib.Path, required=True)
    a = ap.parse_args()
    helm = run([str(a.source / "scripts/install-helm")])
    if helm.returncode != 0:
        print(f"cannot install helm: {helm.stderr}", file=sys.stderr)
        return 1
    helm = helm.stdout.strip()
    chart = a.source / "helm/broker-bridge"
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    default_config = check_render(render(helm, chart, None), defaults, a.binary, "defaults")
    cluster_yaml = (a.source / "configs/cluster.yaml").read_text()
    check(cluster_yaml == default_config + "\n",
          "configs/cluster.yaml differs from the default render: regenerate it (see its header)")
    ci_files = sorted((chart / "ci").glob("*-values.yaml"))
    check(len(ci_files) >= 2, "fewer than two ci values files")
    for f in ci_files:
        values = {**defaults, **yaml.safe_load(f.read_text())}
        check_render(render(helm, chart, f), values, a.binary, f.name)
    check_refusals(helm, chart, a.source / "tests/helm/invalid")
    for f in FAILURES:
        print("FAIL:", f, file=sys.stderr)
    print(f"chart checks: {len(FAILURES)} failure(s), {len(ci_files) + 1} renders")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
