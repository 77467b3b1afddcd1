//! Prometheus metrics (`--metrics-addr`), served on a listener of their own so they are never
//! exposed on the public port.
//!
//! Every counter on a hot path (events, deliveries, bytes, the latency histogram) is registered
//! once at startup and kept as a handle, so an update is one atomic add, not a registry lookup.
//! Without `--metrics-addr` a [`Metrics`] is empty and each update is a branch. Labelled
//! counters (by reason or code) are looked up when they change, which is rare. Figures that
//! are a state rather than a count (connections, rooms, the webhook queue) are read when
//! Prometheus scrapes, from [`Snapshot`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use serde::Serialize;

use super::webhooks::WebhookHealth;
use crate::protocol::wire_name;

/// The metadata every metric is registered with (the exporter does not use it).
const METADATA: Metadata<'static> = Metadata::new("signalroom", metrics::Level::INFO, None);

/// How often histogram samples are folded into their buckets between scrapes, so that an
/// instance nobody scrapes does not keep every sample.
const UPKEEP: Duration = Duration::from_secs(5);

/// Event handling time buckets, in seconds: handling is synchronous and takes microseconds;
/// the upper buckets catch a stalled lock or a slow machine.
const LATENCY_BUCKETS: [f64; 12] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.0025, 0.005,
    0.01, 0.1,
];

/// A cheap-to-clone handle on the metrics; empty (every update a no-op) when they are off.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Inner>>);

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    connects: Counter,
    joins: Counter,
    full: Counter,
    events: Counter,
    deliveries: Counter,
    received_bytes: Counter,
    sent_bytes: Counter,
    event_seconds: Histogram,
    turn_credentials: Counter,
    redis_round_trips: Counter,
    redis_reconnects: Counter,
    redis_registrations: Counter,
    connections: Gauge,
    rooms: Gauge,
}

/// The figures read at each scrape.
pub struct Snapshot {
    pub connections: usize,
    pub rooms: usize,
    /// In a cluster: whether Redis answers.
    pub redis_up: Option<bool>,
    pub webhooks: Option<WebhookHealth>,
}

/// Each metric's name, unit and help text: the one list the README's table follows.
const DESCRIPTIONS: &[(&str, Option<Unit>, &str)] = &[
    (
        "signalroom_connections",
        None,
        "Socket.IO sessions open now",
    ),
    (
        "signalroom_connects_total",
        None,
        "Socket.IO sessions opened",
    ),
    (
        "signalroom_connections_refused_total",
        None,
        "connections refused, by reason (token, server_full)",
    ),
    (
        "signalroom_disconnects_total",
        None,
        "sessions ended, by socketioxide's reason",
    ),
    (
        "signalroom_rooms",
        None,
        "rooms with a member on this instance now",
    ),
    ("signalroom_joins_total", None, "joins that got a seat"),
    (
        "signalroom_leaves_total",
        None,
        "members out of a room, by reason (left, disconnected, kicked, closed, evicted)",
    ),
    ("signalroom_full_total", None, "joins answered full"),
    (
        "signalroom_refusals_total",
        None,
        "refused events, by refusal code",
    ),
    (
        "signalroom_events_received_total",
        None,
        "client events received",
    ),
    (
        "signalroom_deliveries_total",
        None,
        "server events handed to sockets",
    ),
    (
        "signalroom_evictions_total",
        None,
        "clients disconnected by the server, by closing code",
    ),
    (
        "signalroom_received_bytes_total",
        Some(Unit::Bytes),
        "bytes read on the public port",
    ),
    (
        "signalroom_sent_bytes_total",
        Some(Unit::Bytes),
        "bytes written on the public port",
    ),
    (
        "signalroom_event_duration_seconds",
        Some(Unit::Seconds),
        "time to handle one client event",
    ),
    (
        "signalroom_turn_credentials_total",
        None,
        "TURN credentials issued",
    ),
    (
        "signalroom_redis_up",
        None,
        "1 when Redis answers and this instance is registered (cluster only)",
    ),
    (
        "signalroom_redis_round_trips_total",
        None,
        "pipelines and queries sent to Redis",
    ),
    (
        "signalroom_redis_reconnects_total",
        None,
        "registrations after Redis was unreachable or lost its data",
    ),
    (
        "signalroom_redis_registrations_total",
        None,
        "registrations of this instance's members in Redis",
    ),
    (
        "signalroom_resumes_total",
        None,
        "resumes of dropped connections, by result (resumed, unknown, too_far_behind)",
    ),
    (
        "signalroom_webhooks_queued",
        None,
        "webhook events waiting to be sent",
    ),
    (
        "signalroom_webhooks_sent_total",
        None,
        "webhook events delivered",
    ),
    (
        "signalroom_webhooks_failed_total",
        None,
        "webhook events given up after every attempt",
    ),
    (
        "signalroom_webhooks_dropped_total",
        None,
        "webhook events dropped: the queue was full",
    ),
];

/// The name of every metric signalroom exports (for the dashboard's and the docs' tests).
pub fn names() -> impl Iterator<Item = &'static str> {
    DESCRIPTIONS.iter().map(|(name, _, _)| *name)
}

impl Metrics {
    /// Metrics on: registers every metric with a new recorder and starts its upkeep.
    pub fn enabled() -> anyhow::Result<Self> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(
                    "signalroom_event_duration_seconds".into(),
                ),
                &LATENCY_BUCKETS,
            )?
            .build_recorder();
        for (name, unit, help) in DESCRIPTIONS {
            let name = KeyName::from_const_str(name);
            if name.as_str().ends_with("_total") {
                recorder.describe_counter(name, *unit, (*help).into());
            } else if name.as_str().ends_with("_seconds") {
                recorder.describe_histogram(name, *unit, (*help).into());
            } else {
                recorder.describe_gauge(name, *unit, (*help).into());
            }
        }
        let counter =
            |name: &'static str| recorder.register_counter(&Key::from_static_name(name), &METADATA);
        let gauge =
            |name: &'static str| recorder.register_gauge(&Key::from_static_name(name), &METADATA);
        let inner = Inner {
            handle: recorder.handle(),
            connects: counter("signalroom_connects_total"),
            joins: counter("signalroom_joins_total"),
            full: counter("signalroom_full_total"),
            events: counter("signalroom_events_received_total"),
            deliveries: counter("signalroom_deliveries_total"),
            received_bytes: counter("signalroom_received_bytes_total"),
            sent_bytes: counter("signalroom_sent_bytes_total"),
            event_seconds: recorder.register_histogram(
                &Key::from_static_name("signalroom_event_duration_seconds"),
                &METADATA,
            ),
            turn_credentials: counter("signalroom_turn_credentials_total"),
            redis_round_trips: counter("signalroom_redis_round_trips_total"),
            redis_reconnects: counter("signalroom_redis_reconnects_total"),
            redis_registrations: counter("signalroom_redis_registrations_total"),
            connections: gauge("signalroom_connections"),
            rooms: gauge("signalroom_rooms"),
            recorder,
        };
        let inner = Arc::new(inner);
        // Ends with the server: it holds the metrics only while they are in use.
        let upkeep = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP);
            loop {
                tick.tick().await;
                let Some(inner) = upkeep.upgrade() else {
                    return;
                };
                inner.handle.run_upkeep();
            }
        });
        Ok(Self(Some(inner)))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The Prometheus text exposition of every metric, with `now`'s figures.
    pub fn render(&self, now: Snapshot) -> String {
        let Some(inner) = &self.0 else {
            return String::new();
        };
        inner.connections.set(now.connections as f64);
        inner.rooms.set(now.rooms as f64);
        // Registered only where the feature is on, so a single process without webhooks does
        // not report a webhook queue.
        let gauge = |name| {
            inner
                .recorder
                .register_gauge(&Key::from_static_name(name), &METADATA)
        };
        let counter = |name| {
            inner
                .recorder
                .register_counter(&Key::from_static_name(name), &METADATA)
        };
        if let Some(up) = now.redis_up {
            gauge("signalroom_redis_up").set(if up { 1.0 } else { 0.0 });
        }
        if let Some(webhooks) = now.webhooks {
            gauge("signalroom_webhooks_queued").set(webhooks.queued as f64);
            counter("signalroom_webhooks_sent_total").absolute(webhooks.sent);
            counter("signalroom_webhooks_failed_total").absolute(webhooks.failed);
            counter("signalroom_webhooks_dropped_total").absolute(webhooks.dropped);
        }
        inner.handle.run_upkeep();
        inner.handle.render()
    }

    /// Adds `n` to one of the counters registered at startup.
    fn add(&self, counter: impl FnOnce(&Inner) -> &Counter, n: u64) {
        if let Some(inner) = &self.0 {
            counter(inner).increment(n);
        }
    }

    fn labelled(&self, name: &'static str, label: &'static str, value: &str) -> Option<Counter> {
        let inner = self.0.as_ref()?;
        let key = Key::from_parts(name, vec![Label::new(label, value.to_owned())]);
        Some(inner.recorder.register_counter(&key, &METADATA))
    }

    fn count(&self, name: &'static str, label: &'static str, value: &str, n: u64) {
        if let Some(counter) = self.labelled(name, label, value) {
            counter.increment(n);
        }
    }

    pub fn connected(&self) {
        self.add(|m| &m.connects, 1);
    }

    pub fn connection_refused(&self, reason: &str) {
        self.count("signalroom_connections_refused_total", "reason", reason, 1);
    }

    pub fn disconnected(&self, reason: &str) {
        self.count("signalroom_disconnects_total", "reason", reason, 1);
    }

    /// A resume, labelled with its result: `resumed`, `carried` (to the instance holding the
    /// session, which counts it `resumed`), `adopted` (from an instance that died), or why not
    /// (`unknown`, `too_far_behind`).
    pub fn resumed(&self, result: &str) {
        self.count("signalroom_resumes_total", "result", result, 1);
    }

    pub fn joined(&self) {
        self.add(|m| &m.joins, 1);
    }

    /// `rooms` memberships ended for `reason`.
    pub fn left(&self, reason: &str, rooms: usize) {
        if rooms > 0 {
            self.count("signalroom_leaves_total", "reason", reason, rooms as u64);
        }
    }

    pub fn full(&self) {
        self.add(|m| &m.full, 1);
    }

    /// A refusal, labelled with its code as the wire writes it.
    pub fn refused(&self, code: impl Serialize) {
        if self.is_enabled() {
            self.count("signalroom_refusals_total", "code", &wire_name(&code), 1);
        }
    }

    /// A client disconnected by the server, labelled with its closing code.
    pub fn evicted(&self, code: impl Serialize) {
        if self.is_enabled() {
            self.count("signalroom_evictions_total", "code", &wire_name(&code), 1);
        }
    }

    /// When an event's handling starts, if its time is measured.
    pub fn event_started(&self) -> Option<Instant> {
        self.0.as_ref().map(|_| Instant::now())
    }

    /// An event was received, and handled since `started`.
    pub fn event_handled(&self, started: Option<Instant>) {
        if let (Some(inner), Some(started)) = (&self.0, started) {
            inner.events.increment(1);
            inner.event_seconds.record(started.elapsed().as_secs_f64());
        }
    }

    pub fn delivered(&self, n: u64) {
        self.add(|m| &m.deliveries, n);
    }

    pub fn bytes_received(&self, n: u64) {
        self.add(|m| &m.received_bytes, n);
    }

    pub fn bytes_sent(&self, n: u64) {
        self.add(|m| &m.sent_bytes, n);
    }

    pub fn turn_credentials(&self) {
        self.add(|m| &m.turn_credentials, 1);
    }

    pub fn redis_round_trip(&self) {
        self.add(|m| &m.redis_round_trips, 1);
    }

    /// This instance registered its members in Redis; `again` after a loss.
    pub fn redis_registered(&self, again: bool) {
        if let Some(inner) = &self.0 {
            inner.redis_registrations.increment(1);
            if again {
                inner.redis_reconnects.increment(1);
            }
        }
    }
}
