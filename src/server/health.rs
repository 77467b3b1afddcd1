//! `GET /healthz`: liveness for container health checks and load balancers, with the two
//! numbers an operator watches for leaks.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::signaling::Hub;

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
    /// Socket.IO sessions open now.
    connections: usize,
    /// Rooms with at least one member.
    rooms: usize,
}

pub async fn healthz(State(hub): State<Hub>) -> Json<Health> {
    Json(Health {
        status: "ok",
        connections: hub.connections(),
        rooms: hub.room_count(),
    })
}
