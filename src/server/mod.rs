//! The server: one axum router serving the Leptos page, the site's files and Socket.IO.

pub mod activity;
pub mod api;
pub mod auth;
mod bans;
mod clock;
pub mod cluster;
pub mod config;
mod draining;
mod health;
pub mod health_command;
pub mod ice;
pub mod limits;
pub mod logging;
mod metered;
pub mod metrics;
mod request_parts;
pub mod resume;
pub mod rooms;
pub mod security;
pub mod signaling;
mod socketio_gate;
mod static_files;
pub mod tls;
pub mod token_command;
pub mod webhooks;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use leptos::config::LeptosOptions;
use socketioxide::layer::SocketIoLayer;
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::protocol::CloseCode;
pub use config::Config;
use signaling::adapter::RoomAdapter;
use signaling::Hub;

/// The runtime's threads' name, as `top -H` and `/proc/PID/task/*/comm` show them.
pub const THREAD_NAME: &str = "signalroom-rt";

/// Bytes read from a WebSocket at a time (engineioxide's default is 4 KiB). The buffer is
/// zero-filled to this size on every read, so it costs its full size on every idle connection;
/// chat messages and ICE candidates fit in one read, and a larger message (an SDP offer, a few
/// KB) simply takes several. 4 KiB -> 1 KiB saved 3 KiB per connection (throughput with 4 KB
/// messages within noise); 1 KiB -> 512 B saved another 0.5 KiB.
const WS_READ_BUFFER: usize = 512;

/// How long shutdown waits for the cluster to take this instance's members out of its rooms.
/// One round trip, normally; a loaded machine or a slow Redis can take seconds.
const DEPART_TIMEOUT: Duration = Duration::from_secs(5);

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Serves on `listener` until `shutdown` resolves, then disconnects every client and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    // First: a bad certificate should stop startup before anything else is set up.
    let tls = tls::Tls::from_config(&config, addr)?;
    // Leptos spawns its rendering tasks through this; a second `run` in one process finds it set.
    let _ = any_spawner::Executor::init_tokio();
    let metrics = match config.metrics_addr {
        Some(_) => metrics::Metrics::enabled()?,
        None => metrics::Metrics::default(),
    };
    let (hub, starter) = hub(&config, addr, tls.is_some(), &metrics).await?;
    let (socketio_layer, io) = socket_io(&config, &hub);
    Hub::attach(&io);
    hub.start_cluster(&io, starter).await?;

    let gate = socketio_gate::Gate {
        origins: security::AllowedOrigins::new(&config.allowed_origins),
        drain: draining::Drain::new(),
    };
    let drain = gate.drain.clone();
    // Tasks that live as long as this function: dropping the set aborts them.
    let mut background = tokio::task::JoinSet::new();
    let api = match &config.api_key {
        Some(key) => {
            info!("server API on /api/, dashboard on /admin");
            let (activity, sampled) = (hub.activity().clone(), hub.clone());
            background.spawn(activity.sample_continuously(move || sampled.connections()));
            api::router(signaling::control::Control::new(hub.clone(), &io), key)
        }
        None => api::off(),
    };
    let app = router(
        leptos_options(&config, addr),
        config.list_directories,
        hub.clone(),
        config.api_key.is_some(),
    )
    .nest("/api", api)
    .layer(socketio_layer)
    .layer(axum::middleware::from_fn_with_state(
        gate,
        socketio_gate::socketio_gate,
    ));
    if let Some(metrics_addr) = config.metrics_addr {
        serve_metrics(metrics_addr, metrics.clone(), hub.clone()).await?;
    }
    let scheme = match &tls {
        Some(tls) => {
            tls.reload_on_hangup()?;
            "https"
        }
        None => "http",
    };
    info!(%addr, scheme, site_root = %config.site_root.display(), "signalroom listening");

    let grace = Duration::from_secs(config.shutdown_timeout);
    let stop = stop(hub, io, drain);
    serve(listener, app, tls, metrics, (shutdown, stop), grace).await?;
    info!("stopped");
    Ok(())
}

/// The signaling hub over what `config` turns on: the cluster (connected to Redis, not yet
/// started: the returned starter does that once Socket.IO is attached), webhooks and metrics.
/// `https`: whether this instance serves TLS, for the URL it registers.
async fn hub(
    config: &Config,
    addr: SocketAddr,
    https: bool,
    metrics: &metrics::Metrics,
) -> anyhow::Result<(Hub, Option<cluster::Starter>)> {
    let (cluster, starter) = match &config.redis_url {
        Some(url) => {
            let scheme = if https { "https" } else { "http" };
            let (cluster, starter) = cluster::Cluster::connect(
                url,
                &config.redis_prefix,
                Duration::from_secs(config.node_timeout),
                cluster::Reach::new(config.instance_url.clone(), scheme, addr),
                metrics.clone(),
            )
            .await?;
            (Some(cluster), Some(starter))
        }
        None => (None, None),
    };
    let webhooks = match &config.webhook_url {
        Some(url) => Some(webhooks::Webhooks::start(webhooks::WebhookConfig {
            url: url.clone(),
            secret: config.webhook_secret.clone(),
            queue: config.webhook_queue as usize,
            timeout: Duration::from_secs(config.webhook_timeout),
            attempts: config.webhook_attempts,
        })?),
        None => None,
    };
    if config.event_queue.is_some() {
        warn!("--event-queue no longer has an effect: events are handled as they arrive");
    }
    if ice::IceConfig::new(config).turn_without_secret() {
        warn!("--turn-urls is set without --turn-secret: TURN servers will not be offered");
    }
    let hub = Hub::new(config, cluster, webhooks, metrics.clone());
    Ok((hub, starter))
}

/// Socket.IO with signalroom's room adapter, its state the hub, and the limits of `config`.
fn socket_io(config: &Config, hub: &Hub) -> (SocketIoLayer<RoomAdapter>, SocketIo<RoomAdapter>) {
    // engineioxide's `max_payload` bounds long-polling bodies only; the WebSocket limits are
    // separate settings, set to the same number so the limit holds on either transport.
    let ws_limit = usize::try_from(config.max_payload).unwrap_or(usize::MAX);
    SocketIo::builder()
        .max_payload(config.max_payload)
        .ws_max_message_size(ws_limit)
        .ws_max_frame_size(ws_limit)
        .max_buffer_size(config.send_buffer)
        .ws_read_buffer_size(WS_READ_BUFFER)
        .with_state(hub.clone())
        .with_adapter::<RoomAdapter>(hub.clone())
        .build_layer()
}

/// What shutting down does, in order, once asked to.
async fn stop(hub: Hub, io: SocketIo<RoomAdapter>, drain: draining::Drain) {
    info!("shutting down: disconnecting clients");
    hub.stop();
    if let Some(cluster) = hub.cluster() {
        // The other instances tell their members at once, rather than after the heartbeat
        // expires.
        cluster.depart(DEPART_TIMEOUT).await;
    }
    // Each client gets `closing(shutdown)`, which tells it it may connect again (socket.io
    // clients do not after a server's disconnect), then the Socket.IO disconnect that ends the
    // session (they report "io server disconnect"). Closing the engine then ends the
    // transports.
    signaling::close_all(&io, CloseCode::Shutdown).await;
    drain.finish();
    io.close().await;
}

/// Serves `app` on `listener` (over TLS if `tls`). Once `shutdown` resolves it stops accepting
/// and runs `stop`, lets in-flight requests finish, but waits no longer than `grace` for them.
async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<tls::Tls>,
    metrics: metrics::Metrics,
    (shutdown, stop): (
        impl Future<Output = ()> + Send + 'static,
        impl Future<Output = ()> + Send + 'static,
    ),
    grace: Duration,
) -> std::io::Result<()> {
    let stopping = Arc::new(Notify::new());
    let stop = {
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            stopping.notify_one();
            stop.await;
        }
    };
    // Small real-time frames must not wait for Nagle's algorithm to coalesce them with the next
    // ones: with delayed ACKs on the other side that costs up to 40 ms per message.
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            debug!(%err, "TCP_NODELAY not set");
        }
    });
    let listener = metered::MeteredListener::new(listener, metrics);
    let app = app.into_make_service();
    // TLS sits above the byte counts, so they count what crosses the socket.
    let server: BoxFuture<std::io::Result<()>> = match &tls {
        Some(tls) => Box::pin(
            axum::serve(tls.listener(listener), app)
                .with_graceful_shutdown(stop)
                .into_future(),
        ),
        None => Box::pin(
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .into_future(),
        ),
    };
    tokio::select! {
        served = server => served,
        () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
            warn!(seconds = grace.as_secs(), "shutdown grace period over; dropping remaining connections");
            Ok(())
        }
    }
}

/// Serves `GET /metrics` on `addr`, a listener of its own, for the process's life.
async fn serve_metrics(
    addr: SocketAddr,
    metrics: metrics::Metrics,
    hub: Hub,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?;
    info!(addr = %listener.local_addr()?, "metrics listening");
    let scrape = move || {
        let now = metrics::Snapshot {
            connections: hub.connections(),
            rooms: hub.room_count(),
            redis_up: hub.cluster().map(cluster::Cluster::is_up),
            webhooks: hub.webhook_health(),
        };
        let text = metrics.render(now);
        async move {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4",
                )],
                text,
            )
        }
    };
    let app = Router::new().route("/metrics", get(scrape));
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            warn!(%err, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// The page, the dashboard (with the server API), `/healthz` and the site's files.
fn router(options: LeptosOptions, list_directories: bool, hub: Hub, admin: bool) -> Router {
    let site_root = std::path::PathBuf::from(options.site_root.as_ref());
    let mut router = Router::new();
    if admin {
        let options = options.clone();
        let dashboard =
            leptos_axum::render_app_to_stream(move || crate::app::admin_shell(options.clone()));
        router = router.route(crate::app::ADMIN_PATH, get(dashboard));
    }
    let page = leptos_axum::render_app_to_stream(move || crate::app::shell(options.clone()));
    let router = router
        .route("/", get(page))
        .route("/healthz", get(health::healthz).with_state(hub))
        .fallback_service(static_files::service(site_root, list_directories));
    security::headers(router)
}

/// Leptos's settings, derived from ours rather than from environment variables, so the binary
/// runs with no extra environment.
fn leptos_options(config: &Config, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(crate::app::OUTPUT_NAME)
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir(crate::app::PKG_DIR)
        .site_addr(addr)
        .build()
}
