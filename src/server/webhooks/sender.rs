//! The task that delivers webhook events: one at a time, in queue order, each retried with
//! backoff until the receiver answers 2xx or the attempts run out.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{Counters, Event, WebhookConfig};

/// The first retry's wait; each later one waits twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub(super) struct Sender {
    config: WebhookConfig,
    client: reqwest::Client,
    counters: Arc<Counters>,
}

impl Sender {
    pub(super) fn new(config: WebhookConfig, counters: Arc<Counters>) -> anyhow::Result<Self> {
        // rustls needs one process-wide crypto provider; a second call finds it installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            config,
            client,
            counters,
        })
    }

    pub(super) async fn run(self, mut events: mpsc::Receiver<Event>) {
        while let Some(event) = events.recv().await {
            self.deliver(&event).await;
        }
    }

    async fn deliver(&self, event: &Event) {
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(err) => return warn!(%err, "a webhook event did not serialize"),
        };
        let signature = self
            .config
            .secret
            .as_ref()
            .map(|secret| signature(secret, &body));
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=self.config.attempts {
            let mut request = self
                .client
                .post(&self.config.url)
                .header("content-type", "application/json")
                .header("x-signalroom-event", event.kind.as_str())
                .header("x-signalroom-delivery", &event.id)
                .body(body.clone());
            if let Some(signature) = &signature {
                request = request.header("x-signalroom-signature", signature);
            }
            let outcome = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(response) => format!("answered {}", response.status()),
                Err(err) => err.to_string(),
            };
            debug!(id = %event.id, attempt, %outcome, "webhook not delivered");
            if attempt < self.config.attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            } else {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                warn!(id = %event.id, event = event.kind.as_str(), room = %event.room, attempts = attempt, %outcome, "webhook given up");
            }
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` with `secret`: the scheme GitHub's and Stripe's
/// receivers check.
pub(super) fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn the_signature_is_rfc_4231s_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
