// Redis dashboard: the gateway's Redis commands as OBI sees them (RED by command), the cache hit ratio
// derived without code in the services — and Redis' own keyspace and pub/sub counters beside them.
import { GATEWAY_CACHED_ROUTES } from "../lab.js";
import { graph, hitSteps, labelVariable, logsPanel, mopDashboard, namespaceVariable, note, rate, redRow, section, single } from "../panels.js";

const M = "db_client_operation_duration_seconds";
const RD = `k8s_namespace_name="$namespace", service_name=~"$service", db_system_name="redis"`;

/** 1 − upstream GETs to catalog ÷ cached reads served: the gateway's hit ratio seen from the outside. */
// Floored at 0: a list or batch miss fetches its items from catalog one by one (gateway's cache.rs
// fetch_many), so upstream calls can outnumber the reads that caused them and 1 − ratio goes negative.
export const derivedHitRatio =
  `clamp_min(1 - sum(rate(http_client_request_duration_seconds_count{k8s_namespace_name="$namespace", service_name="gateway", http_request_method="GET"}[$__rate_interval]))` +
  ` / sum(rate(http_server_request_duration_seconds_count{k8s_namespace_name="$namespace", service_name="gateway", http_request_method="GET", http_route=~"${GATEWAY_CACHED_ROUTES}"}[$__rate_interval])), 0)`;

export default mopDashboard(
  "mop-redis",
  "MOP / Redis",
  "The gateway's Redis cache: commands and latency as OBI sees them, the hit ratio derived from OBI's HTTP metrics, and Redis' own view (redis_exporter: keyspace hits/misses, pub/sub channels).",
  (d) => {
    d.withVariable(namespaceVariable(`${M}_count`));
    d.withVariable(labelVariable("service", "Service", `${M}_count{k8s_namespace_name="$namespace", db_system_name="redis"}`, "service_name"));
    section(
      d,
      "Commands (RED) — OBI, client side",
      redRow({
        metric: M,
        sel: RD,
        by: "db_operation_name",
        noun: "commands",
        errors: `error_type!=""`,
        errorMeaning: "Redis answered with an error reply",
        // Redis answers in microseconds: the lab sets sub-millisecond buckets (obi-config.yml).
        slow: [0.005, 0.025],
      }),
    );
    section(d, "Cache hit ratio — two views", [
      single({
        title: "Hit ratio — derived from OBI (HTTP)",
        description: "1 − (gateway's GET calls to catalog ÷ gateway's GET requests on cached routes). A single-item miss costs one upstream call, so this is roughly the share served from the cache (L1 or Redis). Approximate, and floored at 0: a list or batch miss fetches each missing item with its own upstream call, so one read can cost many calls and the raw ratio can go negative — read it on item traffic, and use Redis' view beside it. Below 50 % the cache is not helping.",
        unit: "percentunit",
        w: 6,
        h: 6,
        thresholds: hitSteps(),
        expr: derivedHitRatio,
      }),
      single({
        title: "Hit ratio — Redis' view (keyspace)",
        description: "keyspace_hits ÷ (hits + misses) from redis_exporter: what Redis counted for key lookups (an MGET of 10 keys counts 10). OBI cannot see hits: a GET's reply value is not a label.",
        unit: "percentunit",
        w: 6,
        h: 6,
        thresholds: hitSteps(),
        expr: `sum(rate(redis_keyspace_hits_total[$__rate_interval])) / (sum(rate(redis_keyspace_hits_total[$__rate_interval])) + sum(rate(redis_keyspace_misses_total[$__rate_interval])))`,
      }),
      graph({
        title: "Hit ratio over time — both views",
        description: "The derived (OBI) and the backend's (Redis keyspace) hit ratios together: they differ where the gateway's in-process L1 cache answers without asking Redis.",
        unit: "percentunit",
        w: 12,
        h: 6,
        thresholds: hitSteps(),
        queries: [
          [derivedHitRatio, "derived from OBI (gateway HTTP)"],
          [`sum(rate(redis_keyspace_hits_total[$__rate_interval])) / (sum(rate(redis_keyspace_hits_total[$__rate_interval])) + sum(rate(redis_keyspace_misses_total[$__rate_interval])))`, "Redis keyspace (backend)"],
        ],
      }),
    ]);
    section(d, "Redis' own view (redis_exporter)", [
      graph({
        title: "Commands/s by command (backend's view)",
        description: "INFO commandstats: what Redis executed, PUBLISH included. Compare with OBI's command rate above: OBI shows no pub/sub.",
        unit: "reqps",
        w: 8,
        queries: [[`sum by (cmd) (rate(redis_commands_total[$__rate_interval]))`, "{{cmd}}"]],
      }),
      graph({
        title: "Pub/sub channels (backend's view)",
        description: "Channels with at least one subscriber (the gateways' invalidation channel). 0 means no gateway listens for invalidations: caches will serve stale items until their TTL.",
        unit: "short",
        w: 8,
        queries: [[`sum(redis_pubsub_channels)`, "channels"]],
      }),
      graph({
        title: "Clients and availability (backend's view)",
        description: "Connected clients and redis_up (1 = the exporter reached Redis). The gateway tolerates losing Redis (by design): watch the derived hit ratio fall when redis_up drops.",
        unit: "short",
        w: 8,
        queries: [
          [`sum(redis_connected_clients)`, "clients"],
          [`min(redis_up)`, "up"],
        ],
      }),
    ]);
    section(d, "Logs", [
      note(
        "What OBI cannot see here",
        "OBI parses plaintext RESP: command and latency. **Hits vs misses** are not a label, and **pub/sub makes no spans** (OBI #1144): both come from Redis itself (redis_exporter) or are derived from the gateway's HTTP traffic.",
      ),
      logsPanel("Logs of the gateway (Loki)", '{namespace="$namespace", service_name=~"$service"}', "gateway's JSON log lines (cache and breaker events); trace_id links to Tempo."),
    ]);
  },
);
