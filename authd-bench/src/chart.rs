//! The latency chart: one percentile curve per scenario and request kind,
//! written as SVG by hand (a plotting crate would outweigh the tool).
//!
//! The x axis spreads the tail: position `-log10(1 - p)` puts 0%, 90%, 99%,
//! 99.9% and 99.99% at equal steps, the maximum last. The y axis is
//! logarithmic milliseconds, so sub-millisecond verifications and
//! 100-millisecond logins fit on one chart.

use std::fmt::Write;

use crate::report::Report;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 540.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 300.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
/// Where the maximum is drawn, past 99.99% (x = 4).
const X_MAX: f64 = 4.4;
const COLORS: [&str; 12] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22", "#000000", "#aec7e8",
];

/// One curve: its legend, its colour (one per label, scenario and request
/// kind), whether it is an open-loop run (dashed), and `[percentile, ms]`
/// points.
struct Series {
    name: String,
    color: usize,
    open_loop: bool,
    points: Vec<[f64; 2]>,
}

fn series(reports: &[&Report]) -> Vec<Series> {
    let mut out = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for report in reports {
        // The login-flood scenario's refresh runs, alone and under the flood,
        // follow the other scenarios under names of their own.
        let runs = report
            .scenarios
            .iter()
            .map(|run| (run.scenario.name(), run));
        let flood = report.login_flood.iter().flat_map(|f| {
            [
                ("refresh alone", &f.refresh_alone),
                ("refresh under login flood", &f.refresh_under_flood),
            ]
        });
        let forgot = report.forgot_flood.iter().flat_map(|f| {
            [
                ("refresh before forgot flood", &f.refresh_alone),
                ("refresh under forgot flood", &f.refresh_under_flood),
            ]
        });
        for (scenario, run) in runs.chain(flood).chain(forgot) {
            for (op, stats) in &run.operations {
                if stats.curve.is_empty() {
                    continue;
                }
                let mut name = String::new();
                if let Some(label) = &report.label {
                    let _ = write!(name, "{label} ");
                }
                let _ = write!(name, "{scenario}");
                if run.operations.len() > 1 {
                    let _ = write!(name, "/{op}");
                }
                match run.target_rate {
                    Some(rate) => {
                        let _ = write!(name, " @ {rate:.0}/s");
                    }
                    None => {
                        let _ = write!(name, " ({:.0}/s)", stats.throughput);
                    }
                }
                let key = format!("{:?} {scenario} {op}", report.label);
                let color = keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                    keys.push(key);
                    keys.len() - 1
                });
                out.push(Series {
                    name,
                    color,
                    open_loop: run.target_rate.is_some(),
                    points: stats.curve.clone(),
                });
            }
        }
    }
    out
}

fn x_of(percentile: f64) -> f64 {
    if percentile >= 100.0 {
        X_MAX
    } else {
        (-(1.0 - percentile / 100.0).log10()).clamp(0.0, 4.0)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG document for the scenarios of `reports`.
pub fn svg(reports: &[&Report], title: &str) -> String {
    let all = series(reports);
    let values = all
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p[1].max(0.001)));
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo_exp, hi_exp) = if lo > hi {
        (-1, 3)
    } else {
        (
            lo.log10().floor() as i32,
            (hi.log10().ceil() as i32).max(lo.log10().floor() as i32 + 1),
        )
    };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let px = |x: f64| LEFT + x / X_MAX * plot_w;
    let py = |ms: f64| {
        let v = ms.max(0.001).log10();
        TOP + plot_h - (v - f64::from(lo_exp)) / f64::from(hi_exp - lo_exp) * plot_h
    };

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="28" font-size="16" font-weight="bold">{}</text>"#,
        LEFT,
        escape(title)
    );
    // Horizontal grid: every decade, labelled; 2 and 5 lighter.
    for e in lo_exp..=hi_exp {
        let ms = 10f64.powi(e);
        let y = py(ms);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#bbb"/>"##,
            LEFT + plot_w
        );
        let label = if ms >= 1.0 {
            format!("{ms:.0} ms")
        } else {
            format!("{ms} ms")
        };
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"#,
            LEFT - 6.0,
            y + 4.0
        );
        if e < hi_exp {
            for m in [2.0, 5.0] {
                let y = py(ms * m);
                let _ = writeln!(
                    svg,
                    r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/>"##,
                    LEFT + plot_w
                );
            }
        }
    }
    // Vertical grid at the percentiles people quote.
    for (x, label) in [
        (0.0, "0%"),
        (x_of(50.0), "50%"),
        (1.0, "90%"),
        (2.0, "99%"),
        (3.0, "99.9%"),
        (4.0, "99.99%"),
        (X_MAX, "max"),
    ] {
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{TOP}" y2="{1:.1}" stroke="#ddd"/>"##,
            px(x),
            TOP + plot_h
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            px(x),
            TOP + plot_h + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile of requests answered within the latency</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 14.0
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#333"/>"##
    );
    for (i, s) in all.iter().enumerate() {
        let color = COLORS[s.color % COLORS.len()];
        let dash = if s.open_loop {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let points: Vec<String> = s
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", px(x_of(p[0])), py(p[1])))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"/>"#,
            points.join(" ")
        );
        let y = TOP + 10.0 + i as f64 * 18.0;
        let x = LEFT + plot_w + 16.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{color}" stroke-width="3"{dash}/>"#,
            x + 20.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 26.0,
            y + 4.0,
            escape(&s.name)
        );
    }
    if all.is_empty() {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">no requests were answered</text>"#,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
