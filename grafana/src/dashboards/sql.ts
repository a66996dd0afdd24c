// SQL dashboard: orders' PostgreSQL queries as OBI sees them (RED by operation), the N+1 signal (database
// calls per HTTP request), slow queries — and PostgreSQL's own statement statistics beside them.
import { ORDERS_N_PLUS_ONE_ROUTE } from "../lab.js";
import { graph, instantTable, labelVariable, logsPanel, mopDashboard, namespaceVariable, note, rate, redRow, section, single, steps, traceSearch } from "../panels.js";

const M = "db_client_operation_duration_seconds";
const PG = `k8s_namespace_name="$namespace", service_name=~"$service", db_system_name="postgresql"`;

export default mopDashboard(
  "mop-sql",
  "MOP / SQL",
  "PostgreSQL traffic of the lab (orders) as OBI sees it on the wire, the N+1 signal, slow queries — and the database's own view (postgres-exporter, pg_stat_statements) beside it.",
  (d) => {
    d.withVariable(namespaceVariable(`${M}_count`));
    d.withVariable(labelVariable("service", "Service", `${M}_count{k8s_namespace_name="$namespace", db_system_name="postgresql"}`, "service_name"));
    section(
      d,
      "Queries (RED) — OBI, client side",
      redRow({
        metric: M,
        sel: PG,
        by: "db_operation_name",
        noun: "queries",
        errors: `error_type!=""`,
        errorMeaning: "OBI saw an error response (error_type set)",
        slow: [0.05, 0.25],
      }),
    );
    section(d, "N+1 and slow queries", [
      single({
        title: "Database calls per orders request (N+1)",
        description: `PostgreSQL calls per second of orders ÷ its HTTP requests per second. A handful is normal; a number that grows with the data (e.g. 11 for a customer with 10 orders on ${ORDERS_N_PLUS_ONE_ROUTE}?strategy=n-plus-one) is N+1. OBI cannot attribute a query to its request (Tokio, OBI #1096), so this is per service: read it while one route dominates, e.g. during a load phase.`,
        unit: "short",
        w: 6,
        h: 8,
        thresholds: steps([4, "orange"], [10, "red"]),
        expr: `sum(${rate(`${M}_count`, `k8s_namespace_name="$namespace", service_name="orders", db_system_name="postgresql"`)}) / sum(${rate("http_server_request_duration_seconds_count", `k8s_namespace_name="$namespace", service_name="orders"`)})`,
      }),
      graph({
        title: "Calls per request over time, by operation",
        description: "The same ratio split by db_operation_name: N+1 shows as many SELECTs per request.",
        unit: "short",
        w: 9,
        h: 8,
        queries: [[`sum by (db_operation_name) (${rate(`${M}_count`, `k8s_namespace_name="$namespace", service_name="orders", db_system_name="postgresql"`)}) / scalar(sum(${rate("http_server_request_duration_seconds_count", `k8s_namespace_name="$namespace", service_name="orders"`)}))`, "{{db_operation_name}}"]],
      }),
      graph({
        title: "Slow queries: share above 100 ms",
        description: "Fraction of queries slower than 100 ms, from the histogram bucket le=0.1. OBI has no query text by default — the slowest statements come from pg_stat_statements below, and from traces when db.query.text is enabled.",
        unit: "percentunit",
        w: 9,
        h: 8,
        thresholds: steps([0.01, "orange"], [0.05, "red"]),
        queries: [[`1 - sum by (db_operation_name) (${rate(`${M}_bucket`, `${PG}, le="0.1"`)}) / sum by (db_operation_name) (${rate(`${M}_count`, PG)})`, "{{db_operation_name}}"]],
      }),
    ]);
    section(d, "The database's view (postgres-exporter)", [
      instantTable({
        title: "Slowest statements — mean time (backend's view)",
        description: "pg_stat_statements via postgres-exporter (--collector.stat_statements): mean execution time per statement over the range. This is what the database measured, query id and text included — OBI's view has neither.",
        unit: "s",
        w: 12,
        thresholds: steps([0.05, "orange"], [0.25, "red"]),
        expr: `topk(10, sum by (queryid) (rate(pg_stat_statements_seconds_total[$__rate_interval])) / sum by (queryid) (rate(pg_stat_statements_calls_total[$__rate_interval])) > 0) * on (queryid) group_left (query) max by (queryid, query) (pg_stat_statements_query_id)`,
      }),
      graph({
        title: "Statement calls/s (backend's view)",
        description: "Executions per second per statement as PostgreSQL counted them. Compare the total with OBI's query rate above: a gap means OBI missed connections (statements prepared before OBI started).",
        unit: "reqps",
        w: 6,
        queries: [
          [`topk(5, sum by (queryid) (rate(pg_stat_statements_calls_total[$__rate_interval])))`, "{{queryid}}"],
          [`sum(rate(pg_stat_statements_calls_total[$__rate_interval]))`, "all (backend)"],
        ],
      }),
      graph({
        title: "Connections and transactions (backend's view)",
        description: "Open backends and committed / rolled back transactions per second (pg_stat_database). Rollbacks rising means failing writes.",
        unit: "short",
        w: 6,
        queries: [
          [`sum(pg_stat_database_numbackends)`, "connections"],
          [`sum(rate(pg_stat_database_xact_commit[$__rate_interval]))`, "commits/s"],
          [`sum(rate(pg_stat_database_xact_rollback[$__rate_interval]))`, "rollbacks/s"],
        ],
      }),
    ]);
    section(d, "Traces and logs", [
      traceSearch(
        "Slow database spans (Tempo)",
        '{ span.db.system.name = "postgresql" && duration > 100ms }',
        "Database spans slower than 100 ms. Their db.query.text is present only when OBI's attributes.select includes it (traces only).",
      ),
      note(
        "What OBI cannot see here",
        "OBI parses the PostgreSQL wire protocol: operation and duration, **not the query text** unless opted in (traces only), and statements prepared before OBI started lose their text. It cannot tell which HTTP request a query belongs to in a Tokio service (OBI #1096), so N+1 is read as calls per request. Statement statistics come from the database (pg_stat_statements).",
      ),
      logsPanel("Logs of orders (Loki)", '{namespace="$namespace", service_name=~"$service"}', "orders' JSON log lines; trace_id links to Tempo."),
    ]);
  },
);
