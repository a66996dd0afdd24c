// Overview dashboard: every protocol at a glance (one stat pair per protocol, linking to its dashboard),
// the service map from service-graph metrics, and the services OBI instruments.
import { DLQ_TOPIC, GRPC_SERVER_ERROR_CODES, STREAM_METHOD } from "../lab.js";
import { errorSteps, graph, hitSteps, instantTable, logsPanel, mopDashboard, namespaceVariable, note, rate, section, serviceMap, single, steps } from "../panels.js";
import { derivedHitRatio } from "./redis.js";

const NS = `k8s_namespace_name="$namespace"`;
const link = (uid: string, title: string) => [{ title, url: `/d/${uid}?\${__url_time_range}&var-namespace=\${namespace}` }];

/** 5xx / all, or 0 when there are no errors at all (the stat then says 0 % instead of "No data"). */
const ratio = (count: string, sel: string, errors: string) =>
  `(sum(${rate(count, `${sel}, ${errors}`)}) or vector(0)) / sum(${rate(count, sel)})`;

export default mopDashboard(
  "mop-overview",
  "MOP / Overview",
  "The lab at a glance: HTTP, gRPC, SQL, Redis and Kafka as OBI sees them, the service map, and links to one dashboard per protocol.",
  (d) => {
    d.withVariable(namespaceVariable("http_server_request_duration_seconds_count"));
    section(d, "Every protocol at a glance (click a title for its dashboard)", [
      single({ title: "HTTP requests/s", description: "All HTTP requests the lab's servers answered (OBI, server side).", unit: "reqps", w: 3, expr: `sum(${rate("http_server_request_duration_seconds_count", NS)})`, links: link("mop-http", "HTTP dashboard") }),
      single({ title: "HTTP 5xx ratio", description: "Share of HTTP responses with status 5xx. Orange above 1 %, red above 5 %.", unit: "percentunit", w: 3, thresholds: errorSteps(), expr: ratio("http_server_request_duration_seconds_count", NS, `http_response_status_code=~"5.."`), links: link("mop-http", "HTTP dashboard") }),
      single({ title: "gRPC calls/s", description: "All gRPC calls auth answered (OBI, server side).", unit: "reqps", w: 3, expr: `sum(${rate("rpc_server_call_duration_seconds_count", NS)})`, links: link("mop-grpc", "gRPC dashboard") }),
      single({ title: "gRPC error ratio", description: "Share of gRPC calls that failed on the server's side: the codes OBI marks as server errors (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS). Wrong passwords (UNAUTHENTICATED, about a fifth of the mixed profile's logins) and throttled logins are not counted: see the gRPC dashboard's status codes.", unit: "percentunit", w: 3, thresholds: errorSteps(), expr: ratio("rpc_server_call_duration_seconds_count", NS, `rpc_response_status_code=~"${GRPC_SERVER_ERROR_CODES}"`), links: link("mop-grpc", "gRPC dashboard") }),
      single({ title: "SQL queries/s", description: "PostgreSQL queries of the lab (OBI, client side).", unit: "reqps", w: 3, expr: `sum(${rate("db_client_operation_duration_seconds_count", `${NS}, db_system_name="postgresql"`)})`, links: link("mop-sql", "SQL dashboard") }),
      single({ title: "Redis commands/s", description: "Redis commands of the gateway (OBI, client side; pub/sub is not seen).", unit: "reqps", w: 3, expr: `sum(${rate("db_client_operation_duration_seconds_count", `${NS}, db_system_name="redis"`)})`, links: link("mop-redis", "Redis dashboard") }),
      single({ title: "Kafka produce requests/s", description: "Produce requests on every topic (OBI, producer side). OBI makes one span per Produce request and topic and never reads the record count: a request may carry a batch of messages, so this is not a message rate.", unit: "reqps", w: 3, expr: `sum(${rate("messaging_client_operation_duration_seconds_count", NS)})`, links: link("mop-kafka", "Kafka dashboard") }),
      single({ title: "DLQ rate", description: "Produce requests per second to the dead-letter topic (OBI counts requests, not messages; events' consumers dead-letter one record at a time). Above 0: failed events need a human.", unit: "reqps", w: 3, thresholds: steps([0.0001, "red"]), expr: `sum(${rate("messaging_client_operation_duration_seconds_count", `${NS}, messaging_destination_name="${DLQ_TOPIC}"`)}) or vector(0)`, links: link("mop-kafka", "Kafka dashboard") }),
    ]);
    section(d, "Services", [
      graph({
        title: "Error ratio by service (HTTP 5xx + gRPC server errors)",
        description: "Per service: HTTP 5xx ÷ HTTP requests, and gRPC server-error codes (as OBI defines them) ÷ gRPC calls. 4xx and UNAUTHENTICATED are the caller's failures and not counted. A service without errors shows 0; one without traffic is absent.",
        unit: "percentunit",
        w: 24,
        h: 7,
        thresholds: errorSteps(),
        queries: [
          [`(sum by (service_name) (${rate("http_server_request_duration_seconds_count", `${NS}, http_response_status_code=~"5.."`)}) or 0 * sum by (service_name) (${rate("http_server_request_duration_seconds_count", NS)})) / sum by (service_name) (${rate("http_server_request_duration_seconds_count", NS)})`, "{{service_name}} HTTP"],
          [`(sum by (service_name) (${rate("rpc_server_call_duration_seconds_count", `${NS}, rpc_response_status_code=~"${GRPC_SERVER_ERROR_CODES}"`)}) or 0 * sum by (service_name) (${rate("rpc_server_call_duration_seconds_count", NS)})) / sum by (service_name) (${rate("rpc_server_call_duration_seconds_count", NS)})`, "{{service_name}} gRPC"],
        ],
      }),
      graph({
        title: "Requests/s by service (HTTP + gRPC)",
        description: "What each service answered per second, HTTP and gRPC together (OBI, server side). A service missing here is not instrumented (see below) or idle.",
        unit: "reqps",
        w: 12,
        queries: [
          [`sum by (service_name) (${rate("http_server_request_duration_seconds_count", NS)})`, "{{service_name}} HTTP"],
          [`sum by (service_name) (${rate("rpc_server_call_duration_seconds_count", NS)})`, "{{service_name}} gRPC"],
        ],
      }),
      graph({
        title: "p99 by service (HTTP + gRPC)",
        description: "The slowest 1 % of each service's answers (gRPC without StreamEvents, whose duration is a stream's lifetime). Exemplars open the trace.",
        unit: "s",
        w: 12,
        exemplar: true,
        thresholds: steps([0.25, "orange"], [1, "red"]),
        queries: [
          [`histogram_quantile(0.99, sum by (le, service_name) (${rate("http_server_request_duration_seconds_bucket", NS)}))`, "{{service_name}} HTTP"],
          [`histogram_quantile(0.99, sum by (le, service_name) (${rate("rpc_server_call_duration_seconds_bucket", `${NS}, rpc_method!="${STREAM_METHOD}"`)}))`, "{{service_name}} gRPC"],
        ],
      }),
      single({ title: "Gateway cache hit ratio (derived)", description: "1 − gateway's upstream GETs ÷ its cached reads, from OBI's HTTP metrics, floored at 0 (a list or batch miss fetches its items one by one, so misses can outnumber reads; details on the Redis dashboard).", unit: "percentunit", w: 6, h: 6, thresholds: hitSteps(), expr: derivedHitRatio, links: link("mop-redis", "Redis dashboard") }),
      instantTable({
        title: "Services OBI instruments",
        description: "Every service_name with OBI series in the namespace, and its pods. A Deployment missing here was not discovered by OBI (discovery.instrument) or runs TLS OBI cannot read.",
        unit: "short",
        w: 18,
        h: 6,
        expr: `count by (service_name, k8s_deployment_name) ({__name__=~"http_server_request_duration_seconds_count|rpc_server_call_duration_seconds_count|db_client_operation_duration_seconds_count|messaging_client_operation_duration_seconds_count|messaging_process_duration_seconds_count", ${NS}})`,
      }),
    ]);
    section(d, "Service map", [
      serviceMap("Who calls whom, drawn by Tempo from the traces_service_graph_* metrics in Prometheus. Edges inside a Rust (Tokio) service are missing: OBI cannot link a request to the calls it causes there (OBI #1096), so the map shows the edges OBI saw on the wire."),
      graph({
        title: "Calls per edge (service graph)",
        description: "traces_service_graph_request_total per client → server: the numbers behind the map. Failed calls per edge in the second query.",
        unit: "reqps",
        w: 12,
        h: 12,
        queries: [
          [`sum by (client, server) (rate(traces_service_graph_request_total[$__rate_interval]))`, "{{client}} → {{server}}"],
          [`sum by (client, server) (rate(traces_service_graph_request_failed_total[$__rate_interval]))`, "{{client}} → {{server}} failed"],
        ],
      }),
    ]);
    section(d, "What eBPF cannot see, and logs", [
      note(
        "What OBI cannot see (and where it comes from instead)",
        "Cache **hits/misses** and Redis **pub/sub** (redis_exporter), Kafka **partitions and consumer lag** (kafka-exporter), **SQL text** (pg_stat_statements; traces when opted in), **messages per gRPC stream** (loadgen's report), anything inside **TLS** made with rustls, and the link between a request and the calls a Tokio service makes for it (OBI #1096). Each protocol dashboard shows the backend's view next to OBI's.",
        24,
        3,
      ),
      logsPanel("Errors and warnings of every service (Loki)", '{namespace="$namespace"} | json | level=~"ERROR|WARN"', "Error and warning log lines of every pod in the namespace; trace_id links to Tempo."),
    ]);
  },
);
