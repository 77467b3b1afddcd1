//! Logging like the tutorial's log4js: every line to stdout and to a log file.

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Installs the global subscriber. Keep the returned guard alive until exit: dropping it flushes
/// the log file.
pub fn init(filter: &str, log_file: &str) -> anyhow::Result<Option<WorkerGuard>> {
    let filter = EnvFilter::try_new(filter)?;
    let (file_layer, guard) = if log_file.is_empty() {
        (None, None)
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_file)
            .map_err(|e| anyhow::anyhow!("cannot open log file {}: {e}", log_file))?;
        let (writer, guard) = tracing_appender::non_blocking(file);
        (
            Some(fmt::layer().with_ansi(false).with_writer(writer)),
            Some(guard),
        )
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_ansi(std::io::stdout().is_terminal()))
        .with(file_layer)
        .try_init()?;
    Ok(guard)
}
