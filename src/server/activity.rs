//! What the dashboard (`/admin`, with `--api-key`) shows besides the rooms: what happened lately
//! (joins, leaves, `full`, refusals, evictions, refused connections) and one sample a second of
//! events received and connections open, for its charts.
//!
//! Without the API an [`Activity`] is empty and every call is a branch. With it, a client event
//! costs one relaxed atomic add; everything else happens on joins, leaves and refusals, which
//! are far rarer, under a lock held for a push.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use super::clock::now_ms;
use crate::dashboard::snapshot::{Happening, HappeningKind, Sample, SERIES_SECONDS};

/// Happenings kept, the newest.
const RECENT: usize = 200;
/// Samples kept, one a second.
const SAMPLES: usize = SERIES_SECONDS;
/// How often a sample is taken.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// A cheap-to-clone handle; empty when there is no dashboard.
#[derive(Clone, Default)]
pub struct Activity(Option<Arc<Inner>>);

struct Inner {
    /// Client events received, ever.
    events: AtomicU64,
    /// Bumped by every change the dashboard shows, so a waiting request can answer at once.
    version: watch::Sender<u64>,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    recent: VecDeque<Happening>,
    series: VecDeque<Sample>,
    /// `events` at the last sample.
    sampled_events: u64,
}

impl Activity {
    pub fn enabled() -> Self {
        Self(Some(Arc::new(Inner {
            events: AtomicU64::new(0),
            version: watch::Sender::new(0),
            log: Mutex::default(),
        })))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// A client event was received.
    pub fn event(&self) {
        if let Some(inner) = &self.0 {
            inner.events.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Something the dashboard shows changed (a member, a connection).
    pub fn changed(&self) {
        if let Some(inner) = &self.0 {
            inner.version.send_modify(|v| *v += 1);
        }
    }

    /// Records what `happened` (built only when the dashboard is on).
    pub fn record(&self, happened: impl FnOnce() -> Happening) {
        let Some(inner) = &self.0 else {
            return;
        };
        {
            let mut log = inner.log();
            if log.recent.len() == RECENT {
                log.recent.pop_front();
            }
            log.recent.push_back(happened());
        }
        self.changed();
    }

    /// Takes the second's sample, at `now`, with `connections` open.
    pub fn sample(&self, now: u64, connections: usize) {
        let Some(inner) = &self.0 else {
            return;
        };
        let total = inner.events.load(Ordering::Relaxed);
        {
            let mut log = inner.log();
            let events = total - std::mem::replace(&mut log.sampled_events, total);
            if log.series.len() == SAMPLES {
                log.series.pop_front();
            }
            log.series.push_back(Sample {
                at: now,
                events,
                connections,
            });
        }
        self.changed();
    }

    /// Takes a sample every [`SAMPLE_EVERY`] of what `connections` counts, for as long as it
    /// is polled.
    pub async fn sample_continuously(self, connections: impl Fn() -> usize) {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            self.sample(now_ms(), connections());
        }
    }

    /// What happened lately, newest first.
    pub fn recent(&self) -> Vec<Happening> {
        self.0.as_ref().map_or_else(Vec::new, |inner| {
            inner.log().recent.iter().rev().cloned().collect()
        })
    }

    /// The samples, oldest first.
    pub fn series(&self) -> Vec<Sample> {
        self.0.as_ref().map_or_else(Vec::new, |inner| {
            inner.log().series.iter().copied().collect()
        })
    }

    /// The current version.
    pub fn version(&self) -> u64 {
        self.0.as_ref().map_or(0, |inner| *inner.version.borrow())
    }

    /// Returns once the version is newer than `after`, or `at_most` has passed.
    pub async fn newer_than(&self, after: u64, at_most: Duration) {
        let Some(inner) = &self.0 else {
            return;
        };
        let mut version = inner.version.subscribe();
        let _ = tokio::time::timeout(at_most, version.wait_for(|&v| v > after)).await;
    }
}

impl Inner {
    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A happening of `kind`, at `at`, with what is known of it.
pub fn happening(
    at: u64,
    kind: HappeningKind,
    room: Option<&str>,
    id: Option<String>,
    name: Option<&str>,
    detail: Option<&str>,
) -> Happening {
    Happening {
        at,
        kind,
        room: room.map(str::to_owned),
        id,
        name: name.map(str::to_owned),
        detail: detail.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(at: u64) -> Happening {
        happening(at, HappeningKind::Joined, Some("r"), None, None, None)
    }

    #[test]
    fn off_records_nothing() {
        let off = Activity::default();
        off.event();
        off.record(|| unreachable!("not built when off"));
        off.sample(1, 1);
        assert!(off.recent().is_empty() && off.series().is_empty());
        assert_eq!(off.version(), 0);
    }

    #[test]
    fn the_newest_happenings_are_kept_newest_first() {
        let on = Activity::enabled();
        for at in 0..(RECENT as u64 + 5) {
            on.record(|| joined(at));
        }
        let recent = on.recent();
        assert_eq!(recent.len(), RECENT);
        assert_eq!(recent[0].at, RECENT as u64 + 4);
        assert_eq!(recent[RECENT - 1].at, 5);
        assert_eq!(on.version(), RECENT as u64 + 5);
    }

    #[test]
    fn each_sample_counts_the_events_since_the_last() {
        let on = Activity::enabled();
        for _ in 0..3 {
            on.event();
        }
        on.sample(1000, 2);
        on.sample(2000, 1);
        on.event();
        on.sample(3000, 1);
        let events: Vec<u64> = on.series().iter().map(|s| s.events).collect();
        assert_eq!(events, [3, 0, 1]);
        for at in 0..SAMPLES as u64 {
            on.sample(4000 + at, 0);
        }
        let series = on.series();
        assert_eq!(series.len(), SAMPLES);
        assert_eq!(series[0].at, 4000);
    }

    #[tokio::test]
    async fn a_waiting_request_answers_at_a_change() {
        let on = Activity::enabled();
        let waiter = tokio::spawn({
            let on = on.clone();
            async move { on.newer_than(0, Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        on.changed();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("answered at the change")
            .unwrap();
    }
}
