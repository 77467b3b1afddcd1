//! The API's handlers: each reads its path and body, calls [`Control`], and answers JSON.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiError;
use crate::protocol::{RemovalCode, RoomName};
use crate::server::auth::{token, Claims, Role};
use crate::server::signaling::control::Control;

/// The OpenAPI document, kept beside the routes it describes.
const OPENAPI: &str = include_str!("openapi.json");

/// The longest token the API mints, in seconds (30 days).
const MAX_TTL: u64 = 30 * 86_400;

type Answer = Result<Response, ApiError>;

pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no such API route")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Since {
    /// The version the page has: the answer waits (a second at most) for a newer one.
    after: Option<u64>,
}

/// `GET /api/dashboard[?after=VERSION]`: what the `/admin` page shows.
pub(super) async fn dashboard(
    State(control): State<Control>,
    query: Result<Query<Since>, QueryRejection>,
) -> Answer {
    let Query(Since { after }) =
        query.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, "malformed", r.body_text()))?;
    let snapshot = control.dashboard(after).await;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(snapshot)).into_response())
}

/// `GET /api/rooms`.
pub(super) async fn rooms(State(control): State<Control>) -> Answer {
    let rooms = control.rooms().await?;
    Ok(Json(json!({ "rooms": rooms })).into_response())
}

/// `GET /api/rooms/{room}`.
pub(super) async fn room(
    State(control): State<Control>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let room = room_of(path)?;
    Ok(Json(control.room(&room).await?).into_response())
}

/// `DELETE /api/rooms/{room}`: closes the room.
pub(super) async fn close(
    State(control): State<Control>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let room = room_of(path)?;
    let removed = control.close(&room).await?;
    Ok(Json(json!({ "room": room.as_str(), "removed": removed })).into_response())
}

/// `DELETE /api/rooms/{room}/members/{id}`: removes a member, as a moderator's kick.
pub(super) async fn remove(
    State(control): State<Control>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let Path((room, id)) = path.map_err(bad_path)?;
    let room = parse_room(&room)?;
    control.remove(&room, &id, RemovalCode::Kicked).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Say {
    data: Value,
}

/// `POST /api/rooms/{room}/messages`: `{"data": ...}` to every member, from `server`.
pub(super) async fn say(
    State(control): State<Control>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Say>, JsonRejection>,
) -> Answer {
    let room = room_of(path)?;
    let Json(Say { data }) = body?;
    control.say(&room, data).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Mint {
    sub: Option<String>,
    name: Option<String>,
    rooms: Option<Vec<String>>,
    #[serde(default)]
    role: Role,
    capacity: Option<usize>,
    /// Seconds the token is valid.
    ttl: Option<u64>,
}

/// `POST /api/tokens`: a join token signed with `--auth-secret`.
pub(super) async fn mint(
    State(control): State<Control>,
    body: Result<Json<Mint>, JsonRejection>,
) -> Answer {
    let Json(mint) = body?;
    let Some(tokens) = control.tokens() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "the server has no --auth-secret, so it neither checks nor mints tokens",
        ));
    };
    let ttl = mint.ttl.unwrap_or(3600);
    if !(1..=MAX_TTL).contains(&ttl) {
        return Err(ApiError::invalid("ttl must be 1 to 2592000 seconds"));
    }
    let now = token::now();
    let claims = Claims {
        exp: now + ttl,
        iat: Some(now),
        sub: mint.sub,
        name: mint.name,
        rooms: mint.rooms,
        role: (mint.role == Role::Moderator).then_some(Role::Moderator),
        capacity: mint.capacity,
        ..Claims::default()
    };
    let token = tokens.mint(&claims);
    // The claims are checked as a connection's would be: a bad name or room is refused here.
    tokens
        .verify(&token)
        .map_err(|err| ApiError::invalid(err.to_string()))?;
    let body = Json(json!({ "token": token, "expires_at": claims.exp }));
    Ok((StatusCode::CREATED, body).into_response())
}

fn room_of(path: Result<Path<String>, PathRejection>) -> Result<RoomName, ApiError> {
    let Path(room) = path.map_err(bad_path)?;
    parse_room(&room)
}

fn parse_room(room: &str) -> Result<RoomName, ApiError> {
    RoomName::parse(room).map_err(|code| ApiError::invalid(code.describe()))
}

fn bad_path(rejection: PathRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed", rejection.body_text())
}
