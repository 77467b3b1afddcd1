//! `loadgen`: drives a Socket.IO server speaking signalroom's (the tutorial's) events, and
//! prints one JSON line of results per run. Used by `scripts/bench.sh`; see
//! docs/benchmarks.md. Sends only to the address given, meant for loopback.
//!
//! - [`wire`]: Socket.IO over a bare WebSocket, Engine.IO v3 and v4.
//! - [`scenarios`]: fan-out, connections, churn.
//! - [`procfs`]: the server's CPU time and memory from `/proc`.
//! - [`stats`]: latency percentiles.
//! - [`report`]: medians, ratios and the chart from a run's JSON lines.

mod procfs;
mod report;
mod scenarios;
mod stats;
mod wire;

use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use scenarios::{Churn, Connections, Fanout, Target};
use wire::Eio;

#[derive(Parser)]
#[command(about = "Load generator for Socket.IO chat/signaling servers")]
struct Args {
    /// Server address (host:port). Given more than once (a cluster's instances), client `i`
    /// connects to the `i`-th modulo their number, so every room has members on each.
    #[arg(long, default_values_t = ["127.0.0.1:9980".to_owned()])]
    addr: Vec<String>,
    /// Engine.IO protocol: 4 (socket.io-client 3+) or 3 (socket.io-client 2.x).
    #[arg(long, value_enum, default_value = "4")]
    eio: Eio,
    /// The server's process id, for its CPU time and memory (required by every scenario). Given
    /// more than once (a cluster's instances and its Redis), their figures are summed.
    #[arg(long)]
    pid: Vec<u32>,
    /// A name for the server, copied into the result.
    #[arg(long, default_value = "server")]
    label: String,
    /// A tag for grouping results in `report`, copied into the result.
    #[arg(long, default_value = "")]
    tag: String,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// R rooms of M clients each send messages; everyone receives every message of its room.
    Fanout {
        #[arg(long, default_value_t = 10)]
        rooms: usize,
        #[arg(long, default_value_t = 10)]
        members: usize,
        /// Payload bytes per message.
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// Seconds of sending.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        /// Total messages per second; without it each client sends again as soon as its own
        /// copy returns (saturation).
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Opens N connections (each joins a room), holds them, and reports memory per connection.
    Connections {
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 10)]
        per_room: usize,
        /// Seconds to hold them open.
        #[arg(long, default_value_t = 2.0)]
        hold: f64,
    },
    /// Workers loop connect → join → message → leave → disconnect.
    Churn {
        #[arg(long, default_value_t = 20)]
        workers: usize,
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
    },
    /// Prints medians and ratios from a file of result lines and draws the sweep chart.
    Report {
        input: std::path::PathBuf,
        #[arg(long)]
        svg: Option<std::path::PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Scenario::Report { input, svg } = &args.scenario {
        return report::run(input, svg.as_deref());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    anyhow::ensure!(
        !args.pid.is_empty(),
        "--pid is required: the server's process id, whose CPU time and memory are reported"
    );
    let target = Target {
        addrs: args.addr.clone(),
        eio: args.eio,
        server: procfs::Watched::new(&args.pid)?,
    };
    let result: Value = runtime.block_on(async {
        anyhow::Ok(match args.scenario {
            Scenario::Fanout {
                rooms,
                members,
                size,
                duration,
                rate,
            } => serde_json::to_value(
                scenarios::fanout(
                    &target,
                    Fanout {
                        rooms,
                        members,
                        size,
                        duration: Duration::from_secs_f64(duration),
                        rate,
                    },
                )
                .await?,
            )?,
            Scenario::Connections {
                count,
                per_room,
                hold,
            } => serde_json::to_value(
                scenarios::connections(
                    &target,
                    Connections {
                        count,
                        per_room,
                        hold: Duration::from_secs_f64(hold),
                    },
                )
                .await?,
            )?,
            Scenario::Report { .. } => unreachable!("handled above"),
            Scenario::Churn { workers, duration } => serde_json::to_value(
                scenarios::churn(
                    &target,
                    Churn {
                        workers,
                        duration: Duration::from_secs_f64(duration),
                    },
                )
                .await?,
            )?,
        })
    })?;
    let mut line = json!({ "server": args.label, "tag": args.tag, "eio": args.eio,
                           "instances": args.addr.len() });
    if let (Some(line), Value::Object(fields)) = (line.as_object_mut(), result) {
        line.extend(fields);
    }
    println!("{line}");
    Ok(())
}
