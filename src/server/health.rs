//! `GET /healthz`: liveness for container health checks and load balancers, with the two
//! numbers an operator watches for leaks, and in a cluster whether Redis answers.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::signaling::Hub;
use super::webhooks::WebhookHealth;

#[derive(Serialize)]
pub struct Health {
    /// `ok`, or `degraded` when a cluster instance cannot reach Redis: it still serves its
    /// own members (so the answer stays 200 and load balancers keep it).
    status: &'static str,
    /// Socket.IO sessions open on this instance now.
    connections: usize,
    /// Rooms with at least one member on this instance.
    rooms: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterHealth>,
    /// With `--webhook-url`: events waiting, sent, given up and dropped (queue full).
    #[serde(skip_serializing_if = "Option::is_none")]
    webhooks: Option<WebhookHealth>,
}

#[derive(Serialize)]
pub struct ClusterHealth {
    /// This instance's name in the cluster.
    node: String,
    /// `up` when Redis answers and this instance is registered with it, else `down`.
    redis: &'static str,
    /// Where the other instances reach this one (`--instance-url` or its default), or null
    /// if none was found: then its sessions resume only on it.
    url: Option<String>,
}

pub async fn healthz(State(hub): State<Hub>) -> Json<Health> {
    let cluster = hub.cluster().map(|cluster| ClusterHealth {
        node: cluster.node().to_string(),
        redis: if cluster.is_up() { "up" } else { "down" },
        url: cluster.url().map(str::to_owned),
    });
    let degraded = cluster.as_ref().is_some_and(|c| c.redis == "down");
    Json(Health {
        status: if degraded { "degraded" } else { "ok" },
        connections: hub.connections(),
        rooms: hub.room_count(),
        cluster,
        webhooks: hub.webhook_health(),
    })
}
