//! `lobby-server`: the Lobby REST server (Rocket.Chat-compatible livechat inquiries API).

// glibc's malloc was about a quarter of the CPU profile of a server under list load; the HTTP
// benchmark compares the two (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use lobby_core::{
    AbandonedRoomsAction, Actor, AgentLeave, AgentLeaveAction, NewUser, QueueOrder, RetentionAction, RetentionAge,
    RetentionPolicy, Role, RoutingConfig, RoutingMethod, RoutingRules, TimerConfig,
};
use lobby_server::live::LiveConfig;
use lobby_server::security::{CorsOrigin, FailureLimit, LoginLimits, SecurityConfig};
use lobby_server::stores::StoreSpec;
use lobby_server::{demo, AppState, PasswordCost, ServerConfig};

#[derive(Debug, Parser)]
#[command(name = "lobby-server", version, about = "Lobby: a Rocket.Chat-compatible livechat inquiry routing server")]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// Directory of the embedded (sled) store.
    #[arg(long, global = true, default_value = "./lobby-data")]
    data_dir: PathBuf,
    /// Store: `sled` (embedded, in --data-dir), `memory` (nothing persists), or a
    /// `postgres://…` URL.
    #[arg(long, global = true, default_value = "sled", value_name = "sled|memory|postgres://…")]
    store: String,
    /// The most memory sled's page cache may use, in MiB (sled's default, 1024). The index of
    /// every inquiry is held in addition.
    #[arg(long, global = true, default_value_t = lobby_sled::SledConfig::DEFAULT_CACHE_MB, value_name = "MiB", value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    cache_mb: u64,
    /// How waiting conversations reach agents.
    #[arg(long, value_enum, default_value_t = Routing::Manual)]
    routing: Routing,
    /// The order waiting conversations are served in.
    #[arg(long, value_enum, default_value_t = Order::Timestamp)]
    queue_order: Order,
    /// Global per-agent limit of simultaneous conversations (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    max_chats_per_agent: u32,
    /// Routing rules for the public queue and every department without its own, as the
    /// department field `routingRules` takes them:
    /// `[{"expression": "skills HAS task.topic", "timeout": 60}, …]` (see docs/routing.md).
    #[arg(long, value_name = "JSON", value_parser = routing_rules)]
    routing_rules: Option<RoutingRules>,
    /// Refuse new conversations (`no-agent-online`) while no agent is available.
    #[arg(long)]
    require_available_agent: bool,
    /// Seconds an agent has to write after being given a conversation before it moves on to
    /// another agent, or back to the queue (Rocket.Chat's `Livechat_auto_transfer_chat_timeout`,
    /// in seconds); 0 = off.
    #[arg(long, default_value_t = 0, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    auto_transfer_timeout: u64,
    /// How many times auto-transfer moves one conversation; the next time it fires, the
    /// conversation waits in the queue for someone to take it by hand.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1000))]
    auto_transfer_max_hops: u32,
    /// Seconds a conversation may wait, counted from when it first queued, before it moves to its
    /// department's fallback or closes (Rocket.Chat's `Livechat_max_queue_wait_time`, which is in
    /// minutes); 0 = off.
    #[arg(long, default_value_t = 0, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    max_queue_wait: u64,
    /// What happens to the conversations of an agent who goes away (not available, or offline)
    /// and stays away `--agent-leave-timeout` (Rocket.Chat's `Livechat_agent_leave_action`).
    #[arg(long, value_enum, default_value_t = LeaveAction::None)]
    agent_leave_action: LeaveAction,
    /// Seconds an agent must stay away first (Rocket.Chat's `Livechat_agent_leave_action_timeout`).
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    agent_leave_timeout: u64,
    /// Offer mode: automatic routing offers each conversation to one agent for this many
    /// seconds; the agent accepts (`inquiries.acceptOffer` or `inquiries.take`) or rejects
    /// (`inquiries.rejectOffer`), and a lapsed offer goes to the next agent. 0 = assign directly,
    /// as Rocket.Chat does.
    #[arg(long, default_value_t = 0, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    offer_timeout: u64,
    /// In offer mode, an agent who lets this many offers in a row lapse is set not-available;
    /// 0 = never.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1000))]
    missed_offers_before_away: u32,
    /// Seconds a conversation may stay on hold before it closes (Rocket.Chat's
    /// `Livechat_auto_close_on_hold_chats_timeout`); 0 = off.
    #[arg(long, default_value_t = 0, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    on_hold_auto_close_timeout: u64,
    /// What happens when the visitor does not answer the agent within
    /// `--visitor-inactivity-timeout` (Rocket.Chat's `Livechat_abandoned_rooms_action`).
    #[arg(long, value_enum, default_value_t = AbandonedAction::None)]
    abandoned_rooms_action: AbandonedAction,
    /// Seconds the visitor has to answer the agent's last message (Rocket.Chat's
    /// `Livechat_visitor_inactivity_timeout`, default 3600); 0 = off.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    visitor_inactivity_timeout: u64,
    /// How often the background dispatcher runs, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..))]
    dispatch_interval_ms: u64,
    /// How long closed conversations stay in the hot set (listings, totals, the event feed)
    /// after their last change: `30d`, `12h`, `90m`, `3600s`; 0 keeps them forever. Old events
    /// about no open conversation leave too. See "Retention" in docs/operations.md.
    #[arg(long, default_value = "0", value_name = "AGE")]
    retention: RetentionAge,
    /// What retention does with what leaves: `archive` keeps it readable by getOne, history and
    /// export; `delete` removes it for good.
    #[arg(long, value_enum, default_value_t = RetentionChoice::Archive)]
    retention_action: RetentionChoice,
    /// Failed logins in a row that block a user (Rocket.Chat's
    /// `Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User`); 0 = never block.
    #[arg(long, default_value_t = 10, value_name = "N")]
    login_block_user_after: u32,
    /// Minutes a blocked user stays blocked, from the last failure.
    #[arg(long, default_value_t = 5, value_name = "MINUTES", value_parser = clap::value_parser!(u64).range(1..=1440))]
    login_block_user_minutes: u64,
    /// Failed logins in a row that block a client address (Rocket.Chat's
    /// `Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip`); 0 = never block.
    #[arg(long, default_value_t = 50, value_name = "N")]
    login_block_ip_after: u32,
    /// Minutes a blocked address stays blocked, from the last failure.
    #[arg(long, default_value_t = 5, value_name = "MINUTES", value_parser = clap::value_parser!(u64).range(1..=1440))]
    login_block_ip_minutes: u64,
    /// Days a login token works after sign-in (Rocket.Chat's `Accounts_LoginExpiration`);
    /// 0 = tokens never expire.
    #[arg(long, default_value_t = 90, value_name = "DAYS", value_parser = clap::value_parser!(u64).range(0..=3650))]
    login_expiration_days: u64,
    /// A browser origin allowed to call the API (`https://app.example.com`, or `*`); repeat for
    /// several. Without it, CORS is off.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<CorsOrigin>,
    /// Reverse proxies in front of the server that append the client's address to
    /// `X-Forwarded-For`; the login limits count that address. 0 = use the TCP peer.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=16))]
    trusted_proxy_hops: u64,
    /// Seed demo data and print the console's address, the logins and ready-to-paste curl
    /// commands.
    #[arg(long)]
    demo: bool,
    /// With --demo: simulated visitors arriving per minute (0 = none).
    #[arg(long, default_value_t = 3, value_name = "PER-MINUTE", value_parser = clap::value_parser!(u32).range(0..=600))]
    demo_traffic: u32,
    /// Takes within this many seconds meet the service level in `inquiries.stats` (default 20).
    #[arg(long, default_value_t = 20, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    service_level: u64,
    /// Hash passwords with minimal argon2 cost. Only for tests and throwaway demos.
    #[arg(long, hide = true, global = true)]
    insecure_fast_password_hashing: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a user in the store (run it while the server is stopped when using sled).
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// Comma-separated roles, e.g. `admin,livechat-agent`.
        #[arg(long, value_delimiter = ',', default_value = "user")]
        roles: Vec<String>,
    },
    #[command(flatten)]
    Data(DataCommand),
}

/// The commands on the store's data (`lobby-server export|import|migrate|check`).
#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Write every record and event of the store (`--store`) to a dump file (JSON Lines; zstd
    /// when FILE ends in `.zst`). On sled, stop the server first; PostgreSQL is read in one
    /// snapshot while servers run.
    Export {
        /// The dump file to write (`backup.jsonl` or `backup.jsonl.zst`).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Restore a dump into the store (`--store`): all of it in one commit, or nothing.
    Import {
        /// The dump file to read.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Import into a store that is not empty: its records are replaced by the dump's (in the
        /// same commit); its events stay, and the dump's are numbered after them.
        #[arg(long)]
        force: bool,
    },
    /// Move everything from one store to another, then check that the target holds the same
    /// records and events (counts and a checksum of every record).
    Migrate {
        /// The store to read: `sled:PATH`, `sled` (--data-dir), or `postgres://…[?schema=NAME]`.
        #[arg(long, value_name = "STORE")]
        from: String,
        /// The store to write, in the same syntax; must be empty unless --force.
        #[arg(long, value_name = "STORE")]
        to: String,
        /// Write into a target that is not empty (as `import --force`).
        #[arg(long)]
        force: bool,
    },
    /// Run the store's integrity check (`--store`); exit 1 and list the problems if any.
    Check,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Routing {
    /// Agents take conversations themselves (Rocket.Chat's Manual_Selection).
    Manual,
    /// Round robin (Auto_Selection).
    Auto,
    /// Fewest active conversations (Load_Balancing).
    LoadBalancing,
    /// Longest since last routed (Load_Rotation).
    LoadRotation,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RetentionChoice {
    /// Move to the store's archive.
    Archive,
    /// Delete.
    Delete,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AbandonedAction {
    /// Leave the conversation open.
    None,
    /// Close it.
    Close,
    /// Put it on hold, freeing the agent's slot.
    OnHold,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LeaveAction {
    /// Leave them with the agent.
    None,
    /// Route each to another agent, or back to the queue.
    Forward,
    /// Close each.
    Close,
}

/// The longest timeout accepted: anything longer is a typo (30 days).
const MAX_TIMEOUT_SECONDS: u64 = 30 * 24 * 3600;

/// A timeout in whole seconds, 0 to 30 days.
fn seconds(text: &str) -> Result<u64, String> {
    let value: i64 = text.trim().parse().map_err(|_| format!("{text:?} is not a whole number of seconds"))?;
    let value = u64::try_from(value).map_err(|_| "a timeout cannot be negative".to_owned())?;
    if value > MAX_TIMEOUT_SECONDS {
        return Err(format!("at most {MAX_TIMEOUT_SECONDS} seconds (30 days)"));
    }
    Ok(value)
}

fn optional_seconds(seconds: u64) -> Option<Duration> {
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Order {
    Timestamp,
    Priority,
    Sla,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(std::env::var("RUST_LOG").ok().as_deref()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut cli = Cli::parse();
    let outcome = match cli.command.take() {
        Some(Command::Data(command)) => data::run(&cli, command),
        command => {
            cli.command = command;
            run(cli).map(|()| ExitCode::SUCCESS)
        }
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("lobby-server: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The data commands: export, import, migrate, check.
mod data {
    use std::process::ExitCode;

    use lobby_server::dump::{self, DumpError, ExportOptions, Progress, Source, TargetPolicy};
    use lobby_server::stores::StoreSpec;

    use super::{Cli, DataCommand};

    pub fn run(cli: &Cli, command: DataCommand) -> Result<ExitCode, String> {
        let spec = |text: &str| {
            StoreSpec::parse(text, &cli.data_dir)
                .map(|spec| spec.with_sled_cache_mb(cli.cache_mb))
                .map_err(|e| e.to_string())
        };
        let open = |spec: &StoreSpec| spec.open_store().map_err(|e| e.to_string());
        let progress = Progress::on_terminal();
        let policy = |force: bool| if force { TargetPolicy::Replace } else { TargetPolicy::MustBeEmpty };
        match command {
            DataCommand::Export { to, force } => {
                let spec = spec(&cli.store)?;
                let store = open(&spec)?;
                let options = ExportOptions { overwrite: force };
                let summary = dump::export_file(Source::of(&store), &to, options, &progress)
                    .map_err(|e| format!("export failed: {e}"))?;
                println!("exported {} to {}: {summary}", spec.describe(), to.display());
            }
            DataCommand::Import { from, force } => {
                let spec = spec(&cli.store)?;
                let loaded = dump::read_file(&from, &progress)
                    .map_err(|e| format!("{}: {e}; nothing was imported", from.display()))?;
                let store = open(&spec)?;
                let imported = dump::import(loaded, &*store.store(), policy(force), &progress)
                    .map_err(|e| written_or_not(&e, "import"))?;
                println!("imported {} into {}: {}", from.display(), spec.describe(), imported.dump);
                if imported.replaced > 0 {
                    println!("replaced the {} records the store held before (--force)", imported.replaced);
                }
                if imported.renumbered {
                    println!("the dump's events had gaps (retention deleted some): they are numbered 1, 2, 3, … here");
                }
            }
            DataCommand::Migrate { from, to, force } => {
                let (from, to) = (spec(&from)?, spec(&to)?);
                if from == to {
                    return Err(format!("--from and --to are the same store ({})", from.describe()));
                }
                let (source, target) = (open(&from)?, open(&to)?);
                let report = dump::migrate(Source::of(&source), Source::of(&target), policy(force), &progress)
                    .map_err(|e| written_or_not(&e, "migration"))?;
                println!("migrated {} to {}: {}", from.describe(), to.describe(), report.source);
                println!(
                    "verified: the target holds the same {} records, each with the same checksum, and the same {} events{}",
                    report.source.record_count(),
                    report.source.events,
                    if report.replaced > 0 {
                        format!(" (after them; {} records it held before were replaced)", report.replaced)
                    } else {
                        String::new()
                    }
                );
            }
            DataCommand::Check => {
                let spec = spec(&cli.store)?;
                let store = open(&spec)?;
                let report = store.store().check_integrity().map_err(|e| format!("the check could not run: {e}"))?;
                println!("{}: {report}", spec.describe());
                if !report.is_healthy() {
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Whether the target was left as it was: every failure but a failed verification comes
    /// before or inside the single commit.
    fn written_or_not(error: &DumpError, what: &str) -> String {
        match error {
            DumpError::Verify(_) | DumpError::ArchiveFailed { .. } => format!("{what} written, but {error}"),
            _ => format!("{what} failed, the target is unchanged: {error}"),
        }
    }
}

/// `RUST_LOG` (default `info`), except that `tokio_postgres` stays at `info` unless named:
/// at `debug` it logs every statement's parameters, which hold token and password hashes.
fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::EnvFilter {
    let spec = rust_log.filter(|s| !s.trim().is_empty()).unwrap_or("info");
    let filter =
        tracing_subscriber::EnvFilter::try_new(spec).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if spec.contains("tokio_postgres") {
        return filter;
    }
    match "tokio_postgres=info".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// `--routing-rules`: a JSON array of targets, each expression compiled (a malformed one is
/// refused with its position, before the server starts).
fn routing_rules(text: &str) -> Result<RoutingRules, String> {
    serde_json::from_str(text).map_err(|error| error.to_string())
}

fn run(cli: Cli) -> Result<(), String> {
    let spec = StoreSpec::parse(&cli.store, &cli.data_dir).map_err(|e| e.to_string())?.with_sled_cache_mb(cli.cache_mb);
    let store = spec.open().map_err(|e| e.to_string())?;
    let config = ServerConfig {
        routing: RoutingConfig {
            method: match cli.routing {
                Routing::Manual => RoutingMethod::ManualSelection,
                Routing::Auto => RoutingMethod::AutoSelection,
                Routing::LoadBalancing => RoutingMethod::LoadBalancing,
                Routing::LoadRotation => RoutingMethod::LoadRotation,
            },
            queue_order: match cli.queue_order {
                Order::Timestamp => QueueOrder::Timestamp,
                Order::Priority => QueueOrder::Priority,
                Order::Sla => QueueOrder::Sla,
            },
            max_chats_per_agent: cli.max_chats_per_agent,
            queue_without_agents: !cli.require_available_agent,
            rules: cli.routing_rules.unwrap_or_default(),
            ..RoutingConfig::default()
        },
        timers: TimerConfig {
            auto_transfer: optional_seconds(cli.auto_transfer_timeout),
            auto_transfer_max_hops: cli.auto_transfer_max_hops,
            max_queue_wait: optional_seconds(cli.max_queue_wait),
            agent_leave: AgentLeave {
                action: match cli.agent_leave_action {
                    LeaveAction::None => AgentLeaveAction::None,
                    LeaveAction::Forward => AgentLeaveAction::Forward,
                    LeaveAction::Close => AgentLeaveAction::Close,
                },
                timeout: Duration::from_secs(cli.agent_leave_timeout),
            },
            offer_timeout: optional_seconds(cli.offer_timeout),
            missed_offers_before_away: cli.missed_offers_before_away,
            on_hold_auto_close: optional_seconds(cli.on_hold_auto_close_timeout),
            abandoned_rooms: match cli.abandoned_rooms_action {
                AbandonedAction::None => AbandonedRoomsAction::None,
                AbandonedAction::Close => AbandonedRoomsAction::Close,
                AbandonedAction::OnHold => AbandonedRoomsAction::OnHold,
            },
            visitor_inactivity: optional_seconds(cli.visitor_inactivity_timeout),
        },
        dispatch_interval: Duration::from_millis(cli.dispatch_interval_ms),
        retention: RetentionPolicy {
            age: cli.retention,
            action: match cli.retention_action {
                RetentionChoice::Archive => RetentionAction::Archive,
                RetentionChoice::Delete => RetentionAction::Delete,
            },
            ..RetentionPolicy::default()
        },
        password_cost: if cli.insecure_fast_password_hashing { PasswordCost::Fast } else { PasswordCost::Standard },
        live: LiveConfig { service_level: Duration::from_secs(cli.service_level), ..LiveConfig::default() },
        security: SecurityConfig {
            login_limits: LoginLimits {
                by_user: FailureLimit {
                    failures: cli.login_block_user_after,
                    block_for: Duration::from_secs(cli.login_block_user_minutes * 60),
                },
                by_address: FailureLimit {
                    failures: cli.login_block_ip_after,
                    block_for: Duration::from_secs(cli.login_block_ip_minutes * 60),
                },
            },
            token_lifetime: (cli.login_expiration_days > 0)
                .then(|| Duration::from_secs(cli.login_expiration_days * 24 * 3600)),
            cors_origins: cli.cors_origins.clone(),
            trusted_proxy_hops: usize::try_from(cli.trusted_proxy_hops).unwrap_or(0),
        },
        ..ServerConfig::default()
    };
    let state = AppState::new(store, config);
    let result = match cli.command {
        Some(Command::CreateUser { username, password, name, email, roles }) => {
            create_user(&state, username, password, name, email, roles)
        }
        None => serve(&state, cli.bind, cli.demo.then_some(cli.demo_traffic)),
        Some(Command::Data(_)) => unreachable!("main runs the data commands without a server"),
    };
    state.flush().map_err(|error| format!("flushing the store failed: {error}"))?;
    result
}

fn create_user(
    state: &AppState,
    username: String,
    password: String,
    name: String,
    email: String,
    roles: Vec<String>,
) -> Result<(), String> {
    if password.is_empty() {
        return Err("--password must not be empty".into());
    }
    let roles = roles
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .map(Role::new)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let new = NewUser {
        username,
        name,
        email: Some(email),
        password_hash: Some(state.passwords().hash(&password)),
        roles,
        active: true,
    };
    let engine = state.engine();
    let created = engine.create_user(&Actor::System, new).and_then(|user| Ok((engine.agent(&user.id)?, user)));
    let (agent, user) = created.map_err(|e| format!("{e} [{}]", e.code()))?;
    let roles: Vec<&str> = user.roles.iter().map(Role::as_str).collect();
    println!(
        "created user {} (id {}, roles {}){}",
        user.username,
        user.id,
        roles.join(","),
        if agent.is_some() { ", available as an agent" } else { "" }
    );
    Ok(())
}

/// Serves until SIGINT/SIGTERM; `demo` is `Some(visitors per minute)` with `--demo`.
fn serve(state: &AppState, bind: SocketAddr, demo: Option<u32>) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let listener =
        runtime.block_on(tokio::net::TcpListener::bind(bind)).map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base_url = format!("http://{}", reachable(addr));
    let (stop_traffic, traffic_stopped) = tokio::sync::watch::channel(false);
    if let Some(per_minute) = demo {
        let info = demo::seed(state).map_err(|e| format!("seeding the demo failed: {e} [{}]", e.code()))?;
        print!("{}", demo::instructions(&info, &base_url, state.store_description(), per_minute));
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        runtime.spawn(demo::traffic(state.clone(), per_minute, traffic_stopped));
    }
    tracing::info!(%addr, store = state.store_description(), "listening");
    let served = runtime.block_on(lobby_server::serve(listener, state.clone(), lobby_server::shutdown_signal()));
    let _ = stop_traffic.send(true);
    // Blocking calls still running (a client that hung up mid-request) finish before we flush.
    runtime.shutdown_timeout(Duration::from_secs(10));
    served.map_err(|e| format!("server error: {e}"))
}

/// The address clients can use: a wildcard bind is reached through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port()),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::routing_rules;

    #[test]
    fn routing_rules_flag_compiles_each_expression_or_says_where_it_is_wrong() {
        let rules =
            routing_rules(r#"[{"expression": "skills HAS task.topic", "timeout": 60}, {"expression": "1 == 1"}]"#)
                .expect("valid rules");
        assert_eq!(rules.targets().len(), 2);
        let error = routing_rules(r#"[{"expression": "level >= 3 AND AND vip == true"}]"#).unwrap_err();
        assert!(error.contains("unexpected token 'AND' at 15"), "{error}");
        assert!(routing_rules(r#"[{"expression": "1 == 1", "timout": 60}]"#).is_err(), "a misspelt field");
    }
}
