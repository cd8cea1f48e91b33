//! # lobby-server
//!
//! A Rocket.Chat-compatible REST server around the Lobby engine: the livechat inquiries API
//! (`inquiries.list`, `.take`, `.getOne`, `.queuedForUser`, `.returnAsInquiry`), sign-in, users,
//! agents, departments and the visitor routes, with Rocket.Chat's envelopes and error strings.
//! Beside the API: the live event stream (`inquiries.stream`, Server-Sent Events that resume
//! from the durable log) and real-time statistics, both fed by [`live::LiveHub`]; Prometheus
//! metrics at `/metrics` ([`metrics`]); and a web console at `/` ([`console`]).
//!
//! The engine and its stores are synchronous; engine calls run on tokio's blocking pool, except
//! on the memory store, where they run inline ([`stores::EngineCalls`]).
//! A background dispatcher releases (or, under an automatic routing method, assigns) queued
//! inquiries every second and right after anything that could let one move, and a timer loop
//! fires each deadline when it comes due ([`timers`]).
//!
//! ```no_run
//! use lobby_server::{stores::StoreHandle, AppState, RunningServer, ServerConfig};
//!
//! let state = AppState::new(StoreHandle::memory(), ServerConfig::default());
//! let server = RunningServer::start(state, "127.0.0.1:0".parse().unwrap()).unwrap();
//! println!("listening on {}", server.url("/api/v1/login"));
//! server.stop().unwrap(); // graceful: finishes in-flight requests, then flushes the store
//! ```

pub mod auth;
pub mod console;
pub mod demo;
pub mod dispatcher;
pub mod dump;
pub mod error;
pub mod input;
pub mod live;
pub mod metrics;
pub mod retention;
pub mod routes;
pub mod security;
pub mod stores;
pub mod timers;
pub mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use lobby_core::{
    Clock, CoreError, Engine, EngineConfig, RetentionPolicy, RoutingConfig, Store, SystemClock, TimerConfig, Timestamp,
};
use tokio::sync::{watch, Notify};
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use crate::auth::{PasswordCost, Passwords};
pub use crate::error::ApiError;
use crate::live::{LiveConfig, LiveHub};
use crate::metrics::MeteredStore;
use crate::security::{LoginGuard, SecurityConfig};
use crate::stores::{EngineCalls, StoreHandle};

/// Largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The store behind the engine; any backend.
pub type SharedStore = Arc<dyn Store>;
/// The engine the server runs.
pub type SharedEngine = Arc<Engine<SharedStore>>;

/// How the server behaves.
#[derive(Clone)]
pub struct ServerConfig {
    /// Routing method, queue order and limits.
    pub routing: RoutingConfig,
    /// Auto-transfer, queue overflow and agent leave (all off by default).
    pub timers: TimerConfig,
    /// How often the dispatcher runs when nothing asks it to.
    pub dispatch_interval: Duration,
    /// How expensive password hashing is.
    pub password_cost: PasswordCost,
    /// Where "now" comes from: the system clock, or a `ManualClock` in tests.
    pub clock: Arc<dyn Clock>,
    /// The event stream and the statistics.
    pub live: LiveConfig,
    /// Login limits, token lifetime, CORS.
    pub security: SecurityConfig,
    /// What leaves the hot set, and when (keeps everything by default).
    pub retention: RetentionPolicy,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("routing", &self.routing)
            .field("timers", &self.timers)
            .field("dispatch_interval", &self.dispatch_interval)
            .field("password_cost", &self.password_cost)
            .field("live", &self.live)
            .field("security", &self.security)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            routing: RoutingConfig::default(),
            timers: TimerConfig::default(),
            dispatch_interval: Duration::from_secs(1),
            password_cost: PasswordCost::Standard,
            clock: Arc::new(SystemClock),
            live: LiveConfig::default(),
            security: SecurityConfig::default(),
            retention: RetentionPolicy::default(),
        }
    }
}

/// What every handler shares: the engine, password hashing, and a way to wake the dispatcher.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    engine: SharedEngine,
    store: StoreHandle,
    live: LiveHub,
    /// Turns true when the server shuts down: streams end, so that connections can close.
    closing: watch::Sender<bool>,
    passwords: Passwords,
    dispatch: Arc<Notify>,
    dispatch_interval: Duration,
    clock: Arc<dyn Clock>,
    security: SecurityConfig,
    login_guard: Arc<LoginGuard>,
    retention: RetentionPolicy,
}

impl AppState {
    /// The state over `store`; starts following its feed for the live views at once.
    pub fn new(store: StoreHandle, config: ServerConfig) -> Self {
        crate::metrics::install();
        let live = LiveHub::start(store.store(), Arc::clone(&config.clock), config.live);
        let engine_config = EngineConfig {
            routing: config.routing,
            timers: config.timers,
            clock: Arc::clone(&config.clock),
            ..EngineConfig::default()
        };
        let metered: SharedStore = Arc::new(MeteredStore::new(store.store()));
        let engine = Arc::new(Engine::with_config(metered, engine_config));
        Self {
            inner: Arc::new(Inner {
                engine,
                store,
                live,
                closing: watch::channel(false).0,
                passwords: Passwords::new(config.password_cost),
                dispatch: Arc::new(Notify::new()),
                dispatch_interval: config.dispatch_interval,
                clock: config.clock,
                login_guard: Arc::new(LoginGuard::new(config.security.login_limits)),
                security: config.security,
                retention: config.retention,
            }),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &SharedEngine {
        &self.inner.engine
    }

    /// The store, for reads the engine does not offer (the event log).
    pub fn store(&self) -> SharedStore {
        self.inner.store.store()
    }

    /// The live views: the stream hub, the present, the recent past.
    pub fn live(&self) -> &LiveHub {
        &self.inner.live
    }

    pub fn passwords(&self) -> &Passwords {
        &self.inner.passwords
    }

    /// Completes when the server starts shutting down (at once if it has).
    pub async fn closing(&self) {
        let mut closing = self.inner.closing.subscribe();
        let _ = closing.wait_for(|closing| *closing).await;
    }

    /// Ends every stream (the server is shutting down).
    pub fn close_streams(&self) {
        self.inner.closing.send_replace(true);
    }

    /// The server's "now" (its injected clock).
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Login limits, token lifetime and CORS, as configured.
    pub fn security(&self) -> &SecurityConfig {
        &self.inner.security
    }

    /// The failed-login counts.
    pub fn login_guard(&self) -> &Arc<LoginGuard> {
        &self.inner.login_guard
    }

    /// Runs a synchronous engine call: on the blocking pool, or inline for a store whose calls
    /// are short and never wait on a disk or the network ([`stores::EngineCalls`]).
    pub async fn run<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Engine<SharedStore>) -> Result<T, CoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_mapped(call, ApiError::from).await
    }

    /// [`AppState::run`], with the engine's error turned into a response by `map` (for routes
    /// whose Rocket.Chat errors differ from the usual ones).
    pub async fn run_mapped<T, F, M>(&self, call: F, map: M) -> Result<T, ApiError>
    where
        F: FnOnce(&Engine<SharedStore>) -> Result<T, CoreError> + Send + 'static,
        T: Send + 'static,
        M: FnOnce(CoreError) -> ApiError,
    {
        let engine = Arc::clone(&self.inner.engine);
        let outcome = match self.inner.store.calls() {
            // A panic becomes a 500, as a panic on the blocking pool does.
            EngineCalls::Inline => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(&engine)))
                .map_err(|_| ApiError::internal("an engine call panicked")),
            EngineCalls::BlockingPool => {
                tokio::task::spawn_blocking(move || call(&engine)).await.map_err(ApiError::internal)
            }
        };
        outcome?.map_err(map)
    }

    /// Runs any blocking work (password hashing) on the blocking pool.
    pub async fn blocking<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)
    }

    /// Asks the dispatcher to run now (a new inquiry, an agent became available, …).
    pub fn request_dispatch(&self) {
        self.inner.dispatch.notify_one();
    }

    /// Makes every acknowledged write durable (a no-op for stores that are durable per commit
    /// or not durable at all).
    pub fn flush(&self) -> Result<(), lobby_core::StoreError> {
        self.inner.store.flush()
    }

    pub fn store_description(&self) -> &str {
        self.inner.store.description()
    }
}

/// The REST API. Unknown routes get a 404 envelope, wrong methods a 405 envelope, bodies over
/// [`BODY_LIMIT`] a 413 envelope; each request is logged once (method, path, status, latency).
/// With CORS origins configured, preflights are answered and allowed origins get CORS headers.
pub fn app(state: AppState) -> Router {
    let cors = security::cors_layer(&state.security().cors_origins);
    let router = routes::router()
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(metrics::track_request))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _span: &Span| {
                    let latency_ms = format!("{:.3}", latency.as_secs_f64() * 1e3);
                    tracing::info!(status = response.status().as_u16(), latency_ms = %latency_ms, "request");
                })
                .on_failure(()),
        )
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// Serves the API on `listener` with the background dispatcher until `shutdown` completes; then
/// stops accepting, lets in-flight requests finish, stops the dispatcher and flushes the store.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_dispatcher, stopped) = watch::channel(false);
    let dispatcher = tokio::spawn(dispatcher::run(
        Arc::clone(state.engine()),
        Arc::clone(&state.inner.dispatch),
        state.inner.dispatch_interval,
        stopped,
    ));
    let timers = tokio::spawn(timers::run(
        Arc::clone(state.engine()),
        Arc::clone(&state.inner.dispatch),
        stop_dispatcher.subscribe(),
    ));
    let upkeep = tokio::spawn(metrics::upkeep(stop_dispatcher.subscribe()));
    let retention =
        tokio::spawn(retention::run(Arc::clone(state.engine()), state.inner.retention, stop_dispatcher.subscribe()));
    let closing = state.clone();
    let shutdown = async move {
        shutdown.await;
        // Streams never finish by themselves; graceful shutdown waits for every connection.
        closing.close_streams();
    };
    let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
    let _ = stop_dispatcher.send(true);
    let _ = dispatcher.await;
    let _ = timers.await;
    let _ = upkeep.await;
    let _ = retention.await;
    let flush_state = state.clone();
    let flushed = tokio::task::spawn_blocking(move || flush_state.flush()).await;
    match flushed {
        Ok(Ok(())) => tracing::info!("store flushed"),
        Ok(Err(error)) => tracing::error!(%error, "store flush failed"),
        Err(error) => tracing::error!(%error, "store flush panicked"),
    }
    served
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// A server on its own thread and runtime: for tests and for embedding in a synchronous program.
pub struct RunningServer {
    addr: SocketAddr,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Binds `bind` (port 0 picks a free port) and starts serving.
    pub fn start(state: AppState, bind: SocketAddr) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(bind))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        let thread = std::thread::Builder::new().name("lobby-server".into()).spawn(move || {
            runtime.block_on(serve(listener, serving, async {
                let _ = stopped.await;
            }))
        })?;
        Ok(Self { addr, state, stop: Some(stop), thread: Some(thread) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Shuts down gracefully and waits for it.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| Err(std::io::Error::other("server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
