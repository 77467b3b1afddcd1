//! Settings: every one a command-line flag with a `SIGNALROOM_*` environment twin.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use super::logging::{LogFormat, LogRotation};

/// A WebRTC signaling server and browser chat room.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Config {
    /// Address to listen on (the tutorial's port by default).
    #[arg(long, env = "SIGNALROOM_ADDR", default_value = "127.0.0.1:9980")]
    pub addr: SocketAddr,

    /// Serve HTTPS and WSS with this PEM certificate chain (the server's certificate first);
    /// needs `--tls-key`. Read again on SIGHUP, without dropping connections.
    #[arg(long, env = "SIGNALROOM_TLS_CERT", requires = "tls_key", global = true)]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`'s certificate.
    #[arg(long, env = "SIGNALROOM_TLS_KEY", requires = "tls_cert", global = true)]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS and WSS with a certificate made at startup for the listening address and
    /// this machine's names, printing its SHA-256 fingerprint: for trying a call across a LAN,
    /// never for serving people (browsers warn until it is accepted).
    #[arg(
        long,
        env = "SIGNALROOM_TLS_SELF_SIGNED",
        conflicts_with = "tls_cert",
        global = true
    )]
    pub tls_self_signed: bool,

    /// Worker threads that handle connections; 0 means one per CPU core, and 1 runs the whole
    /// server on its main thread (tokio's current-thread scheduler). On a machine the server
    /// shares with other busy processes, fewer threads spend less CPU per event (see
    /// docs/benchmarks.md); one thread also caps the server at one core. Several instances on
    /// one machine should share its cores out rather than each start a worker per core. At most
    /// 1024: a typo of many thousands would otherwise make the runtime fail to start its threads.
    #[arg(long, env = "SIGNALROOM_THREADS", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub threads: u16,

    /// Folder with the built site: the hydrate bundle, the stylesheet and `public/`'s files.
    #[arg(long, env = "SIGNALROOM_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Log file, written besides stdout; an empty value turns it off.
    #[arg(long, env = "SIGNALROOM_LOG_FILE", default_value = "app.log")]
    pub log_file: String,

    /// Serve Prometheus metrics at `GET /metrics` on this address (e.g. `127.0.0.1:9981`), a
    /// listener of its own so they stay off the public port; unset, no metrics are kept.
    #[arg(long, env = "SIGNALROOM_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Log filter, in `tracing_subscriber::EnvFilter` syntax (e.g. `info`, `signalroom=debug`).
    #[arg(long, env = "SIGNALROOM_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// How each log line is written, on stdout and in the file: `text` for people, `json` for a
    /// log collector (one JSON object per line: timestamp, level, target, fields).
    #[arg(long, env = "SIGNALROOM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// When the log file starts afresh: `never` (one file, appended to), `hourly` or `daily`.
    /// A rotated file is named after `--log-file` with the date (and hour) appended, e.g.
    /// `app.log.2026-12-02`.
    #[arg(long, env = "SIGNALROOM_LOG_ROTATION", value_enum, default_value_t = LogRotation::Never)]
    pub log_rotation: LogRotation,

    /// With rotation, how many log files are kept, today's included; older ones are deleted
    /// (at startup and at each rotation).
    #[arg(long, env = "SIGNALROOM_LOG_KEEP", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub log_keep: u32,

    /// Serve directory listings of the site folder (the tutorial's serve-index).
    #[arg(long, env = "SIGNALROOM_LIST_DIRECTORIES")]
    pub list_directories: bool,

    /// Largest payload accepted from a client, in bytes: one long-polling request or one
    /// WebSocket message. A client that sends more is disconnected.
    #[arg(long, env = "SIGNALROOM_MAX_PAYLOAD", default_value_t = 1_000_000)]
    pub max_payload: u64,

    /// Packets buffered for sending to one client before further packets to it fail.
    #[arg(long, env = "SIGNALROOM_SEND_BUFFER", default_value_t = 8192)]
    pub send_buffer: usize,

    /// No longer has an effect: events are handled as they arrive, with no queue to bound.
    /// Still accepted so existing command lines and environments keep working.
    #[arg(long, env = "SIGNALROOM_EVENT_QUEUE", hide = true)]
    pub event_queue: Option<usize>,

    /// Events per second one client may send, sustained; more are refused with
    /// `rate_limited`, and a client that keeps going is disconnected. 0 means no limit.
    #[arg(long, env = "SIGNALROOM_EVENT_RATE", default_value_t = 100.0)]
    pub event_rate: f64,

    /// Events one client may send at once, above the sustained rate.
    #[arg(long, env = "SIGNALROOM_EVENT_BURST", default_value_t = 1000)]
    pub event_burst: u32,

    /// Rooms one client may be in at once; a join beyond gets `too_many_rooms`.
    #[arg(long, env = "SIGNALROOM_MAX_ROOMS_PER_CLIENT", default_value_t = 32)]
    pub max_rooms_per_client: usize,

    /// Clients connected at once; further ones are refused at connect ("server full").
    #[arg(long, env = "SIGNALROOM_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Browser origins allowed to open Socket.IO connections, besides the page's own origin
    /// and loopback origins (http://localhost:PORT and the like), e.g.
    /// `https://chat.example.com`; `*` allows any. Clients that send no Origin (not browsers)
    /// are always allowed.
    #[arg(long, env = "SIGNALROOM_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Seats in any room; a join beyond gets `full`. 0 means unlimited, as in the tutorial. A
    /// room's first joiner may ask for fewer (e.g. 2 for a 1:1 call).
    #[arg(long, env = "SIGNALROOM_ROOM_CAPACITY", default_value_t = 0)]
    pub room_capacity: usize,

    /// STUN server URLs handed to clients for WebRTC, e.g. `stun:stun.example.com:3478`.
    /// Without any, calls work only where peers reach each other directly (LAN, localhost).
    #[arg(long, env = "SIGNALROOM_STUN_URLS", value_delimiter = ',')]
    pub stun_urls: Vec<String>,

    /// TURN server URLs handed to clients, e.g. `turn:turn.example.com:3478?transport=udp`.
    /// Needs `--turn-secret`.
    #[arg(long, env = "SIGNALROOM_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,

    /// The secret shared with the TURN server (coturn's `static-auth-secret` with
    /// `use-auth-secret`); clients get time-limited credentials derived from it.
    #[arg(long, env = "SIGNALROOM_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// How long issued TURN credentials stay valid, in seconds.
    #[arg(long, env = "SIGNALROOM_TURN_TTL", default_value_t = 86_400)]
    pub turn_ttl: u64,

    /// On SIGTERM or Ctrl-C, seconds to let clients and requests finish before exiting anyway.
    #[arg(long, env = "SIGNALROOM_SHUTDOWN_TIMEOUT", default_value_t = 10)]
    pub shutdown_timeout: u64,

    /// Turns clustering on: every instance given the same Redis (and key prefix) shares its
    /// rooms with the others. `redis://HOST:PORT[/DB]`, `rediss://` for TLS, a password as
    /// `redis://:PASSWORD@HOST:PORT`. Unset: this process alone holds its rooms.
    #[arg(long, env = "SIGNALROOM_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and channel signalroom uses, so several deployments can share
    /// one Redis: letters, digits and `_.:-`, at most 64.
    #[arg(long, env = "SIGNALROOM_REDIS_PREFIX", default_value = "signalroom",
          value_parser = parse_prefix)]
    pub redis_prefix: String,

    /// Seconds after which an instance that stopped renewing its heartbeat in Redis is taken for
    /// dead (killed, or cut off): its members leave their rooms on every other instance, which
    /// tell the rooms `bye`. Heartbeats go every fifth of this; 2 to 3600. One found with
    /// nothing listening by a client's resume is taken for dead after two missed beats.
    #[arg(long, env = "SIGNALROOM_NODE_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub node_timeout: u64,

    /// Where the other instances of the cluster reach this one, `http://HOST:PORT` (or `https://`
    /// with TLS): a client that resumes on another instance is carried to its session here (see
    /// the README's "Resuming"). Default: `http://` (`https://` with TLS) and `--addr` when that
    /// is a specific address; on every address (`0.0.0.0`), the address this machine reaches
    /// Redis from (over IPv4 for `0.0.0.0`), with `--addr`'s port.
    #[arg(long, env = "SIGNALROOM_INSTANCE_URL", value_parser = parse_instance_url)]
    pub instance_url: Option<String>,

    /// Seconds a dropped connection keeps its seats and peer id for a client that asked to be
    /// resumable (see the README's "Resuming"): the others are told `away` at once and `bye`
    /// only if it does not come back in time. In a cluster, also each member of an instance
    /// that died. 0 turns resuming off.
    #[arg(long, env = "SIGNALROOM_RESUME_GRACE", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub resume_grace: u64,

    /// Events kept per resumable member for a resume to replay (and at most 1 MiB of them);
    /// one that missed more while away starts a new session.
    #[arg(long, env = "SIGNALROOM_RESUME_BUFFER", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub resume_buffer: u32,

    /// Requires a join token from every Socket.IO connection: a JWT signed HS256 with this
    /// secret (see the README's "Join tokens"). At least 32 bytes. Unset: anyone may join any
    /// room under any name.
    #[arg(long, env = "SIGNALROOM_AUTH_SECRET", hide_env_values = true, global = true,
          value_parser = parse_secret)]
    pub auth_secret: Option<String>,

    /// Seconds of clock skew forgiven when checking a token's `exp`, `nbf` and `iat`.
    #[arg(long, env = "SIGNALROOM_AUTH_LEEWAY", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub auth_leeway: u64,

    /// Seconds a kicked member may not rejoin the room with the same token.
    #[arg(long, env = "SIGNALROOM_KICK_BAN", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400 * 30))]
    pub kick_ban: u64,

    /// Turns the server API on (`/api/`, see the README's "Server API"): requests must send
    /// `Authorization: Bearer KEY`. At least 16 bytes. Unset: `/api/` answers 404.
    #[arg(long, env = "SIGNALROOM_API_KEY", hide_env_values = true,
          value_parser = parse_api_key)]
    pub api_key: Option<String>,

    /// Sends webhooks (`room_started`, `room_finished`, `participant_joined`, `participant_left`)
    /// as JSON POSTs to this URL (see the README's "Webhooks"). Unset: none are sent.
    #[arg(long, env = "SIGNALROOM_WEBHOOK_URL", value_parser = parse_webhook_url)]
    pub webhook_url: Option<String>,

    /// Signs each webhook: `X-Signalroom-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    #[arg(long, env = "SIGNALROOM_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// Webhook events waiting to be sent at most; more are dropped (and counted in /healthz).
    #[arg(long, env = "SIGNALROOM_WEBHOOK_QUEUE", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub webhook_queue: u32,

    /// Seconds one webhook request may take before it counts as failed and is retried.
    #[arg(long, env = "SIGNALROOM_WEBHOOK_TIMEOUT", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub webhook_timeout: u64,

    /// Attempts per webhook event before it is given up (with backoff from 0.25 s, doubling).
    #[arg(long, env = "SIGNALROOM_WEBHOOK_ATTEMPTS", default_value_t = 6,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_attempts: u32,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Prints a join token signed with `--auth-secret`, for scripts and for trying it out.
    Token(TokenArgs),
    /// Asks the server running with these settings (`--addr`'s port, on loopback) for
    /// `/healthz`: exit status 0 on a 200, else 1, for a container's HEALTHCHECK.
    Healthcheck,
}

/// `signalroom token`'s claims (the README's claim table).
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// A room the token grants; ending in `*`, a prefix. Repeat for several; none: every room.
    #[arg(long = "room")]
    pub rooms: Vec<String>,
    /// The display name others see.
    #[arg(long)]
    pub name: Option<String>,
    /// The user's identity in the application.
    #[arg(long)]
    pub sub: Option<String>,
    /// `member` or `moderator`.
    #[arg(long, default_value = "member", value_parser = ["member", "moderator"])]
    pub role: String,
    /// Seats of a room the holder creates.
    #[arg(long)]
    pub capacity: Option<usize>,
    /// How long the token is valid: seconds, or a number with `s`, `m`, `h` or `d`.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub ttl: u64,
}

/// `--ttl`: `90`, `90s`, `15m`, `1h`, `7d`, in seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let (number, unit) = match text.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (&text[..at], c),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err("use a number with s, m, h or d, e.g. 1h".into()),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&n| n > 0)
        .ok_or_else(|| "use a positive number with s, m, h or d, e.g. 1h".into())
}

/// `--webhook-url`: an http or https URL.
fn parse_webhook_url(url: &str) -> Result<String, String> {
    match url.split_once("://") {
        Some(("http" | "https", rest)) if !rest.is_empty() => Ok(url.to_owned()),
        _ => Err("an http:// or https:// URL".into()),
    }
}

/// `--api-key`: long enough that it cannot be guessed by trying.
fn parse_api_key(key: &str) -> Result<String, String> {
    if key.len() >= 16 && !key.chars().any(char::is_control) {
        Ok(key.to_owned())
    } else {
        Err("at least 16 bytes without control characters".into())
    }
}

/// `--auth-secret`: long enough that it cannot be guessed by trying (HS256's key is as strong as
/// the secret).
fn parse_secret(secret: &str) -> Result<String, String> {
    if secret.len() >= 32 {
        Ok(secret.to_owned())
    } else {
        Err("at least 32 bytes (e.g. `openssl rand -hex 32`)".into())
    }
}

/// `--redis-prefix`: the characters that need no escaping in a Redis key or a Lua string.
fn parse_prefix(prefix: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:-".contains(c);
    if (1..=64).contains(&prefix.len()) && prefix.chars().all(allowed) {
        Ok(prefix.to_owned())
    } else {
        Err("1 to 64 letters, digits and `_.:-`".to_owned())
    }
}

/// `http://HOST:PORT` or `https://HOST:PORT` (a trailing slash dropped).
fn parse_instance_url(url: &str) -> Result<String, String> {
    let usage = "http://HOST:PORT or https://HOST:PORT, with no path";
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme @ ("http" | "https"), rest)) => (scheme, rest.trim_end_matches('/')),
        _ => return Err(usage.to_owned()),
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || "-.:[]_".contains(c);
    if rest.is_empty() || !rest.chars().all(valid) {
        return Err(usage.to_owned());
    }
    Ok(format!("{scheme}://{rest}"))
}

impl Default for Config {
    /// The embedded defaults, as with no flags and no environment.
    fn default() -> Self {
        Self::parse_from(["signalroom"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        for bad in ["", "h", "0", "1w", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instance_urls_are_plain_http_without_a_path() {
        assert_eq!(
            parse_instance_url("http://signalroom-a:9980/").as_deref(),
            Ok("http://signalroom-a:9980")
        );
        assert_eq!(
            parse_instance_url("http://[::1]:9980").as_deref(),
            Ok("http://[::1]:9980")
        );
        assert_eq!(
            parse_instance_url("https://a.example:443").as_deref(),
            Ok("https://a.example:443")
        );
        for bad in ["ws://a:1", "a:1", "http://", "http://a:1/x", "http://a b"] {
            assert!(parse_instance_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_token_subcommand_reads_the_global_secret() {
        let secret = "s".repeat(32);
        let config = Config::parse_from([
            "signalroom",
            "token",
            "--auth-secret",
            &secret,
            "--room",
            "a",
            "--room",
            "b*",
            "--role",
            "moderator",
            "--ttl",
            "10m",
        ]);
        assert_eq!(config.auth_secret.as_deref(), Some(secret.as_str()));
        let Some(Command::Token(args)) = config.command else {
            panic!("no token command");
        };
        assert_eq!(
            (args.rooms, args.role, args.ttl),
            (vec!["a".into(), "b*".into()], "moderator".into(), 600)
        );
        assert!(Config::try_parse_from(["signalroom", "--auth-secret", "short"]).is_err());
    }
}
