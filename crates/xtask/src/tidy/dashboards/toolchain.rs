//! The TypeScript half of the checks, run from Rust because the TypeScript tools are the real
//! checkers: the Foundation SDK generator (committed JSON == its output), `tsc` with Grafana's own
//! dashboard type from `@grafana/schema`, and Grafana's Lezer grammars for TraceQL and LogQL.
//!
//! Everything runs from grafana/node_modules (installed by `npm ci` in grafana/, which .ci/run does);
//! a missing tool is an error saying so, never a skip.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::grafana_dir;

/// grafana/node_modules/.bin/<tool>, or an error saying how to install it.
pub fn node_tool(tool: &str) -> Result<PathBuf> {
    let p = grafana_dir().join("node_modules/.bin").join(tool);
    if !p.exists() {
        bail!(
            "{} is missing: run `npm ci` in grafana/ (Node.js 20+; .ci/run does it)",
            p.display()
        );
    }
    Ok(p)
}

fn run(cmd: &mut Command, what: &str, stdin: Option<&[u8]>) -> Result<String> {
    cmd.current_dir(grafana_dir())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| {
        format!(
            "{what}: could not start {:?} (is Node.js installed?)",
            cmd.get_program()
        )
    })?;
    if let Some(input) = stdin {
        child.stdin.take().context("stdin")?.write_all(input)?;
    }
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// Runs the generator into `out` (grafana/src/generate.ts --out DIR).
pub fn generate_into(out: &Path) -> Result<()> {
    run(
        Command::new(node_tool("tsx")?)
            .arg("src/generate.ts")
            .arg("--out")
            .arg(out),
        "the dashboard generator",
        None,
    )
    .map(drop)
}

/// `tsc -p grafana`: the definitions and the generator type-check (strict).
pub fn typecheck_sources() -> Result<()> {
    run(
        Command::new(node_tool("tsc")?).args(["-p", "."]),
        "tsc over grafana/src",
        None,
    )
    .map(drop)
}

/// Grafana's dashboard type with string enums loosened to their literal unions: JSON's strings are
/// `string`, not the enum members TypeScript would otherwise demand (dashboards.md).
/// Annotations: the schema's AnnotationQuery is generic over its datasource's query type; ours are
/// Loki's (LokiDataQuery, from the same package).
const SCHEMA_PRELUDE: &str = r#"import type { AnnotationContainer, AnnotationQuery, Dashboard } from "@grafana/schema";
import type { LokiDataQuery } from "@grafana/schema/dist/esm/raw/composable/loki/dataquery/x/LokiDataQuery_types.gen";
type Annotations = Omit<AnnotationContainer, "list"> & { list?: (AnnotationQuery | AnnotationQuery<LokiDataQuery>)[] };
type Loose<T> = T extends string ? `${T}` : T extends (infer U)[] ? Loose<U>[] : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;
export type DashboardJSON = Loose<Omit<Dashboard, "annotations"> & { annotations?: Annotations }>;
"#;

/// Type-checks each (name, JSON) against `@grafana/schema`'s Dashboard with `tsc --noEmit` (strict):
/// wrong types, unknown keys, malformed gridPos and string datasources fail; panel plugin `options`
/// are not looked into (the schema types them as open records).
pub fn typecheck_against_schema(dashboards: &[(String, String)]) -> Result<()> {
    // Inside grafana/ so Node's resolution finds node_modules; removed afterwards.
    let dir = grafana_dir().join(format!(".schema-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = (|| {
        std::fs::write(dir.join("schema.ts"), SCHEMA_PRELUDE)?;
        let mut files = vec!["schema.ts".to_owned()];
        for (name, json) in dashboards {
            let file = format!("{name}.ts");
            std::fs::write(
                dir.join(&file),
                format!(
                    "import type {{ DashboardJSON }} from \"./schema.js\";\nexport const dashboard: DashboardJSON = {json};\n"
                ),
            )?;
            files.push(file);
        }
        let tsconfig = serde_json::json!({
            "compilerOptions": { "strict": true, "noEmit": true, "skipLibCheck": true, "target": "ES2022",
                                 "module": "NodeNext", "moduleResolution": "NodeNext", "types": [] },
            "files": files,
        });
        std::fs::write(dir.join("tsconfig.json"), tsconfig.to_string())?;
        run(
            Command::new(node_tool("tsc")?).arg("-p").arg(&dir),
            "tsc against @grafana/schema",
            None,
        )
        .map(drop)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Syntax errors of TraceQL/LogQL expressions (grafana/src/check-syntax.ts): (expression, error).
pub fn syntax_errors(queries: &[(&str, String)]) -> Result<Vec<(String, String)>> {
    let input: Vec<Value> = queries
        .iter()
        .map(|(lang, expr)| serde_json::json!({ "lang": lang, "expr": expr }))
        .collect();
    let out = run(
        Command::new(node_tool("tsx")?).arg("src/check-syntax.ts"),
        "the TraceQL/LogQL syntax check",
        Some(serde_json::to_string(&input)?.as_bytes()),
    )?;
    let problems: Vec<Value> =
        serde_json::from_str(out.trim()).with_context(|| format!("syntax check output: {out}"))?;
    Ok(problems
        .iter()
        .map(|p| {
            (
                p["expr"].as_str().unwrap_or_default().to_owned(),
                p["error"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}
