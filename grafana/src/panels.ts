// Shared panel builders of MOP's dashboards: datasources by uid, PromQL/TraceQL/LogQL targets, the RED row
// (written once, used for HTTP, gRPC, SQL, Redis and Kafka), stats, logs, trace search and text panels.
// Every panel gets a unit and a description; thresholds where a bad value exists.
import * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as logs from "@grafana/grafana-foundation-sdk/logs";
import * as loki from "@grafana/grafana-foundation-sdk/loki";
import * as nodegraph from "@grafana/grafana-foundation-sdk/nodegraph";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as tempo from "@grafana/grafana-foundation-sdk/tempo";
import * as text from "@grafana/grafana-foundation-sdk/text";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";

// Fixed uids from grafana/provisioning/datasources/datasources.yaml (a test checks they resolve).
export const PROM: dashboard.DataSourceRef = { type: "prometheus", uid: "prometheus" };
export const TEMPO: dashboard.DataSourceRef = { type: "tempo", uid: "tempo" };
export const LOKI: dashboard.DataSourceRef = { type: "loki", uid: "loki" };

export type Panel = cog.Builder<dashboard.Panel>;

/** `rate(<series>{<sel>}[$__rate_interval])`: the one window every panel uses (Grafana picks ≥ 4 scrapes). */
export const rate = (series: string, sel: string) => `rate(${series}{${sel}}[$__rate_interval])`;

/** Thresholds: green below the first step, then each [value, color]. */
export function steps(...s: [number, string][]): dashboard.ThresholdsConfigBuilder {
  return stepsFrom("green", ...s);
}

/** Thresholds starting from `base` (e.g. red for a ratio where low is bad). */
export function stepsFrom(base: string, ...s: [number, string][]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...s.map(([value, color]) => ({ value, color }))]);
}

/** Hit ratios: below 50 % the cache does not help, below 80 % it is cold or too small. */
export const hitSteps = () => stepsFrom("red", [0.5, "orange"], [0.8, "green"]);

/** Error ratios: 1 % is worth a look, 5 % is an incident. */
export const errorSteps = () => steps([0.01, "orange"], [0.05, "red"]);

export function promQuery(expr: string, legend: string, refId = "A", opts: { exemplar?: boolean; instant?: boolean } = {}) {
  const q = new prometheus.DataqueryBuilder().expr(expr).legendFormat(legend).refId(refId).datasource(PROM);
  if (opts.exemplar) q.exemplar(true);
  if (opts.instant) q.instant().format(prometheus.PromQueryFormat.Table);
  return q;
}

interface Common {
  title: string;
  description: string;
  unit: string;
  w?: number;
  h?: number;
  thresholds?: dashboard.ThresholdsConfigBuilder;
  links?: { title: string; url: string }[];
  /** What the panel says instead of Grafana's bare "No data" when its series are missing. */
  noData?: string;
}

/** Shown when a query returns no series: missing series mean "not seen", never "zero". */
export const NO_DATA = "No series: not seen in this range (see the description)";

/** A time series of one or more PromQL queries (legend per query). */
export function graph(c: Common & { queries: [string, string][]; exemplar?: boolean; stack?: boolean }): Panel {
  const p = new timeseries.PanelBuilder()
    .title(c.title)
    .description(c.description)
    .unit(c.unit)
    .datasource(PROM)
    .span(c.w ?? 8)
    .height(c.h ?? 8)
    .fillOpacity(10)
    .noValue(c.noData ?? NO_DATA)
    .legend(new LegendBuilder());
  c.queries.forEach(([expr, legend], i) =>
    p.withTarget(promQuery(expr, legend, String.fromCharCode(65 + i), { exemplar: c.exemplar })),
  );
  if (c.thresholds) p.thresholds(c.thresholds).thresholdsStyle(new ThresholdsStyle());
  if (c.stack) p.stacking(new StackingBuilder());
  return withLinks(p, c.links);
}

/** One big number (the last value of one PromQL query), coloured by its thresholds. */
export function single(c: Common & { expr: string; legend?: string }): Panel {
  const p = new stat.PanelBuilder()
    .title(c.title)
    .description(c.description)
    .unit(c.unit)
    .datasource(PROM)
    .span(c.w ?? 4)
    .height(c.h ?? 4)
    .withTarget(promQuery(c.expr, c.legend ?? "", "A"))
    .noValue(c.noData ?? NO_DATA)
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.Area)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]));
  p.thresholds(c.thresholds ?? steps());
  return withLinks(p, c.links);
}

/** An instant-query table (one row per series), e.g. the backend's slowest statements. */
export function instantTable(c: Common & { expr: string }): Panel {
  const p = new table.PanelBuilder()
    .title(c.title)
    .description(c.description)
    .unit(c.unit)
    .datasource(PROM)
    .span(c.w ?? 12)
    .height(c.h ?? 8)
    .noValue(c.noData ?? NO_DATA)
    .withTarget(promQuery(c.expr, "", "A", { instant: true }));
  if (c.thresholds) p.thresholds(c.thresholds);
  return withLinks(p, c.links);
}

function withLinks<T extends { links(l: cog.Builder<dashboard.DashboardLink>[]): T }>(p: T, links?: { title: string; url: string }[]): T {
  if (!links) return p;
  return p.links(links.map((l) => new dashboard.DashboardLinkBuilder(l.title).url(l.url).type(dashboard.DashboardLinkType.Link)));
}

/** What a RED row is about: one OBI duration histogram seen from one side, split by one label. */
export interface Red {
  /** The histogram's base name (`…_seconds`): `_count` gives the rate, `_bucket` the latency. */
  metric: string;
  /** Label matchers selecting this protocol's series, without braces. */
  sel: string;
  /** The label(s) to split by (route, method, operation, topic), comma-separated. */
  by: string;
  /** How titles name the split (default: `by`), e.g. "service and route" for `service_name, http_route`. */
  byTitle?: string;
  /** Legend template (default: `{{<by>}}`). */
  legend?: string;
  /** The noun for one observation: "requests", "calls", "queries", "commands", "messages". */
  noun: string;
  /** Matchers (added to `sel`) that select failures; none → no error panel (Kafka: OBI has no error label). */
  errors?: string;
  /** What a failure is, for the description. */
  errorMeaning?: string;
  /** Matchers (added to `sel`) for the latency panels only. */
  latencySel?: string;
  /** What the latency panels leave out or really measure, appended to their descriptions. */
  latencyNote?: string;
  /** Latency thresholds (seconds) for p99: [warn, bad]. */
  slow: [number, number];
}

/** The RED row: rate by X, error ratio by X, p50/p95/p99 of the selection, p99 by X. Four panels. */
export function redRow(r: Red): Panel[] {
  const count = `${r.metric}_count`;
  const bucket = `${r.metric}_bucket`;
  const all = `sum by (${r.by}) (${rate(count, r.sel)})`;
  const byTitle = r.byTitle ?? r.by;
  const legend = r.legend ?? `{{${r.by}}}`;
  const panels: Panel[] = [
    graph({
      title: `Rate of ${r.noun} by ${byTitle}`,
      description: `${r.noun} per second as OBI saw them on the wire (${count}), split by ${r.by}. A drop to zero means the traffic stopped — or OBI stopped seeing it (check the OBI pod).`,
      unit: "reqps",
      w: 6,
      queries: [[all, legend]],
    }),
  ];
  if (r.errors) {
    const errs = `sum by (${r.by}) (${rate(count, `${r.sel}, ${r.errors}`)})`;
    panels.push(
      graph({
        title: `Error ratio by ${byTitle}`,
        description: `Share of ${r.noun} that failed (${r.errorMeaning}). Orange above 1 %, red above 5 %. Groups without any failure show 0 rather than disappearing.`,
        unit: "percentunit",
        w: 6,
        thresholds: errorSteps(),
        queries: [[`(${errs} or 0 * ${all}) / ${all}`, legend]],
      }),
    );
  }
  // Latency may leave out some series (gRPC: a stream's lifetime is not a response time).
  const latSel = r.latencySel ? `${r.sel}, ${r.latencySel}` : r.sel;
  const q = (p: number) => `histogram_quantile(${p}, sum by (le) (${rate(bucket, latSel)}))`;
  panels.push(
    graph({
      title: `Latency of ${r.noun} p50 / p95 / p99`,
      description: `Duration of ${r.noun} from OBI's histogram (${bucket}), all selected series together.${r.latencyNote ? " " + r.latencyNote : ""} Exemplar dots (when OBI's exemplar_filter is on) open the trace in Tempo. Orange/red lines mark slow (${r.slow[0]} s / ${r.slow[1]} s).`,
      unit: "s",
      w: r.errors ? 6 : 9,
      exemplar: true,
      thresholds: steps([r.slow[0], "orange"], [r.slow[1], "red"]),
      queries: [
        [q(0.5), "p50"],
        [q(0.95), "p95"],
        [q(0.99), "p99"],
      ],
    }),
    graph({
      title: `p99 of ${r.noun} by ${byTitle}`,
      description: `The slowest 1 % of ${r.noun}, per ${r.by}: which one is slow. Quantiles are estimated within histogram buckets, so a value is only as fine as the bucket bounds.${r.latencyNote ? " " + r.latencyNote : ""}`,
      unit: "s",
      w: r.errors ? 6 : 9,
      thresholds: steps([r.slow[0], "orange"], [r.slow[1], "red"]),
      queries: [[`histogram_quantile(0.99, sum by (le, ${r.by}) (${rate(bucket, latSel)}))`, legend]],
    }),
  );
  return panels;
}

/** Logs of the selected services from Loki (stream labels set by Alloy: namespace, pod, container, service_name = app.kubernetes.io/name). */
export function logsPanel(title: string, expr: string, description: string): Panel {
  return new logs.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(LOKI)
    .span(24)
    .height(10)
    .showTime(true)
    .wrapLogMessage(true)
    .enableLogDetails(true)
    .sortOrder(common.LogsSortOrder.Descending)
    .withTarget(new loki.DataqueryBuilder().expr(expr).refId("A").datasource(LOKI).maxLines(500));
}

/** A LogQL metric query drawn as a time series (e.g. loadgen's own progress lines). */
export function lokiGraph(c: Common & { expr: string; legend: string }): Panel {
  return new timeseries.PanelBuilder()
    .title(c.title)
    .description(c.description)
    .unit(c.unit)
    .datasource(LOKI)
    .span(c.w ?? 12)
    .height(c.h ?? 8)
    .withTarget(new loki.DataqueryBuilder().expr(c.expr).legendFormat(c.legend).refId("A").datasource(LOKI));
}

/** A TraceQL search: the traces behind a number (Tempo). */
export function traceSearch(title: string, query: string, description: string, w = 24): Panel {
  return new table.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(TEMPO)
    .span(w)
    .height(8)
    .withTarget(new tempo.TempoQueryBuilder().queryType("traceql").query(query).limit(20).refId("A").datasource(TEMPO));
}

/** Tempo's service map (drawn from traces_service_graph_* in Prometheus) as a node graph. */
export function serviceMap(description: string): Panel {
  return new nodegraph.PanelBuilder()
    .title("Service map")
    .description(description)
    .datasource(TEMPO)
    .span(12)
    .height(12)
    .withTarget(new tempo.TempoQueryBuilder().queryType("serviceMap").query("").refId("A").datasource(TEMPO));
}

/** A short note in the dashboard: what eBPF cannot see and where that comes from instead. */
export function note(title: string, markdown: string, w = 24, h = 4): Panel {
  return new text.PanelBuilder()
    .title(title)
    .description("Why some numbers are not on this dashboard, or come from the backend instead of OBI.")
    .span(w)
    .height(h)
    .mode(text.TextMode.Markdown)
    .content(markdown);
}

/** A query variable over one label of one metric (`label_values`), multi-select with All = `.*`. */
export function labelVariable(name: string, label: string, metricSel: string, labelName: string, multi = true) {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(PROM)
    // A plain label_values() string: the form every Grafana version reads (and migrates into its editor).
    .query(`label_values(${metricSel}, ${labelName})`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(multi)
    .includeAll(multi)
    .allValue(".*");
}

/** The namespace variable every dashboard has: OBI's k8s_namespace_name on the given metric. */
export const namespaceVariable = (metric: string) =>
  labelVariable("namespace", "Namespace", metric, "k8s_namespace_name", false).current({ text: "mop", value: "mop" });

/** A row header (panels that follow belong to it). */
export const row = (title: string) => new dashboard.RowBuilder(title);

/** Links from every dashboard to the others (same tag). */
export const mopLinks = () =>
  new dashboard.DashboardLinkBuilder("MOP dashboards")
    .type(dashboard.DashboardLinkType.Dashboards)
    .tags(["mop"])
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true);

/** A dashboard with MOP's common settings; `body` adds variables, rows and panels. */
export function mopDashboard(uid: string, title: string, description: string, body: (d: dashboard.DashboardBuilder) => void) {
  const d = new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(["mop", "obi"])
    .editable()
    .refresh("30s")
    .time({ from: "now-1h", to: "now" })
    .timezone("browser")
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(mopLinks());
  body(d);
  const built = d.build();
  // Stable panel ids (Grafana would assign them on load; links such as ?viewPanel= need them fixed).
  built.panels?.forEach((p, i) => (p.id = i + 1));
  return fixups(built);
}

/**
 * Where the SDK's 11.6 model and the Grafana 13 schema (@grafana/schema, which the tests check against)
 * disagree, write what Grafana 13 reads:
 * - the SDK puts interval-variable fields (auto, auto_min, auto_count) on every variable: dropped
 *   from the others;
 * - a Loki annotation's query belongs in `target` (the schema's AnnotationQuery<TQuery>), not in the
 *   SDK's top-level `expr`.
 */
function fixups(d: dashboard.Dashboard): dashboard.Dashboard {
  for (const v of d.templating?.list ?? []) {
    if (v.type !== "interval") {
      const loose = v as unknown as Record<string, unknown>;
      delete loose.auto;
      delete loose.auto_min;
      delete loose.auto_count;
    }
  }
  for (const a of d.annotations?.list ?? []) {
    if (a.expr !== undefined) {
      (a as unknown as Record<string, unknown>).target = { refId: "Anno", expr: a.expr };
      delete a.expr;
    }
  }
  return d;
}

/** Adds a row and its panels. */
export function section(d: dashboard.DashboardBuilder, title: string, panels: Panel[]) {
  d.withRow(row(title));
  panels.forEach((p) => d.withPanel(p));
}

// Small builders the SDK spreads over its `common` module.
class LegendBuilder extends common.VizLegendOptionsBuilder {
  constructor() {
    super();
    this.displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true);
  }
}
class ThresholdsStyle extends common.GraphThresholdsStyleConfigBuilder {
  constructor() {
    super();
    this.mode(common.GraphThresholdsStyleMode.Line);
  }
}
class StackingBuilder extends common.StackingConfigBuilder {
  constructor() {
    super();
    this.mode(common.StackingMode.Normal);
  }
}
