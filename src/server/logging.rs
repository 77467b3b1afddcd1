//! Logging like the tutorial's log4js: every line to stdout and to a log file; for operators,
//! JSON lines (`--log-format json`) and a log file that rotates and prunes itself.

use std::io::IsTerminal;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::{fmt, prelude::*, EnvFilter, Layer, Registry};

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// `--log-rotation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogRotation {
    Never,
    Hourly,
    Daily,
}

/// Where and how the log goes.
#[derive(Debug, Clone)]
pub struct LogSettings<'a> {
    pub filter: &'a str,
    /// Empty: no file.
    pub file: &'a str,
    pub format: LogFormat,
    pub rotation: LogRotation,
    /// Files kept with rotation.
    pub keep: usize,
}

/// Installs the global subscriber. Keep the returned guard alive until exit: dropping it flushes
/// the log file.
pub fn init(settings: &LogSettings<'_>) -> anyhow::Result<Option<WorkerGuard>> {
    let filter = EnvFilter::try_new(settings.filter)?;
    let ansi = std::io::stdout().is_terminal() && settings.format == LogFormat::Text;
    let mut layers = vec![formatted(settings.format, ansi, std::io::stdout)];
    let guard = if settings.file.is_empty() {
        None
    } else {
        let (writer, guard) = tracing_appender::non_blocking(open(settings)?);
        layers.push(formatted(settings.format, false, writer));
        Some(guard)
    };
    tracing_subscriber::registry()
        .with(layers.with_filter(filter))
        .try_init()?;
    Ok(guard)
}

/// A layer writing text or JSON lines (one object each, the event's fields at the top level).
fn formatted<W>(format: LogFormat, ansi: bool, writer: W) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = fmt::layer().with_ansi(ansi).with_writer(writer);
    match format {
        LogFormat::Text => layer.boxed(),
        LogFormat::Json => layer.json().flatten_event(true).boxed(),
    }
}

/// The log file: appended to as it is, or rotated beside itself with old files pruned.
fn open(settings: &LogSettings<'_>) -> anyhow::Result<Box<dyn std::io::Write + Send>> {
    let path = Path::new(settings.file);
    let rotation = match settings.rotation {
        LogRotation::Never => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot open log file {}: {e}", path.display()))?;
            return Ok(Box::new(file));
        }
        LogRotation::Hourly => Rotation::HOURLY,
        LogRotation::Daily => Rotation::DAILY,
    };
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("log file {} has no file name", path.display()))?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let appender = RollingFileAppender::builder()
        .rotation(rotation)
        .filename_prefix(name.to_string_lossy())
        .max_log_files(settings.keep)
        .build(directory)
        .map_err(|e| anyhow::anyhow!("cannot open log file {}: {e}", path.display()))?;
    Ok(Box::new(appender))
}
