// Syntax check of TraceQL and LogQL with Grafana's own Lezer grammars (the parsers Grafana's query editors
// use). Reads [{"lang": "traceql"|"logql", "expr": "..."}] on stdin (variables already substituted) and
// prints [{"expr", "error"}] — an empty list when every expression parses. Called by the lab crate's
// dashboards tests; no Tempo or Loki server can run on the build machines, so syntax is what is checked.
import { parser as logql } from "@grafana/lezer-logql";
import { parser as traceql } from "@grafana/lezer-traceql";
import { readFileSync } from "node:fs";

const input: { lang: string; expr: string }[] = JSON.parse(readFileSync(0, "utf8"));
const problems: { expr: string; error: string }[] = [];
for (const { lang, expr } of input) {
  const p = lang === "traceql" ? traceql : lang === "logql" ? logql : undefined;
  if (!p) {
    problems.push({ expr, error: `unknown language ${lang}` });
    continue;
  }
  // Lezer recovers from errors by inserting error nodes (⚠); any such node is a syntax error.
  let error: string | undefined;
  p.parse(expr).iterate({
    enter: (n) => {
      if (error === undefined && n.type.isError) error = `${lang} syntax error at offset ${n.from}: …${expr.slice(n.from, n.from + 30)}`;
    },
  });
  if (error) problems.push({ expr, error });
}
process.stdout.write(JSON.stringify(problems) + "\n");
