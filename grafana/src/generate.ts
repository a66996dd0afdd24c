// Writes every dashboard as JSON (2-space indent, trailing newline) into grafana/dashboards/ or --out DIR.
// The committed JSON is this output; the lab crate's test regenerates it and compares byte for byte.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { dashboards } from "./dashboards/index.js";

const i = process.argv.indexOf("--out");
// fileURLToPath rather than import.meta.dirname: Debian 12's Node.js is 18.
const out = i > 0 ? process.argv[i + 1] : fileURLToPath(new URL("../dashboards", import.meta.url));
mkdirSync(out, { recursive: true });
for (const [name, d] of Object.entries(dashboards)) {
  writeFileSync(join(out, `${name}.json`), JSON.stringify(d, null, 2) + "\n");
}
