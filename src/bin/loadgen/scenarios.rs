//! The three scenarios. Each returns one serializable result, printed as one JSON line.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{Barrier, Semaphore};
use tokio::time::{interval, interval_at, sleep_until, Instant, MissedTickBehavior};

use crate::procfs::{Cpu, Watched};
use crate::stats::Latency;
use crate::wire::{self, Conn, Eio, Incoming};

/// Connections opened at once while setting up.
const CONNECT_CONCURRENCY: usize = 200;
/// How long receivers keep reading after senders stop, for messages still in flight.
const DRAIN: Duration = Duration::from_secs(2);
/// Engine.IO v3 clients ping this often (the server's interval is 25 s).
const V3_PING: Duration = Duration::from_secs(20);

pub struct Target {
    /// One address per instance; client `i` uses `addrs[i % len]`.
    pub addrs: Vec<String>,
    pub eio: Eio,
    pub server: Watched,
}

impl Target {
    fn addr_for(&self, client: usize) -> String {
        self.addrs[client % self.addrs.len()].clone()
    }

    /// The server's CPU time since `before`, a reading of [`Watched::cpu`].
    fn cpu_since(&self, before: Cpu) -> anyhow::Result<ServerCpu> {
        let used = self.server.cpu()? - before;
        Ok(ServerCpu {
            server_cpu_s: used.total_s(),
            server_kernel_s: used.kernel_s,
        })
    }
}

/// The server's CPU time over a run, as every result reports it.
#[derive(Serialize, Clone, Copy)]
struct ServerCpu {
    server_cpu_s: f64,
    /// The kernel's part of `server_cpu_s`.
    server_kernel_s: f64,
}

impl ServerCpu {
    /// `count` per server CPU-second.
    fn per_cpu_second(self, count: f64) -> f64 {
        count / self.server_cpu_s.max(1e-9)
    }
}

/// Opens `count` connections, joining connection `i` to `room(i)`.
async fn open_all(
    target: &Target,
    count: usize,
    room: impl Fn(usize) -> String,
) -> (Vec<Option<Conn>>, usize) {
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (gate, addr, eio, room) = (gate.clone(), target.addr_for(i), target.eio, room(i));
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.ok()?;
                let mut conn = wire::connect(&addr, eio).await.ok()?;
                conn.tx.emit("join", &[json!(room)]).await.ok()?;
                tokio::time::timeout(Duration::from_secs(10), wire::until(&mut conn, "joined"))
                    .await
                    .ok()?
                    .ok()?;
                Some(conn)
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(count);
    for task in tasks {
        conns.push(task.await.ok().flatten());
    }
    let failures = conns.iter().filter(|c| c.is_none()).count();
    (conns, failures)
}

// ---------------------------------------------------------------------------------------------
// fan-out

pub struct Fanout {
    pub rooms: usize,
    pub members: usize,
    pub size: usize,
    pub duration: Duration,
    /// Total messages per second across all senders; `None`: each client sends again as soon
    /// as its own copy returns (saturation).
    pub rate: Option<f64>,
}

#[derive(Serialize)]
pub struct FanoutResult {
    scenario: &'static str,
    rooms: usize,
    members: usize,
    size: usize,
    offered_rate: Option<f64>,
    duration_s: f64,
    connect_failures: usize,
    sent: u64,
    deliveries: u64,
    lost: u64,
    out_of_order: u64,
    /// `refused` answers (e.g. the server's event-rate limit).
    refused: u64,
    deliveries_per_s: f64,
    latency: Latency,
    #[serde(flatten)]
    cpu: ServerCpu,
    /// Server CPU over the run, in percent of one core.
    cpu_percent: f64,
    deliveries_per_cpu_s: f64,
}

/// The message payload; `p` pads it to the requested size.
#[derive(Deserialize)]
struct Data {
    c: usize,
    s: u64,
    t: u64,
}

#[derive(Default)]
struct ClientStats {
    sent: u64,
    deliveries: u64,
    out_of_order: u64,
    refused: u64,
    latencies: Vec<u32>,
}

pub async fn fanout(target: &Target, plan: Fanout) -> anyhow::Result<FanoutResult> {
    let clients = plan.rooms * plan.members;
    let members = plan.members;
    let (conns, connect_failures) =
        open_all(target, clients, |i| format!("bench-{}", i / members)).await;
    let epoch = Instant::now();
    let barrier = Arc::new(Barrier::new(clients + 1));
    let per_client_interval = plan
        .rate
        .map(|rate| Duration::from_secs_f64(clients as f64 / rate.max(0.001)));
    let pad = "x".repeat(plan.size.saturating_sub(48));
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(me, conn)| {
            let (barrier, pad) = (barrier.clone(), pad.clone());
            let room = format!("bench-{}", me / members);
            let duration = plan.duration;
            tokio::spawn(async move {
                barrier.wait().await;
                let Some(conn) = conn else {
                    return ClientStats::default();
                };
                run_sender(
                    conn,
                    me,
                    clients,
                    room,
                    pad,
                    epoch,
                    duration,
                    per_client_interval,
                )
                .await
            })
        })
        .collect();
    barrier.wait().await;
    let cpu_before = target.server.cpu()?;
    let mut total = ClientStats::default();
    for task in tasks {
        let stats = task.await.context("client task")?;
        total.sent += stats.sent;
        total.deliveries += stats.deliveries;
        total.out_of_order += stats.out_of_order;
        total.refused += stats.refused;
        total.latencies.extend(stats.latencies);
    }
    let cpu = target.cpu_since(cpu_before)?;
    let expected = (total.sent - total.refused) * plan.members as u64;
    let duration_s = plan.duration.as_secs_f64();
    Ok(FanoutResult {
        scenario: "fanout",
        rooms: plan.rooms,
        members: plan.members,
        size: plan.size,
        offered_rate: plan.rate,
        duration_s,
        connect_failures,
        sent: total.sent,
        deliveries: total.deliveries,
        lost: expected.saturating_sub(total.deliveries),
        out_of_order: total.out_of_order,
        refused: total.refused,
        deliveries_per_s: total.deliveries as f64 / duration_s,
        latency: Latency::of(total.latencies),
        cpu,
        cpu_percent: 100.0 * cpu.server_cpu_s / (duration_s + DRAIN.as_secs_f64()),
        deliveries_per_cpu_s: cpu.per_cpu_second(total.deliveries as f64),
    })
}

#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename these.
async fn run_sender(
    mut conn: Conn,
    me: usize,
    clients: usize,
    room: String,
    pad: String,
    epoch: Instant,
    duration: Duration,
    every: Option<Duration>,
) -> ClientStats {
    let mut stats = ClientStats::default();
    let mut last_seen = vec![None::<u64>; clients];
    let start = Instant::now();
    let (stop_sending, stop_reading) = (start + duration, start + duration + DRAIN);
    // At a fixed load, each client's first send is offset by its share of the interval, so the
    // total rate is spread evenly rather than sent as one burst from every client at once.
    let every_or_never = every.unwrap_or(Duration::from_secs(3600));
    let phase = every_or_never.mul_f64(me as f64 / clients.max(1) as f64);
    let mut ticker = interval_at(start + phase, every_or_never);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut v3_ping = interval(V3_PING);
    let v3 = conn.rx.eio() == Eio::V3;
    let mut seq = 0u64;
    let message = |seq: u64| {
        let t = epoch.elapsed().as_micros() as u64;
        format!(r#"["message","{room}",{{"c":{me},"s":{seq},"t":{t},"p":"{pad}"}}]"#)
    };
    if every.is_none() && conn.tx.emit_raw(&message(seq)).await.is_ok() {
        stats.sent += 1;
        seq += 1;
    }
    loop {
        tokio::select! {
            incoming = conn.rx.next() => match incoming {
                Ok(Incoming::Event(array)) => {
                    let Ok((_, _, _, data)) =
                        serde_json::from_str::<(IgnoredAny, IgnoredAny, IgnoredAny, Data)>(&array)
                    else {
                        if array.starts_with(r#"["refused""#) {
                            stats.refused += 1;
                            // Closed loop: the refused message will not come back; go on.
                            if every.is_none() && Instant::now() < stop_sending {
                                if conn.tx.emit_raw(&message(seq)).await.is_err() {
                                    break;
                                }
                                stats.sent += 1;
                                seq += 1;
                            }
                        }
                        continue;
                    };
                    stats.deliveries += 1;
                    let now = epoch.elapsed().as_micros() as u64;
                    stats.latencies.push(now.saturating_sub(data.t).min(u64::from(u32::MAX)) as u32);
                    if let Some(slot) = last_seen.get_mut(data.c) {
                        if slot.is_some_and(|last| data.s <= last) {
                            stats.out_of_order += 1;
                        }
                        *slot = Some(data.s);
                    }
                    // Closed loop: our own copy is back, send the next one.
                    if every.is_none() && data.c == me && Instant::now() < stop_sending {
                        if conn.tx.emit_raw(&message(seq)).await.is_err() {
                            break;
                        }
                        stats.sent += 1;
                        seq += 1;
                    }
                }
                Ok(Incoming::Ping) => {
                    let _ = conn.tx.pong().await;
                }
                Ok(Incoming::Other) => {}
                Err(_) => break,
            },
            _ = ticker.tick(), if every.is_some() && Instant::now() < stop_sending => {
                if conn.tx.emit_raw(&message(seq)).await.is_err() {
                    break;
                }
                stats.sent += 1;
                seq += 1;
            }
            _ = v3_ping.tick(), if v3 => {
                let _ = conn.tx.ping().await;
            }
            () = sleep_until(stop_reading) => break,
        }
    }
    conn.tx.close().await;
    stats
}

// ---------------------------------------------------------------------------------------------
// connections

pub struct Connections {
    pub count: usize,
    pub per_room: usize,
    pub hold: Duration,
}

#[derive(Serialize)]
pub struct ConnectionsResult {
    scenario: &'static str,
    connections: usize,
    failures: usize,
    connect_s: f64,
    connects_per_s: f64,
    #[serde(flatten)]
    cpu: ServerCpu,
    connects_per_cpu_s: f64,
    rss_before_kib: u64,
    rss_held_kib: u64,
    rss_per_connection_kib: f64,
    held_s: f64,
    dropped_while_held: usize,
}

pub async fn connections(target: &Target, plan: Connections) -> anyhow::Result<ConnectionsResult> {
    let rss_before = target.server.rss_kib()?;
    let cpu_before = target.server.cpu()?;
    let started = Instant::now();
    let per_room = plan.per_room.max(1);
    let (conns, failures) =
        open_all(target, plan.count, |i| format!("hold-{}", i / per_room)).await;
    let connect_s = started.elapsed().as_secs_f64();
    let cpu = target.cpu_since(cpu_before)?;
    let opened = plan.count - failures;

    // Hold: every connection keeps answering pings; count those that drop.
    let until = Instant::now() + plan.hold;
    let holders: Vec<_> = conns
        .into_iter()
        .flatten()
        .map(|mut conn| {
            tokio::spawn(async move {
                let mut v3_ping = interval(V3_PING);
                let v3 = conn.rx.eio() == Eio::V3;
                loop {
                    tokio::select! {
                        incoming = conn.rx.next() => match incoming {
                            Ok(Incoming::Ping) => { let _ = conn.tx.pong().await; }
                            Ok(_) => {}
                            Err(_) => return (false, conn),
                        },
                        _ = v3_ping.tick(), if v3 => { let _ = conn.tx.ping().await; }
                        () = sleep_until(until) => return (true, conn),
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500).min(plan.hold)).await;
    let rss_held = target.server.rss_kib()?;
    let mut dropped = 0;
    let mut kept = Vec::with_capacity(holders.len());
    for holder in holders {
        match holder.await {
            Ok((true, conn)) => kept.push(conn),
            _ => dropped += 1,
        }
    }
    for conn in kept {
        conn.tx.close().await;
    }
    Ok(ConnectionsResult {
        scenario: "connections",
        connections: opened,
        failures,
        connect_s,
        connects_per_s: opened as f64 / connect_s.max(1e-9),
        cpu,
        connects_per_cpu_s: cpu.per_cpu_second(opened as f64),
        rss_before_kib: rss_before,
        rss_held_kib: rss_held,
        rss_per_connection_kib: (rss_held.saturating_sub(rss_before)) as f64 / opened.max(1) as f64,
        held_s: plan.hold.as_secs_f64(),
        dropped_while_held: dropped,
    })
}

// ---------------------------------------------------------------------------------------------
// churn

pub struct Churn {
    pub workers: usize,
    pub duration: Duration,
}

#[derive(Serialize)]
pub struct ChurnResult {
    scenario: &'static str,
    workers: usize,
    duration_s: f64,
    cycles: u64,
    errors: u64,
    cycles_per_s: f64,
    #[serde(flatten)]
    cpu: ServerCpu,
    cycles_per_cpu_s: f64,
}

pub async fn churn(target: &Target, plan: Churn) -> anyhow::Result<ChurnResult> {
    let cpu_before = target.server.cpu()?;
    let stop = Instant::now() + plan.duration;
    let tasks: Vec<_> = (0..plan.workers)
        .map(|w| {
            let (addr, eio) = (target.addr_for(w), target.eio);
            tokio::spawn(async move {
                let (mut cycles, mut errors) = (0u64, 0u64);
                while Instant::now() < stop {
                    let cycle =
                        tokio::time::timeout(Duration::from_secs(10), one_cycle(&addr, eio, w));
                    match cycle.await {
                        Ok(Ok(())) => cycles += 1,
                        _ => errors += 1,
                    }
                }
                (cycles, errors)
            })
        })
        .collect();
    let (mut cycles, mut errors) = (0, 0);
    for task in tasks {
        let (c, e) = task.await.unwrap_or((0, 1));
        cycles += c;
        errors += e;
    }
    let cpu = target.cpu_since(cpu_before)?;
    let duration_s = plan.duration.as_secs_f64();
    Ok(ChurnResult {
        scenario: "churn",
        workers: plan.workers,
        duration_s,
        cycles,
        errors,
        cycles_per_s: cycles as f64 / duration_s,
        cpu,
        cycles_per_cpu_s: cpu.per_cpu_second(cycles as f64),
    })
}

async fn one_cycle(addr: &str, eio: Eio, worker: usize) -> anyhow::Result<()> {
    let room = json!(format!("churn-{worker}"));
    let mut conn = wire::connect(addr, eio).await?;
    conn.tx.emit("join", std::slice::from_ref(&room)).await?;
    wire::until(&mut conn, "joined").await?;
    conn.tx.emit("message", &[room.clone(), json!("x")]).await?;
    wire::until(&mut conn, "message").await?;
    conn.tx.emit("leave", &[room]).await?;
    wire::until(&mut conn, "leaved").await?;
    conn.tx.close().await;
    Ok(())
}
