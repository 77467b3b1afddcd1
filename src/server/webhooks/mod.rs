//! Webhooks (`--webhook-url`): signalroom tells the application's backend what happens in its
//! rooms, by POSTing JSON events, signed `X-Signalroom-Signature: sha256=<hex HMAC-SHA256 of the
//! body>` with `--webhook-secret`.
//!
//! - [`event`]: the events and their JSON.
//! - [`sender`]: the one task that delivers them, in order, with retries and backoff.
//!
//! Chat and signaling never wait for a webhook: an event is queued with `try_send` on a bounded
//! queue (`--webhook-queue`); a full queue drops it with a log line and a counter. Delivery is
//! at-least-once (a receiver that answered too late gets the event again, with the same id)
//! and best-effort (an event that fails every retry is given up, counted and logged). One task
//! sends every event of this instance in turn, so each room's events arrive in the order they
//! happened. In a cluster each instance sends the events of its own members.

pub mod event;
mod sender;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tracing::warn;

pub use event::{Event, Kind, Peer};

/// What `--webhook-*` say.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: Option<String>,
    pub queue: usize,
    pub timeout: Duration,
    pub attempts: u32,
}

/// The counters `/healthz` shows.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// `/healthz`'s `webhooks` figures.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WebhookHealth {
    pub queued: usize,
    pub sent: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// The handle sessions queue events on: cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    queue: mpsc::Sender<Event>,
    counters: Arc<Counters>,
}

impl Webhooks {
    /// Starts the sender task; fails only if the HTTP client cannot be built.
    pub fn start(config: WebhookConfig) -> anyhow::Result<Self> {
        let (queue, events) = mpsc::channel(config.queue.max(1));
        let counters = Arc::new(Counters::default());
        let sender = sender::Sender::new(config, counters.clone())?;
        tokio::spawn(sender.run(events));
        Ok(Self { queue, counters })
    }

    /// Queues `event`, or drops it if the queue is full: never waits.
    pub fn send(&self, event: Event) {
        if let Err(err) = self.queue.try_send(event) {
            let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let event = match &err {
                mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e) => e,
            };
            warn!(event = event.kind.as_str(), room = %event.room, dropped, "webhook queue full: event dropped");
        }
    }

    pub fn health(&self) -> WebhookHealth {
        WebhookHealth {
            queued: self.queue.max_capacity() - self.queue.capacity(),
            sent: self.counters.sent.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}
