// gRPC dashboard: auth's RPCs as OBI sees them (RED by method, status codes), the StreamEvents stream's
// lifetime, the callers' client view, and what eBPF cannot count (messages per stream).
import { GRPC_SERVER_ERROR_CODES, STREAM_METHOD, app } from "../lab.js";
import { graph, labelVariable, logsPanel, mopDashboard, namespaceVariable, note, rate, redRow, section, single, steps, traceSearch } from "../panels.js";

const M = "rpc_server_call_duration_seconds";

export default mopDashboard(
  "mop-grpc",
  "MOP / gRPC",
  "gRPC (h2c) calls of the lab's auth service as OBI sees them: calls, status codes and latency per method, the StreamEvents server stream, and the callers' side.",
  (d) => {
    d.withVariable(namespaceVariable(`${M}_count`));
    d.withVariable(labelVariable("service", "Service", `${M}_count{k8s_namespace_name="$namespace"}`, "service_name"));
    d.withVariable(labelVariable("method", "Method", `${M}_count{k8s_namespace_name="$namespace", service_name=~"$service"}`, "rpc_method"));
    section(
      d,
      "Calls (RED) — server side",
      redRow({
        metric: M,
        sel: app(`rpc_method=~"$method"`),
        by: "rpc_method",
        noun: "calls",
        errors: `rpc_response_status_code=~"${GRPC_SERVER_ERROR_CODES}"`,
        errorMeaning: "the codes OBI marks as server errors: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS. A wrong password (UNAUTHENTICATED) or a throttled login (RESOURCE_EXHAUSTED) is the caller's failure: see Calls by method and status code",
        // A StreamEvents call lasts as long as its subscriber stays: a lifetime, not a response time.
        latencySel: `rpc_method!="${STREAM_METHOD}"`,
        latencyNote: "StreamEvents is left out: its duration is the stream's lifetime (its own panel below).",
        slow: [0.1, 0.5],
      }),
    );
    section(d, "Status codes and the stream", [
      graph({
        title: "Calls by method and status code",
        description: "Calls per second by method and gRPC status (rpc_response_status_code, a name such as OK or UNAUTHENTICATED). Login failing with UNAUTHENTICATED is expected for wrong passwords (about a fifth of the mixed profile's logins), RESOURCE_EXHAUSTED is the login throttle; UNAVAILABLE or INTERNAL are not expected. The status is what OBI decoded from the response's first HEADERS frame: compare with loadgen's own counts before trusting a code's share.",
        unit: "reqps",
        w: 12,
        queries: [[`sum by (rpc_method, rpc_response_status_code) (${rate(`${M}_count`, app(`rpc_method=~"$method"`))})`, "{{rpc_method}} {{rpc_response_status_code}}"]],
      }),
      graph({
        title: "StreamEvents: stream lifetime p50 / p99",
        description: "For a server stream OBI records one observation when the stream ends: its duration is how long a subscriber stayed connected, not a response time. Short lifetimes mean subscribers are dropped.",
        unit: "s",
        w: 6,
        queries: [
          [`histogram_quantile(0.5, sum by (le) (${rate(`${M}_bucket`, app(`rpc_method="${STREAM_METHOD}"`))}))`, "p50"],
          [`histogram_quantile(0.99, sum by (le) (${rate(`${M}_bucket`, app(`rpc_method="${STREAM_METHOD}"`))}))`, "p99"],
        ],
      }),
      single({
        title: "Calls OBI could not name",
        description: "Calls per second with rpc_method=\"*\": OBI missed the start of the HTTP/2 connection (HPACK state), which happens when the app started before OBI. Should be 0; if not, restart the apps after OBI is ready.",
        unit: "reqps",
        w: 6,
        h: 8,
        thresholds: steps([0.001, "red"]),
        expr: `sum(${rate(`${M}_count`, `k8s_namespace_name="$namespace", rpc_method="*"`)}) or vector(0)`,
      }),
    ]);
    section(d, "Callers — client side", [
      graph({
        title: "Client calls by caller and method",
        description: "gRPC calls as the callers' kernels saw them (rpc_client_call_duration_seconds): who calls auth, and how often.",
        unit: "reqps",
        w: 12,
        queries: [[`sum by (service_name, rpc_method) (${rate("rpc_client_call_duration_seconds_count", `k8s_namespace_name="$namespace", rpc_method=~"$method"`)})`, "{{service_name}} {{rpc_method}}"]],
      }),
      graph({
        title: "Client call p99 by method",
        description: "The callers' p99 including the network; compare with the server side above.",
        unit: "s",
        w: 12,
        exemplar: true,
        queries: [[`histogram_quantile(0.99, sum by (le, rpc_method) (${rate("rpc_client_call_duration_seconds_bucket", `k8s_namespace_name="$namespace", rpc_method=~"$method"`)}))`, "{{rpc_method}}"]],
      }),
    ]);
    section(d, "Traces and logs", [
      traceSearch(
        "Failed or slow RPCs (Tempo)",
        `{ resource.service.name =~ "$service" && span.rpc.method != nil && span.rpc.method != "${STREAM_METHOD}" && (status = error || span.rpc.grpc.status_code = 16 || span.rpc.response.status_code = "UNAUTHENTICATED" || duration > 200ms) }`,
        "gRPC spans that failed, were refused as UNAUTHENTICATED, or took longer than 200 ms. OBI sets status = error on a server span only for UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS, so the refusals are matched by their code (the attribute name differs between OBI versions: both are tried). StreamEvents is left out: every stream outlives 200 ms.",
      ),
      note(
        "What OBI cannot see here",
        "OBI sees each call and its status, but **not the messages inside a stream**: messages per StreamEvents stream come from loadgen's report (`stream.messages`, `messages_per_s`). Method names need OBI to watch the connection from its first bytes (start OBI before the apps, else method `*`).",
      ),
      logsPanel("Logs of auth (Loki)", '{namespace="$namespace", service_name=~"$service"}', "auth's JSON log lines; trace_id links to Tempo."),
    ]);
  },
);
