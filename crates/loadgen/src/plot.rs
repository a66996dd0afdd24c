//! `--plot FILE.svg`: latency over time (p50, p99, max per second, from intended time) and the
//! percentile curve (intended vs send time), as a self-contained SVG — no plotting dependency, and a
//! file any browser, Grafana annotation or README can show.

use std::fmt::Write as _;

use crate::report::Report;

const W: f64 = 900.0;
const PANEL_H: f64 = 260.0;
const MARGIN: f64 = 60.0;

/// Renders both panels. Empty runs produce a valid SVG with empty axes.
pub fn svg(report: &Report) -> String {
    let mut out = String::new();
    let height = 2.0 * (PANEL_H + MARGIN) + MARGIN;
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = format!(
        "{} — latency from intended time (ms) per second",
        escape(&report.scenario)
    );
    let seconds: Vec<f64> = report.timeline.iter().map(|p| p.second as f64).collect();
    let series = [
        (
            "p50",
            "#1f77b4",
            report.timeline.iter().map(|p| p.p50_ms).collect::<Vec<_>>(),
        ),
        (
            "p99",
            "#d62728",
            report.timeline.iter().map(|p| p.p99_ms).collect(),
        ),
        (
            "max",
            "#7f7f7f",
            report.timeline.iter().map(|p| p.max_ms).collect(),
        ),
    ];
    panel(
        &mut out,
        MARGIN,
        &title,
        "second of the run",
        &seconds,
        &series,
    );

    // The percentile axis is log-scaled in 1/(1-p), so the tail gets the room it deserves.
    let xs: Vec<f64> = report
        .percentile_curve
        .iter()
        .map(|c| (1.0 / (1.0 - (c.percentile / 100.0).min(0.99999))).log10())
        .collect();
    let curve = [
        (
            "from intended time",
            "#d62728",
            report
                .percentile_curve
                .iter()
                .map(|c| c.intended_ms)
                .collect::<Vec<_>>(),
        ),
        (
            "from send time",
            "#1f77b4",
            report.percentile_curve.iter().map(|c| c.send_ms).collect(),
        ),
    ];
    let top = MARGIN + PANEL_H + MARGIN;
    panel(
        &mut out,
        top,
        "percentile curve (ms): 50 · 90 · 99 · 99.9 · 99.99 · max",
        "percentile (log scale of 1/(1−p))",
        &xs,
        &curve,
    );
    let _ = writeln!(out, "</svg>");
    out
}

fn panel(
    out: &mut String,
    top: f64,
    title: &str,
    x_label: &str,
    xs: &[f64],
    series: &[(&str, &str, Vec<f64>)],
) {
    let (left, width) = (MARGIN, W - 2.0 * MARGIN);
    let x_max = xs.iter().copied().fold(0.0_f64, f64::max).max(1e-9);
    let y_max = series
        .iter()
        .flat_map(|(_, _, ys)| ys.iter().copied())
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="{}" font-weight="bold">{}</text>"#,
        top - 10.0,
        escape(title)
    );
    let _ = writeln!(
        out,
        r#"<rect x="{left}" y="{top}" width="{width}" height="{PANEL_H}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        left + width / 2.0,
        top + PANEL_H + 35.0,
        escape(x_label)
    );
    for i in 0..=4 {
        let y_value = y_max * f64::from(i) / 4.0;
        let y = top + PANEL_H - PANEL_H * f64::from(i) / 4.0;
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">{y_value:.1}</text>"#,
            left - 5.0,
            y + 4.0
        );
        let _ = writeln!(
            out,
            r##"<line x1="{left}" y1="{y}" x2="{}" y2="{y}" stroke="#eeeeee"/>"##,
            left + width
        );
    }
    for (i, (name, color, ys)) in series.iter().enumerate() {
        let points: Vec<String> = xs
            .iter()
            .zip(ys)
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    left + width * x / x_max,
                    top + PANEL_H - PANEL_H * y / y_max
                )
            })
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
            points.join(" ")
        );
        let ly = top + 15.0 + 15.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{ly}" fill="{color}">{}</text>"#,
            left + 10.0,
            escape(name)
        );
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
