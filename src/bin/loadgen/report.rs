//! `loadgen report`: reads the JSON lines of a benchmark run, prints the medians of each
//! figure for signalroom and Node with their ratio as a Markdown table, and draws the offered-
//! load sweep as an SVG chart. Lines are grouped by the `tag` each run was given.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context;
use serde_json::Value;

const OURS: &str = "signalroom";
const BASELINE: &str = "node";
/// signalroom on one worker thread, run at saturation only (see `scripts/bench.sh`).
const OURS_ONE_THREAD: &str = "signalroom --threads 1";
/// A signalroom cluster whose instances keep the default of a worker thread per core, though
/// they share the machine's cores; run at saturation only (see `scripts/bench.sh cluster`).
const OURS_WORKER_PER_CORE: &str = "signalroom, a worker per core";
/// signalroom with Prometheus metrics on, run at saturation only (see `scripts/bench.sh`).
const OURS_METERED: &str = "signalroom --metrics-addr";

/// One line of the table: the median of `field` over the runs tagged `tag`, for `ours` and for
/// Node, with the issue's target for their ratio.
struct Row {
    figure: String,
    ours: &'static str,
    tag: &'static str,
    field: &'static str,
    unit: &'static str,
    target: &'static str,
}

impl Row {
    /// A row for signalroom's default build.
    fn new(
        figure: String,
        tag: &'static str,
        field: &'static str,
        unit: &'static str,
        target: &'static str,
    ) -> Self {
        Self {
            figure,
            ours: OURS,
            tag,
            field,
            unit,
            target,
        }
    }
}

/// The offered message rate of the runs tagged `tag` (the fixed load), 0 if none.
fn fixed_rate(lines: &[Value], tag: &str) -> f64 {
    lines
        .iter()
        .find(|l| l["tag"] == tag)
        .and_then(|l| l["offered_rate"].as_f64())
        .unwrap_or(0.0)
}

pub fn run(input: &std::path::Path, svg: Option<&std::path::Path>) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("a line is not JSON")?;
    print!("{}", table(&lines));
    print!("{}", cluster_table(&lines));
    print!("{}", metrics_rounds(&lines));
    if let Some(path) = svg {
        std::fs::write(path, chart(&lines))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nchart: {}", path.display());
    }
    Ok(())
}

/// The median of `field` (a JSON pointer) over the runs of `server` tagged `tag`.
fn median(lines: &[Value], tag: &str, server: &str, field: &str) -> Option<f64> {
    median_with(lines, tag, server, |l| l.pointer(field)?.as_f64())
}

/// The median of what `value` reads from each run of `server` tagged `tag`.
fn median_with(
    lines: &[Value],
    tag: &str,
    server: &str,
    value: impl Fn(&Value) -> Option<f64>,
) -> Option<f64> {
    median_of(
        lines
            .iter()
            .filter(|l| l["tag"] == tag && l["server"] == server)
            .filter_map(value)
            .collect(),
    )
}

/// Below this much measured CPU time, `/proc`'s 10 ms ticks make a ratio rough.
const COARSE_CPU_S: f64 = 0.3;

/// The part of the server's CPU the kernel spent, and for connect+join the most the ratio could
/// reach if signalroom's own code cost nothing: Node's whole CPU per connection over
/// signalroom's kernel time per connection.
fn kernel_lines(lines: &[Value]) -> String {
    let mut out = String::new();
    let share = |tag, server| {
        median_with(lines, tag, server, |l| {
            Some(l["server_kernel_s"].as_f64()? / l["server_cpu_s"].as_f64()?)
        })
    };
    let per_connection = |server, field: &'static str| {
        median_with(lines, "connections", server, |l| {
            Some(l[field].as_f64()? / l["connections"].as_f64()?)
        })
    };
    let percent = |v: Option<f64>| v.map_or("–".into(), |v| format!("{:.0} %", 100.0 * v));
    for (tag, figure) in [
        ("saturation", "saturation"),
        ("connections", "connect+join"),
    ] {
        let (ours, base) = (share(tag, OURS), share(tag, BASELINE));
        if ours.is_some() || base.is_some() {
            let _ = writeln!(
                out,
                "kernel share of server CPU, {figure}: {OURS} {}, {BASELINE} {}",
                percent(ours),
                percent(base)
            );
        }
    }
    if let (Some(node), Some(kernel)) = (
        per_connection(BASELINE, "server_cpu_s"),
        per_connection(OURS, "server_kernel_s"),
    ) {
        if kernel > 0.0 {
            let _ = writeln!(
                out,
                "connect+join: {BASELINE}'s CPU per connection is {:.2}× {OURS}'s kernel time per \
                 connection alone, the ceiling of the ratio if {OURS}'s own code cost nothing",
                node / kernel
            );
            let measured = median(lines, "connections", OURS, "/server_kernel_s").unwrap_or(0.0);
            if measured < COARSE_CPU_S {
                let _ = writeln!(
                    out,
                    "  (from {measured:.2} s of kernel time, which /proc counts in 10 ms ticks: \
                     this run's connect figures, the table's row too, are rough; read a full run's)"
                );
            }
        }
    }
    out
}

fn median_of(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

fn count(lines: &[Value], tag: &str, server: &str) -> usize {
    lines
        .iter()
        .filter(|l| l["tag"] == tag && l["server"] == server)
        .count()
}

/// The table of `rows`: each figure's medians for signalroom and Node, their ratio and target,
/// under a line saying how many rounds of `rounds_tag` the medians are of.
fn render(lines: &[Value], rounds_tag: &str, rows: impl IntoIterator<Item = Row>) -> String {
    let mut out = String::new();
    let rounds = count(lines, rounds_tag, OURS).min(count(lines, rounds_tag, BASELINE));
    let _ = writeln!(out, "medians of {rounds} rounds\n");
    let _ = writeln!(
        out,
        "| figure | {OURS} | {BASELINE} | {OURS} / {BASELINE} | target |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|");
    for Row {
        figure,
        ours,
        tag,
        field,
        unit,
        target,
    } in rows
    {
        let ours = median(lines, tag, ours, field);
        let base = median(lines, tag, BASELINE, field);
        let ratio = match (ours, base) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "–".into(),
        };
        let show = |v: Option<f64>| v.map_or("–".into(), |v| format!("{}{unit}", human(v)));
        let _ = writeln!(
            out,
            "| {figure} | {} | {} | {ratio} | {target} |",
            show(ours),
            show(base)
        );
    }
    out
}

/// The cluster runs (`scripts/bench.sh cluster`): two instances of each on one Redis (signalroom's
/// on a worker thread each, their share of the two cores), every room with members on both; CPU
/// and memory are the instances' and Redis's together.
fn cluster_table(lines: &[Value]) -> String {
    if count(lines, "cluster-saturation", OURS) == 0 {
        return String::new();
    }
    let fixed_rate = fixed_rate(lines, "cluster-fixed");
    let row = Row::new;
    let rows = [
        row(
            "deliveries per CPU-second (instances and Redis), saturation".into(),
            "cluster-saturation",
            "/deliveries_per_cpu_s",
            "",
            "≥ 5",
        ),
        Row {
            ours: OURS_WORKER_PER_CORE,
            ..row(
                format!("the same, `{OURS_WORKER_PER_CORE}`"),
                "cluster-saturation",
                "/deliveries_per_cpu_s",
                "",
                "",
            )
        },
        row(
            "deliveries per second, saturation".into(),
            "cluster-saturation",
            "/deliveries_per_s",
            "",
            "",
        ),
        row(
            format!("p50 latency at {fixed_rate:.0} msg/s"),
            "cluster-fixed",
            "/latency/p50_ms",
            " ms",
            "",
        ),
        row(
            format!("p99 latency at {fixed_rate:.0} msg/s"),
            "cluster-fixed",
            "/latency/p99_ms",
            " ms",
            "≤ 0.33",
        ),
        row(
            format!("CPU at {fixed_rate:.0} msg/s (instances and Redis)"),
            "cluster-fixed",
            "/cpu_percent",
            " %",
            "",
        ),
        row(
            "RSS per idle connection (instances and Redis)".into(),
            "cluster-connections",
            "/rss_per_connection_kib",
            " KiB",
            "",
        ),
    ];
    let mut out =
        String::from("\n## cluster: two instances on one Redis, every message crossing\n\n");
    out.push_str(&render(lines, "cluster-saturation", rows));
    let _ = writeln!(out);
    let _ = write!(out, "{}", crossing_cost(lines, fixed_rate));
    let _ = write!(
        out,
        "{}",
        faults(lines, &["cluster-fixed", "cluster-single"])
    );
    out
}

/// The p99 that crossing instances adds at the fixed load. Each round runs the cluster and then
/// one instance alone back to back, so the rounds are compared pairwise: a slow moment of the
/// machine touches both runs of a round, where the difference of two medians mixes rounds.
fn crossing_cost(lines: &[Value], fixed_rate: f64) -> String {
    let p99s = |tag: &str| -> Vec<f64> {
        lines
            .iter()
            .filter(|l| l["tag"] == tag && l["server"] == OURS)
            .filter_map(|l| l.pointer("/latency/p99_ms")?.as_f64())
            .collect()
    };
    let (cluster, single) = (p99s("cluster-fixed"), p99s("cluster-single"));
    let mut added: Vec<f64> = cluster.iter().zip(&single).map(|(c, s)| c - s).collect();
    if added.is_empty() {
        return String::new();
    }
    added.sort_by(f64::total_cmp);
    format!(
        "p99 added by crossing instances at {fixed_rate:.0} msg/s: {:+.2} ms (median of {} rounds, \
         each the cluster's p99 less one instance's alone right after; all {:+.2} to {:+.2} ms; \
         medians {:.2} ms on two instances, {:.2} ms alone; target ≤ 1 ms)\n",
        median_of(added.clone()).unwrap_or_default(),
        added.len(),
        added[0],
        added[added.len() - 1],
        median_of(cluster).unwrap_or_default(),
        median_of(single).unwrap_or_default(),
    )
}

/// Per server: how many fixed-rate runs with `tags` there were, and how many messages were lost
/// or out of order in those below saturation.
fn faults(lines: &[Value], tags: &[&str]) -> String {
    let mut faults = BTreeMap::new();
    for l in lines.iter().filter(|l| tags.iter().any(|t| l["tag"] == *t)) {
        let below = l["offered_rate"].as_f64().unwrap_or(0.0)
            * l["members"].as_f64().unwrap_or(1.0)
            < 0.9 * l["deliveries_per_s"].as_f64().unwrap_or(0.0) + 1.0;
        let entry = faults
            .entry(l["server"].as_str().unwrap_or("?").to_owned())
            .or_insert((0, 0, 0));
        entry.0 += 1;
        if below {
            entry.1 += l["lost"].as_u64().unwrap_or(0);
            entry.2 += l["out_of_order"].as_u64().unwrap_or(0);
        }
    }
    let mut out = String::new();
    for (server, (runs, lost, disorder)) in faults {
        let _ = writeln!(out, "{server}: {runs} fixed-rate runs, {lost} lost and {disorder} out of order below saturation");
    }
    out
}

fn table(lines: &[Value]) -> String {
    let fixed_rate = fixed_rate(lines, "fixed");
    let row = Row::new;
    let rows = [
        row(
            "deliveries per server CPU-second, saturation".into(),
            "saturation",
            "/deliveries_per_cpu_s",
            "",
            "≥ 5",
        ),
        Row {
            ours: OURS_ONE_THREAD,
            ..row(
                format!("the same, `{OURS_ONE_THREAD}`"),
                "saturation",
                "/deliveries_per_cpu_s",
                "",
                "",
            )
        },
        row(
            "deliveries per second, saturation".into(),
            "saturation",
            "/deliveries_per_s",
            "",
            "",
        ),
        row(
            format!("p99 latency at {fixed_rate:.0} msg/s"),
            "fixed",
            "/latency/p99_ms",
            " ms",
            "≤ 0.33",
        ),
        row(
            format!("server CPU at {fixed_rate:.0} msg/s"),
            "fixed",
            "/cpu_percent",
            " %",
            "",
        ),
        row(
            "RSS per idle connection (fresh process)".into(),
            "connections",
            "/rss_per_connection_kib",
            " KiB",
            "< 1",
        ),
        row(
            "connect+join per server CPU-second".into(),
            "connections",
            "/connects_per_cpu_s",
            "",
            "≥ 5",
        ),
        row(
            "churn cycles per server CPU-second".into(),
            "churn",
            "/cycles_per_cpu_s",
            "",
            "",
        ),
    ];
    if count(lines, "saturation", OURS) == 0 {
        return String::new(); // A cluster run only.
    }
    let mut out = render(lines, "saturation", rows);
    let kernel = kernel_lines(lines);
    if !kernel.is_empty() {
        let _ = write!(out, "\n{kernel}");
    }
    let _ = write!(out, "{}", metrics_cost(lines));
    // Correctness below saturation, and the large hold.
    let _ = writeln!(out);
    let _ = write!(out, "{}", faults(lines, &["fixed", "sweep"]));
    for l in lines.iter().filter(|l| l["tag"] == "hydration") {
        let _ = writeln!(
            out,
            "page hydrated and interactive after navigation ({} runs): p50 {} ms, p90 {} ms, max {} ms",
            l["runs"], l["p50_ms"], l["p90_ms"], l["max_ms"]
        );
    }
    for l in lines.iter().filter(|l| l["tag"] == "bundle") {
        let bytes = l["brotli_bytes"].as_f64().unwrap_or(0.0);
        let _ = writeln!(
            out,
            "page bundle (WASM + JS + CSS), brotli: {} bytes ({:.1} KiB)",
            human(bytes),
            bytes / 1024.0
        );
    }
    for l in lines.iter().filter(|l| l["tag"] == "hold") {
        let _ = writeln!(
            out,
            "{}: held {} connections for {} s, {} failed to connect, {} dropped, RSS {} KiB ({:.1} KiB each)",
            l["server"].as_str().unwrap_or("?"),
            l["connections"],
            l["held_s"],
            l["failures"],
            l["dropped_while_held"],
            l["rss_held_kib"],
            l["rss_per_connection_kib"].as_f64().unwrap_or(0.0),
        );
    }
    out
}

/// What keeping metrics costs: deliveries per CPU-second at saturation with and without them.
fn metrics_cost(lines: &[Value]) -> String {
    let field = "/deliveries_per_cpu_s";
    match (
        median(lines, "saturation", OURS_METERED, field),
        median(lines, "saturation", OURS, field),
    ) {
        (Some(metered), Some(plain)) if plain > 0.0 => format!(
            "\nmetrics on (`{OURS_METERED}`, scraped): {} deliveries per CPU-second at saturation, \
             {:+.1} % against {} without (target: no drop beyond 3 %)\n",
            human(metered),
            (metered / plain - 1.0) * 100.0,
            human(plain),
        ),
        _ => String::new(),
    }
}

/// `scripts/bench.sh metrics`: what keeping metrics costs, round by round (each round's two runs
/// back to back, so a slow moment of the machine touches both), and in instructions under
/// callgrind, which no other load on the machine changes.
fn metrics_rounds(lines: &[Value]) -> String {
    let runs = |server: &str| -> Vec<f64> {
        lines
            .iter()
            .filter(|l| l["tag"] == "metrics" && l["server"] == server)
            .filter_map(|l| l["deliveries_per_cpu_s"].as_f64())
            .collect()
    };
    let (plain, metered) = (runs(OURS), runs(OURS_METERED));
    let mut out = String::new();
    let mut changes: Vec<f64> = plain
        .iter()
        .zip(&metered)
        .filter(|(p, _)| **p > 0.0)
        .map(|(p, m)| (m / p - 1.0) * 100.0)
        .collect();
    if !changes.is_empty() {
        changes.sort_by(f64::total_cmp);
        let quarter = changes.len() / 4;
        let _ = writeln!(
            out,
            "\nmetrics on (`{OURS_METERED}`, scraped every second), one worker thread at saturation, \
             {} rounds: deliveries per CPU-second change by {:+.1} % (median of the rounds; \
             middle half {:+.1} % to {:+.1} %, all {:+.1} % to {:+.1} %); target: no drop beyond 3 %",
            changes.len(),
            median_of(changes.clone()).unwrap_or_default(),
            changes[quarter],
            changes[changes.len() - 1 - quarter],
            changes[0],
            changes[changes.len() - 1],
        );
    }
    let per_delivery = |server: &str| {
        lines
            .iter()
            .find(|l| l["tag"] == "callgrind" && l["server"] == server)
            .and_then(|l| Some(l["instructions"].as_f64()? / l["deliveries"].as_f64()?))
            .filter(|v| v.is_finite())
    };
    if let (Some(plain), Some(metered)) = (per_delivery(OURS), per_delivery(OURS_METERED)) {
        let _ = writeln!(
            out,
            "under callgrind (the same load, one thread): {} instructions per delivery without \
             metrics, {} with ({:+.1} %), counted in user space; metrics make no system calls \
             but the scrapes'",
            human(plain),
            human(metered),
            (metered / plain - 1.0) * 100.0
        );
    }
    out
}

fn human(v: f64) -> String {
    if v >= 10_000.0 {
        let s = format!("{:.0}", v);
        // Thousands separators.
        let bytes: Vec<char> = s.chars().collect();
        let mut out = String::new();
        for (i, c) in bytes.iter().enumerate() {
            if i > 0 && (bytes.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(*c);
        }
        out
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Throughput and p99 against offered load, one line per server, from the `sweep` runs.
fn chart(lines: &[Value]) -> String {
    let series = |server: &str, field: &str| -> Vec<(f64, f64)> {
        let mut by_rate: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for l in lines
            .iter()
            .filter(|l| l["tag"] == "sweep" && l["server"] == server)
        {
            let (Some(rate), Some(v)) = (
                l["offered_rate"].as_f64(),
                l.pointer(field).and_then(Value::as_f64),
            ) else {
                continue;
            };
            let offered = rate * l["members"].as_f64().unwrap_or(1.0);
            by_rate.entry(offered as u64).or_default().push(v);
        }
        by_rate
            .into_iter()
            .filter_map(|(x, ys)| Some((x as f64, median_of(ys)?)))
            .collect()
    };
    let panels = [
        ("delivered per second", "/deliveries_per_s", false),
        ("p99 latency (ms, log scale)", "/latency/p99_ms", true),
    ];
    let (w, h, pad) = (420.0, 300.0, 50.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">"#,
        2.0 * w + 20.0,
        h + 40.0
    );
    let _ = write!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, (title, field, log)) in panels.iter().enumerate() {
        let ox = i as f64 * (w + 20.0);
        let data = [
            (OURS, "#2563eb", series(OURS, field)),
            (BASELINE, "#dc2626", series(BASELINE, field)),
        ];
        let xs = data.iter().flat_map(|(_, _, s)| s.iter().map(|p| p.0));
        let ys = data.iter().flat_map(|(_, _, s)| s.iter().map(|p| p.1));
        let x_max = xs.fold(1.0, f64::max);
        let y_max = ys.clone().fold(1e-3, f64::max);
        let y_min = ys.fold(f64::MAX, f64::min).min(y_max);
        let scale_y = |v: f64| -> f64 {
            let f = if *log {
                let (lo, hi) = ((y_min.max(0.01) / 2.0).log10(), (y_max * 2.0).log10());
                (v.max(0.01).log10() - lo) / (hi - lo)
            } else {
                v / (y_max * 1.1)
            };
            h - pad - f * (h - 2.0 * pad)
        };
        let scale_x = |v: f64| ox + pad + v / (x_max * 1.05) * (w - 2.0 * pad);
        let _ = write!(
            svg,
            r#"<text x="{}" y="20" font-size="13" font-weight="bold">{title}</text>"#,
            ox + pad
        );
        let _ = write!(
            svg,
            r#"<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="black"/><line x1="{0}" y1="{3}" x2="{0}" y2="{1}" stroke="black"/>"#,
            ox + pad,
            h - pad,
            ox + w - pad,
            pad
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">offered deliveries per second</text>"#,
            ox + w / 2.0,
            h - 10.0
        );
        for k in 0..=4 {
            let xv = x_max * 1.05 * f64::from(k) / 4.0;
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
                scale_x(xv),
                h - pad + 15.0,
                human(xv)
            );
        }
        let ticks: Vec<f64> = if *log {
            [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]
                .into_iter()
                .filter(|t| *t >= y_min.max(0.01) / 2.0 && *t <= y_max * 2.0)
                .collect()
        } else {
            (0..=4).map(|k| y_max * 1.1 * f64::from(k) / 4.0).collect()
        };
        for t in ticks {
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                ox + pad - 4.0,
                scale_y(t) + 4.0,
                human(t)
            );
        }
        for (j, (name, color, points)) in data.iter().enumerate() {
            let path: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{:.1},{:.1}", scale_x(*x), scale_y(*y)))
                .collect();
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
            for (x, y) in points {
                let _ = write!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#,
                    scale_x(*x),
                    scale_y(*y)
                );
            }
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" fill="{color}">{name}</text>"#,
                ox + pad + 10.0,
                pad + 14.0 * j as f64
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn connections(server: &str, count: f64, cpu: f64, kernel: f64) -> Value {
        json!({"tag": "connections", "server": server, "connections": count,
               "server_cpu_s": cpu, "server_kernel_s": kernel})
    }

    #[test]
    fn connect_ceiling_is_node_cpu_over_our_kernel_time() {
        let lines = [
            connections(OURS, 100.0, 0.05, 0.025),
            connections(OURS, 100.0, 0.06, 0.04),
            connections(OURS, 100.0, 0.07, 0.03),
            connections(BASELINE, 100.0, 0.15, 0.03),
        ];
        let out = kernel_lines(&lines);
        // Medians: our kernel share 50 % (0.5, 0.67, 0.43), kernel 0.3 ms per connection;
        // Node 1.5 ms of CPU per connection, 20 % of it kernel. 0.03 s measured: a rough figure.
        assert!(
            out.contains("connect+join: signalroom 50 %, node 20 %"),
            "{out}"
        );
        assert!(out.contains("is 5.00× signalroom's kernel time"), "{out}");
        assert!(
            !out.contains("saturation"),
            "no saturation runs, no line: {out}"
        );
        assert!(
            out.contains("connect figures, the table's row too, are rough"),
            "{out}"
        );
    }

    #[test]
    fn crossing_cost_pairs_each_cluster_run_with_the_single_run_after_it() {
        let run =
            |tag: &str, p99: f64| json!({"tag": tag, "server": OURS, "latency": {"p99_ms": p99}});
        // A slow second round raises both of its runs, a slow moment the third's cluster run
        // alone: the pairs add 0.5, 0.5 and 19.5 ms, where the difference of the medians
        // (20.5 - 2.0) would say 18.5 ms.
        let lines = [
            run("cluster-fixed", 2.5),
            run("cluster-single", 2.0),
            run("cluster-fixed", 20.5),
            run("cluster-single", 20.0),
            run("cluster-fixed", 21.0),
            run("cluster-single", 1.5),
            json!({"tag": "cluster-fixed", "server": BASELINE, "latency": {"p99_ms": 400.0}}),
        ];
        let out = crossing_cost(&lines, 1000.0);
        assert!(
            out.contains("1000 msg/s: +0.50 ms (median of 3 rounds"),
            "{out}"
        );
        assert!(out.contains("all +0.50 to +19.50 ms"), "{out}");
        assert!(
            out.contains("medians 20.50 ms on two instances, 2.00 ms alone"),
            "{out}"
        );
        assert_eq!(crossing_cost(&lines[..0], 1000.0), "");
    }

    #[test]
    fn a_full_run_ceiling_carries_no_caveat() {
        let lines = [
            connections(OURS, 1000.0, 0.6, 0.4),
            connections(BASELINE, 1000.0, 1.5, 0.3),
        ];
        let out = kernel_lines(&lines);
        assert!(out.contains("is 3.75× signalroom's kernel time"), "{out}");
        assert!(!out.contains("rough"), "{out}");
    }

    #[test]
    fn metrics_rounds_are_compared_pairwise_and_in_instructions() {
        let run = |server: &str, per_cpu_s: f64| json!({"tag": "metrics", "server": server, "deliveries_per_cpu_s": per_cpu_s});
        // Rounds whose machine speed varies by far more than the cost: 100 → 99, 200 → 196,
        // 50 → 50.5, 80 → 79.2.
        let mut lines = vec![
            run(OURS, 100.0),
            run(OURS_METERED, 99.0),
            run(OURS_METERED, 196.0),
            run(OURS, 200.0),
            run(OURS, 50.0),
            run(OURS_METERED, 50.5),
            run(OURS, 80.0),
            run(OURS_METERED, 79.2),
        ];
        let out = metrics_rounds(&lines);
        assert!(
            out.contains("4 rounds: deliveries per CPU-second change by -1.0 %"),
            "{out}"
        );
        assert!(out.contains("all -2.0 % to +1.0 %"), "{out}");
        assert!(!out.contains("callgrind"), "{out}");
        lines.push(json!({"tag": "callgrind", "server": OURS, "instructions": 6_000_000, "deliveries": 1000}));
        lines.push(json!({"tag": "callgrind", "server": OURS_METERED, "instructions": 6_060_000, "deliveries": 1000}));
        let out = metrics_rounds(&lines);
        assert!(
            out.contains("6000 instructions per delivery without metrics, 6060 with (+1.0 %)"),
            "{out}"
        );
        assert_eq!(metrics_rounds(&[]), "");
    }

    #[test]
    fn results_without_the_kernel_split_print_no_kernel_lines() {
        let lines = [json!({"tag": "connections", "server": OURS, "server_cpu_s": 1.0})];
        let out = kernel_lines(&lines);
        assert_eq!(out, "");
    }
}
