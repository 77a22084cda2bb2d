//! `Application`: opens the store, applies migrations, provisions keys, binds the listener
//! (first, so port 0 works and [`Application::port`] tells tests the real one), then serves the
//! API and runs the scheduler until a shutdown signal.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::limits::AuthFailures;
use crate::api::{self, AppState};
use crate::apikey;
use crate::config::Config;
use crate::model::Role;
use crate::scheduler::alerts::{AlertSettings, run_alerts};
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerError, SchedulerHandle, retention};
use crate::store::{OpenOptions, Store, StoreError};

/// What a server built with a test-only feature (Cargo.toml, `[features]`: a deliberately
/// broken mutant, or crash points) logs at start, so the test using it can tell it has that
/// build and CI can tell the product binary is not one.
pub const MUTANT_BANNER: &str =
    "this is a test build (a deliberate mutant or crash points): never deploy it";

/// Errors that stop the service from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A key supplied in the environment is unusable.
    #[error("{var}: {message}")]
    BadKey {
        /// The variable.
        var: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The scheduler could not start.
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// A built service, ready to run.
pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    scheduler: Option<Arc<Scheduler>>,
    initial_admin_key: Option<String>,
}

/// Opens the file and applies pending migrations: what `serve`, `migrate` and `keys` share.
pub async fn open_and_migrate(config: &Config) -> Result<Store, StoreError> {
    let limits = OpenOptions {
        max_pages: config.max_db_pages,
    };
    let store = Store::open_with(&config.db_path, true, &limits).await?;
    let report = store.migrate().await?;
    if !report.applied.is_empty() {
        tracing::info!(applied = ?report.applied, version = report.current, "migrations applied");
    }
    Ok(store)
}

impl Application {
    /// Opens and migrates the database, provisions keys, binds the listener.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        let store = open_and_migrate(&config).await?;
        let initial_admin_key = provision_keys(&store, &config).await?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: config.listen,
                source,
            })?
            .port();
        let handle = SchedulerHandle::new();
        let scheduler = if config.run_scheduler {
            let scheduler_config = SchedulerConfig {
                max_concurrent_runs: config.max_concurrent_runs,
                shutdown_grace: config.shutdown_grace,
                heartbeat_expiry: config.heartbeat_expiry,
                max_idle: config.scheduler_max_idle,
            };
            Some(Arc::new(
                Scheduler::start(store.clone(), handle.clone(), scheduler_config).await?,
            ))
        } else {
            None
        };
        if config.run_scheduler {
            // Other nodes' changes to jobs wake this loop too (PostgreSQL's LISTEN/NOTIFY).
            let wake = handle.clone();
            store.watch_changes(Arc::new(move || wake.wake()));
        }
        let auth_failures = Arc::new(AuthFailures::new(
            config.auth_failures_per_minute.max(1),
            std::time::Duration::from_secs(60),
        ));
        let state = AppState {
            store,
            config: Arc::new(config),
            scheduler: handle,
            started: Instant::now(),
            auth_failures,
            key_cache: Arc::default(),
        };
        Ok(Application {
            listener,
            port,
            state,
            scheduler,
            initial_admin_key,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin key created on a first start with no keys at all, to be shown once.
    pub fn take_initial_admin_key(&mut self) -> Option<String> {
        self.initial_admin_key.take()
    }

    /// Serves until `shutdown` completes, then stops accepting requests, lets the scheduler
    /// finish or interrupt its runs (within the shutdown grace), and closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let state = self.state.clone();
        let app = api::router(state.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        // The pruner keeps history within the retention policy wherever jobs fire.
        let pruner = self
            .scheduler
            .as_ref()
            .and(state.config.prune_interval)
            .map(|interval| {
                tokio::spawn(retention::run_pruner(
                    state.store.clone(),
                    state.scheduler.clone(),
                    state.config.retention,
                    interval,
                    stop_rx.clone(),
                ))
            });
        // Every process that fires jobs also watches their health and sends alerts.
        let alerts = self.scheduler.as_ref().map(|_| {
            let settings = AlertSettings {
                webhook: state.config.alert_webhook.clone(),
                min_interval: state.config.alert_min_interval,
            };
            tokio::spawn(run_alerts(state.store.clone(), settings, stop_rx.clone()))
        });
        let scheduler = self.scheduler.map(|s| tokio::spawn(s.run(stop_rx.clone())));
        let mut server_stop = stop_rx.clone();
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            })
            .into_future();
        tracing::info!(port = self.port, db = %state.store.location(), "serving");
        if cfg!(any(feature = "mutant-no-advance", feature = "failpoints")) {
            tracing::warn!("{MUTANT_BANNER}");
        }
        let mut server = tokio::spawn(server);
        let served = tokio::select! {
            () = shutdown => {
                let _ = stop_tx.send(true);
                (&mut server).await
            }
            result = &mut server => {
                tracing::error!("HTTP server stopped on its own");
                let _ = stop_tx.send(true);
                result
            }
        };
        if let Some(scheduler) = scheduler
            && let Err(e) = scheduler.await
        {
            tracing::error!(error = %e, "scheduler task failed");
        }
        if let Some(pruner) = pruner
            && let Err(e) = pruner.await
        {
            tracing::error!(error = %e, "pruner task failed");
        }
        if let Some(alerts) = alerts
            && let Err(e) = alerts.await
        {
            tracing::error!(error = %e, "alerts task failed");
        }
        state.store.close().await;
        match served {
            Ok(result) => result.map_err(StartupError::Serve),
            Err(join) => Err(StartupError::Serve(std::io::Error::other(join.to_string()))),
        }
    }
}

/// Provisions the keys from the environment and, on a first start with no key at all, creates
/// an admin key to print once. Returns that key.
async fn provision_keys(store: &Store, config: &Config) -> Result<Option<String>, StartupError> {
    let now = chrono::Utc::now();
    let supplied = [
        (
            "SCHEDLITE_ADMIN_KEY",
            "env-admin",
            Role::Admin,
            &config.provision_admin_key,
        ),
        (
            "SCHEDLITE_MONITOR_KEY",
            "env-monitor",
            Role::Monitor,
            &config.provision_monitor_key,
        ),
    ];
    for (var, name, role, key) in supplied {
        if let Some(key) = key {
            apikey::validate_supplied(key)
                .map_err(|message| StartupError::BadKey { var, message })?;
            if store
                .provision_key(name, role, &apikey::hash(key), now)
                .await?
            {
                tracing::info!(
                    key.name = name,
                    role = role.as_str(),
                    "API key provisioned from the environment"
                );
            }
        }
    }
    // Checked and created in one step: another process starting at the same moment on the same
    // empty database must not create (and print) a second one.
    let key = apikey::generate();
    let created = store
        .create_first_key("admin", Role::Admin, &apikey::hash(&key), now)
        .await?;
    Ok(created.map(|_| key))
}
