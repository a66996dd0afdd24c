// Load dashboard: what loadgen sent (its own progress lines in Loki) next to what OBI saw it send and what
// the services answered; loadgen's runs as annotations.
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { LOKI, graph, lokiGraph, logsPanel, mopDashboard, namespaceVariable, note, rate, section } from "../panels.js";

const NS = `k8s_namespace_name="$namespace"`;
// Each `just load` Job has its own name; OBI names its service from the pod's owner, hence the prefix match.
const LOADGEN = `${NS}, service_name=~"loadgen.*"`;
const PROGRESS = `{namespace="$namespace", service_name="loadgen"} | json | message="progress"`;

export default mopDashboard(
  "mop-load",
  "MOP / Load",
  "The load generator's runs: the rate it achieved by its own count (log lines in Loki), the calls OBI saw it make, and what the services answered. Runs appear as annotations.",
  (d) => {
    d.withVariable(namespaceVariable("http_server_request_duration_seconds_count"));
    // loadgen logs one "starting" line per run (scenario, planned arrivals) in JSON; Loki turns it into a marker.
    d.annotation(annotation(`{namespace="$namespace", service_name="loadgen"} | json | message="starting"`));
    section(d, "Sent vs seen", [
      lokiGraph({
        title: "Achieved rate — loadgen's own count (Loki)",
        description: "The 'rate' field of loadgen's periodic progress lines (completed requests per second over the last second). Planned rate per step is in loadgen's final report (planned_rate vs achieved_rate per step), not in a live signal.",
        unit: "reqps",
        w: 12,
        expr: `max by (service_name) (max_over_time(${PROGRESS} | unwrap rate [$__interval]))`,
        legend: "loadgen achieved",
      }),
      graph({
        title: "HTTP and gRPC calls OBI saw loadgen make",
        description: "loadgen's outgoing HTTP and gRPC calls as OBI measured them in loadgen's kernel — only these two protocols: steps that talk to Kafka, PostgreSQL or Redis directly (e.g. a poison record written straight to a topic) are not here. Should match the achieved rate on the left for HTTP/gRPC-only profiles; if it is lower, OBI is missing traffic (or loadgen's pods are not instrumented). A StreamEvents subscription is one call however many messages it carries.",
        unit: "reqps",
        w: 12,
        queries: [
          [`sum by (server_address) (${rate("http_client_request_duration_seconds_count", LOADGEN)})`, "HTTP → {{server_address}}"],
          [`sum by (rpc_method) (${rate("rpc_client_call_duration_seconds_count", LOADGEN)})`, "gRPC {{rpc_method}}"],
        ],
      }),
      graph({
        title: "Answered by the services",
        description: "What the services answered per second (OBI, server side): includes other callers (the gateway calling catalog) besides loadgen.",
        unit: "reqps",
        w: 12,
        queries: [
          [`sum by (service_name) (${rate("http_server_request_duration_seconds_count", NS)})`, "{{service_name}} HTTP"],
          [`sum by (service_name) (${rate("rpc_server_call_duration_seconds_count", NS)})`, "{{service_name}} gRPC"],
        ],
      }),
      graph({
        title: "Latency loadgen experienced (OBI, client side)",
        description: "p99 of loadgen's calls from OBI's client histograms. loadgen's own p99 (from the intended send time, coordinated-omission corrected) is in its progress lines and report, and is the one to trust under overload.",
        unit: "s",
        w: 12,
        exemplar: true,
        queries: [
          [`histogram_quantile(0.99, sum by (le) (${rate("http_client_request_duration_seconds_bucket", LOADGEN)}))`, "HTTP p99"],
          [`histogram_quantile(0.99, sum by (le) (${rate("rpc_client_call_duration_seconds_bucket", LOADGEN)}))`, "gRPC p99"],
        ],
      }),
      lokiGraph({
        title: "loadgen p99 — its own count (Loki)",
        description: "p99_ms of loadgen's progress lines (latency from the intended send time) — the coordinated-omission-free number.",
        unit: "ms",
        w: 12,
        expr: `max by (service_name) (max_over_time(${PROGRESS} | unwrap p99_ms [$__interval]))`,
        legend: "loadgen p99 (ms)",
      }),
      lokiGraph({
        title: "Unexpected errors — loadgen's own count (Loki)",
        description: "The running count of unexpected errors in loadgen's progress lines. Expected errors (a wrong password on purpose) are counted separately.",
        unit: "short",
        w: 12,
        expr: `max by (service_name) (max_over_time(${PROGRESS} | unwrap unexpected [$__interval]))`,
        legend: "unexpected errors",
      }),
    ]);
    section(d, "Runs", [
      note(
        "Where these numbers come from",
        "loadgen is observed twice: by OBI (its calls on the wire, Prometheus) and by itself (JSON progress lines on stdout, collected into Loki; LOG_FORMAT=json in pods). The per-step planned vs achieved table is loadgen's final report (`--out FILE`, crates/loadgen/src/report.rs); runs are marked by their 'starting' line (annotation).",
        24,
        3,
      ),
      logsPanel("loadgen's log lines (Loki)", `{namespace="$namespace", service_name="loadgen"}`, "Every run's starting, progress and summary lines."),
    ]);
  },
);

function annotation(expr: string) {
  return new dashboard.AnnotationQueryBuilder().name("loadgen runs").datasource(LOKI).enable(true).iconColor("purple").expr(expr);
}
