//! Tracing set-up, done once per process. The writer is a parameter so tests can silence logs or
//! capture them (to check that no API key ever reaches them).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs a global fmt subscriber filtered by `RUST_LOG` (default `default_filter`).
/// Calling it twice is harmless: the second call leaves the first subscriber in place.
pub fn init<W>(default_filter: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
