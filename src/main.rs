//! `signalroom`: parses settings, starts logging and the runtime, serves until Ctrl-C or
//! SIGTERM; `signalroom token` prints a join token instead, `signalroom healthcheck` asks a
//! running server whether it is healthy.

use std::process::ExitCode;

use clap::Parser;
use signalroom::server::config::Command;
use signalroom::server::{self, health_command, logging, token_command, Config};
use tokio::net::TcpListener;

/// The static musl build (the container image) allocates with mimalloc: musl's own allocator
/// serialises threads on one lock and is several times slower under load.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A failure to start (or to keep serving) is one line on stderr and exit status 1.
fn main() -> ExitCode {
    let config = Config::parse();
    let done = match &config.command {
        Some(Command::Token(args)) => token_command::print(&config, args),
        Some(Command::Healthcheck) => health_command::run(&config),
        None => serve(config),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("signalroom: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let _log_guard = logging::init(&logging::LogSettings {
        filter: &config.log_level,
        file: &config.log_file,
        format: config.log_format,
        rotation: config.log_rotation,
        keep: config.log_keep as usize,
    })?;
    // One thread: the current-thread scheduler, which runs everything on this thread, where a
    // one-worker pool would still hand tasks between this thread and its worker.
    let mut runtime = match config.threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.thread_name(server::THREAD_NAME);
    if config.threads > 1 {
        runtime.worker_threads(config.threads.into());
    }
    runtime.enable_all().build()?.block_on(async {
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.addr))?;
        server::run(listener, config, shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
