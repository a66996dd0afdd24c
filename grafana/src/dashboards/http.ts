// HTTP dashboard: OBI's HTTP server view per route (RED), status codes, body sizes, the services' own HTTP
// calls (client side), trace search and logs.
import { app } from "../lab.js";
import { graph, instantTable, labelVariable, logsPanel, mopDashboard, namespaceVariable, note, rate, redRow, section, steps, traceSearch } from "../panels.js";

const M = "http_server_request_duration_seconds";

export default mopDashboard(
  "mop-http",
  "MOP / HTTP",
  "HTTP servers of the lab as OBI sees them from the kernel: rate, errors and latency per route, status codes, payload sizes, and the services' own outgoing HTTP calls.",
  (d) => {
    d.withVariable(namespaceVariable(`${M}_count`));
    d.withVariable(labelVariable("service", "Service", `${M}_count{k8s_namespace_name="$namespace"}`, "service_name"));
    d.withVariable(labelVariable("route", "Route", `${M}_count{k8s_namespace_name="$namespace", service_name=~"$service"}`, "http_route"));
    section(
      d,
      "Requests (RED) — server side",
      redRow({
        metric: M,
        sel: app(`http_route=~"$route"`),
        // gateway and catalog both serve /products, /products/{id} and /search: a route alone mixes them.
        by: "service_name, http_route",
        byTitle: "service and route",
        legend: "{{service_name}} {{http_route}}",
        noun: "requests",
        errors: `http_response_status_code=~"5.."`,
        errorMeaning: "HTTP status 5xx; 4xx are the client's fault and not counted",
        slow: [0.25, 1],
      }),
    );
    section(d, "Status codes and payloads", [
      graph({
        title: "Responses by status code",
        description: "Responses per second by HTTP status. A rise in 404/409/422 is clients asking for things that are not there or invalid; 5xx is ours.",
        unit: "reqps",
        w: 8,
        stack: true,
        queries: [[`sum by (http_response_status_code) (${rate(`${M}_count`, app(`http_route=~"$route"`))})`, "{{http_response_status_code}}"]],
      }),
      graph({
        title: "Requests by method and route",
        description: "Which endpoints carry the traffic (service + method + route template; gateway and catalog share /products, /products/{id} and /search). Routes come from OBI's routes.patterns; an unlisted path shows as /** (unmatched: low-cardinality).",
        unit: "reqps",
        w: 8,
        queries: [[`sum by (service_name, http_request_method, http_route) (${rate(`${M}_count`, app(`http_route=~"$route"`))})`, "{{service_name}} {{http_request_method}} {{http_route}}"]],
      }),
      graph({
        title: "Response body size p95 by service and route",
        description: "Response sizes OBI read from the wire (http_server_response_body_size_bytes). A jump means a list endpoint returns much more than before. The lab sets prometheus_export.buckets.response_size_histogram up to 1 MiB: OBI's default buckets stop at 8 KiB, and a quantile above the last bound would read as 8 KiB.",
        unit: "bytes",
        w: 8,
        queries: [[`histogram_quantile(0.95, sum by (le, service_name, http_route) (${rate("http_server_response_body_size_bytes_bucket", app(`http_route=~"$route"`))}))`, "{{service_name}} {{http_route}}"]],
      }),
    ]);
    section(d, "Slowest routes", [
      instantTable({
        title: "Top 10 slowest routes (p99)",
        description: "The ten service + route pairs with the highest p99 over the dashboard's rate window, slowest first. A route that appears here but not in the p99 graph's top lines is slow but rare.",
        unit: "s",
        w: 24,
        h: 7,
        thresholds: steps([0.25, "orange"], [1, "red"]),
        expr: `topk(10, histogram_quantile(0.99, sum by (le, service_name, http_route) (${rate(`${M}_bucket`, app(`http_route=~"$route"`))})))`,
      }),
    ]);
    section(d, "Outgoing HTTP calls — client side", [
      graph({
        title: "Client calls by target",
        description: "HTTP calls the selected services make (gateway → catalog), by server_address. OBI measures them in the caller's kernel, so the network is included.",
        unit: "reqps",
        w: 12,
        queries: [[`sum by (service_name, server_address) (${rate("http_client_request_duration_seconds_count", app())})`, "{{service_name}} → {{server_address}}"]],
      }),
      graph({
        title: "Client call p99 by target",
        description: "The slowest 1 % of outgoing calls. Compare with the target's own server p99: the difference is network and queueing.",
        unit: "s",
        w: 12,
        exemplar: true,
        queries: [[`histogram_quantile(0.99, sum by (le, service_name, server_address) (${rate("http_client_request_duration_seconds_bucket", app())}))`, "{{service_name}} → {{server_address}}"]],
      }),
    ]);
    section(d, "Traces and logs", [
      traceSearch(
        "Slow or failed requests (Tempo)",
        '{ resource.service.name =~ "$service" && span.http.route != nil && (duration > 500ms || span.http.response.status_code >= 500) }',
        "Server spans OBI exported to Tempo that were slow (> 500 ms) or failed (5xx). Click a trace id to open it. Only as many traces as Tempo keeps.",
      ),
      note(
        "What OBI cannot see here",
        "OBI sees every plaintext HTTP/1.1 request in the kernel, but it does not know the **route template** unless `routes.patterns` lists it (axum routes are not auto-detected), and it cannot see **TLS** made with rustls. Cross-service traces from Rust are partial: OBI cannot link a request to the calls a Tokio process makes for it (OBI #1096).",
      ),
      logsPanel(
        "Logs of the selected services (Loki)",
        '{namespace="$namespace", service_name=~"$service"}',
        "JSON log lines of the services (stdout, collected into Loki). A line's trace_id links to the trace in Tempo (datasource derived field). OBI's log enricher does not cover Rust; the services log the trace id of the incoming traceparent themselves.",
      ),
    ]);
  },
);
