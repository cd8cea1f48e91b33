//! `lobby-sim`: simulate a contact center on the real Lobby engine, compare with Erlang C/A, and
//! replay event logs. Exit status: 0 done, 1 failure (or a replay that differs), 2 bad input.

use std::io::{BufWriter, IsTerminal};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lobby_sim::scenario::{DepartmentFile, DistributionFile, DistributionTable, QueueOrderChoice};
use lobby_sim::{
    plot, replay, simulate, Confidence, Origin, QueueModel, Rate, Routing, RunOptions, ScenarioFile, Seconds, SimError,
};
use serde_json::json;

#[derive(Parser)]
#[command(name = "lobby-sim", version, about = "Contact-center simulator on the real Lobby routing engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a day (or any length) of traffic through the engine.
    Run(Box<RunArgs>),
    /// Erlang C: probability of waiting, average speed of answer and service level of M/M/c.
    ErlangC(ErlangArgs),
    /// Erlang A: Erlang C with exponential patience (abandonment).
    ErlangA(ErlangAArgs),
    /// Re-run a recorded event log against the current engine and report the first difference.
    Replay {
        /// A log written by `lobby-sim run --events`.
        log: String,
    },
}

#[derive(Args)]
struct ModelArgs {
    /// Arrivals, e.g. 200/h, 3/min, 0.05/s.
    #[arg(long, allow_hyphen_values = true)]
    arrival_rate: Option<String>,
    /// Mean handle time, e.g. 180s, 3min.
    #[arg(long, allow_hyphen_values = true)]
    handle_time: Option<String>,
    /// Agents.
    #[arg(long, allow_negative_numbers = true)]
    agents: Option<i64>,
}

#[derive(Args)]
struct ErlangArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Service level counts visitors answered within this wait.
    #[arg(long, default_value = "20s", allow_hyphen_values = true)]
    sl_threshold: String,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<String>,
}

#[derive(Args)]
struct ErlangAArgs {
    #[command(flatten)]
    erlang: ErlangArgs,
    /// Mean patience of waiting visitors (exponential), e.g. 2min.
    #[arg(long, allow_hyphen_values = true)]
    patience: String,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// A TOML or JSON scenario file instead of --arrival-rate/--handle-time/--agents/...
    #[arg(long)]
    scenario: Option<String>,
    /// Handle-time distribution: exponential, lognormal or constant.
    #[arg(long)]
    handle_time_distribution: Option<String>,
    /// Standard deviation of a lognormal handle time, e.g. 2min.
    #[arg(long, allow_hyphen_values = true)]
    handle_time_sd: Option<String>,
    /// Chats one agent serves at once.
    #[arg(long, allow_negative_numbers = true)]
    capacity: Option<i64>,
    /// Patience of waiting visitors: none, or the mean of an exponential, e.g. 2min.
    #[arg(long, allow_hyphen_values = true)]
    patience: Option<String>,
    /// Patience distribution when --patience is a duration: exponential or constant.
    #[arg(long)]
    patience_distribution: Option<String>,
    /// Service level counts visitors answered within this wait [default: 20s].
    #[arg(long, allow_hyphen_values = true)]
    sl_threshold: Option<String>,
    /// Measured hours of arrivals [default: 8].
    #[arg(long, allow_negative_numbers = true)]
    hours: Option<f64>,
    /// Simulated time before measuring, e.g. 30min [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    warm_up: Option<String>,
    /// Seed of the first replication [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Independent replications for the confidence intervals [default: 5].
    #[arg(long, allow_negative_numbers = true)]
    replications: Option<i64>,
    /// manual, auto, load-balancing or load-rotation [default: auto].
    #[arg(long)]
    routing: Option<String>,
    /// timestamp, priority or sla [default: timestamp].
    #[arg(long)]
    queue_order: Option<String>,
    /// Run every listed method on the same arrivals, e.g. manual,auto,load-balancing,load-rotation.
    #[arg(long, value_delimiter = ',')]
    compare_routing: Vec<String>,
    /// Confidence level of the intervals: 95 or 99.
    #[arg(long, default_value_t = 95)]
    confidence: u32,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    json: Option<String>,
    /// Draw queue length and service level over time into this SVG file.
    #[arg(long)]
    plot: Option<String>,
    /// Write the event log (JSON lines) of the first replication to this file.
    #[arg(long)]
    events: Option<String>,
    /// Do not ask the engine for queue positions, so no wait estimates are scored (faster).
    #[arg(long)]
    skip_wait_estimates: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(*args),
        Command::ErlangC(args) => erlang(&args, None),
        Command::ErlangA(args) => erlang(&args.erlang, Some(&args.patience)),
        Command::Replay { log } => replay_command(&log),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("lobby-sim: {error}");
            ExitCode::from(if error.is_bad_input() { 2 } else { 1 })
        }
    }
}

fn erlang(args: &ErlangArgs, patience: Option<&str>) -> Result<ExitCode, SimError> {
    let required =
        |value: &Option<String>, flag: &str| value.clone().ok_or_else(|| SimError::invalid(flag, "is required"));
    let rate = Rate::parse("--arrival-rate", &required(&args.model.arrival_rate, "--arrival-rate")?)?;
    let handle = Seconds::parse("--handle-time", &required(&args.model.handle_time, "--handle-time")?)?;
    let agents = args.model.agents.ok_or_else(|| SimError::invalid("--agents", "is required"))?;
    let agents = u32::try_from(agents)
        .ok()
        .filter(|a| *a >= 1)
        .ok_or_else(|| SimError::invalid("--agents", format!("must be at least 1 (got {agents})")))?;
    let threshold = Seconds::parse("--sl-threshold", &args.sl_threshold)?;
    let model = QueueModel {
        arrival_rate: rate.as_per_second(),
        handle_time: handle.as_secs(),
        agents,
        sl_threshold: threshold.as_secs(),
    };
    let (name, prediction, patience) = match patience {
        None => ("Erlang C", model.erlang_c()?, None),
        Some(text) => {
            let patience = Seconds::parse("--patience", text)?;
            ("Erlang A", model.erlang_a(patience.as_secs())?, Some(patience))
        }
    };
    println!(
        "{name}: {rate} × {handle} on {agents} agents{} ({:.2} Erlangs offered)",
        patience.map_or(String::new(), |p| format!(", mean patience {p}")),
        prediction.offered_load
    );
    println!("{:<30} {:>10.4}", "probability of waiting", prediction.p_wait);
    println!("{:<30} {:>10.2}", "average speed of answer (s)", prediction.asa_seconds);
    println!("{:<30} {:>10.4}", format!("service level ({threshold})"), prediction.service_level);
    println!("{:<30} {:>10.4}", "abandonment rate", prediction.abandonment_rate);
    println!("{:<30} {:>10.4}", "occupancy", prediction.occupancy);
    if let Some(path) = &args.json {
        let value = json!({
            "model": if patience.is_some() { "erlang-a" } else { "erlang-c" },
            "p_wait": prediction.p_wait,
            "asa_seconds": prediction.asa_seconds,
            "service_level": prediction.service_level,
            "abandonment_rate": prediction.abandonment_rate,
            "occupancy": prediction.occupancy,
            "conversations": null,
            "seed": null,
            "offered_load": prediction.offered_load,
            "agents": agents,
            "arrival_rate_per_hour": rate.as_per_hour(),
            "handle_time_seconds": handle.as_secs(),
            "patience_seconds": patience.map(Seconds::as_secs),
            "sl_threshold_seconds": threshold.as_secs(),
        });
        write_json(path, &value)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_json(path: &str, value: &serde_json::Value) -> Result<(), SimError> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialise") + "\n";
    std::fs::write(path, text).map_err(|source| SimError::Io { path: path.to_owned(), source })
}

fn scenario_from_flags(args: &RunArgs) -> Result<ScenarioFile, SimError> {
    if let Some(path) = &args.scenario {
        let flags = [
            ("--arrival-rate", args.model.arrival_rate.is_some()),
            ("--handle-time", args.model.handle_time.is_some()),
            ("--agents", args.model.agents.is_some()),
            ("--handle-time-distribution", args.handle_time_distribution.is_some()),
            ("--handle-time-sd", args.handle_time_sd.is_some()),
            ("--capacity", args.capacity.is_some()),
            ("--patience", args.patience.is_some()),
            ("--patience-distribution", args.patience_distribution.is_some()),
        ];
        if let Some((flag, _)) = flags.iter().find(|(_, given)| *given) {
            return Err(SimError::invalid(
                *flag,
                "describes the model, which --scenario already does: put it in the file",
            ));
        }
        return ScenarioFile::read(path);
    }
    let handle_time = args.model.handle_time.clone().map(|mean| match &args.handle_time_distribution {
        None if args.handle_time_sd.is_none() => DistributionFile::Text(mean),
        distribution => DistributionFile::Table(DistributionTable {
            distribution: distribution.clone().unwrap_or_else(|| "lognormal".into()),
            mean: Some(mean),
            sd: args.handle_time_sd.clone(),
        }),
    });
    let patience = match (&args.patience, &args.patience_distribution) {
        (Some(text), Some(distribution)) if text.trim() != "none" => Some(DistributionFile::Table(DistributionTable {
            distribution: distribution.clone(),
            mean: Some(text.clone()),
            sd: None,
        })),
        (Some(text), _) => Some(DistributionFile::Text(text.clone())),
        (None, Some(_)) => return Err(SimError::invalid("--patience-distribution", "needs --patience <duration>")),
        (None, None) => None,
    };
    let department = DepartmentFile {
        name: "main".into(),
        arrival_rate: Some(
            args.model.arrival_rate.clone().ok_or_else(|| SimError::invalid("--arrival-rate", "is required"))?,
        ),
        handle_time: Some(handle_time.ok_or_else(|| SimError::invalid("--handle-time", "is required"))?),
        patience,
        agents: Some(args.model.agents.ok_or_else(|| SimError::invalid("--agents", "is required"))?),
        capacity: args.capacity,
        ..DepartmentFile::default()
    };
    Ok(ScenarioFile { departments: vec![department], ..ScenarioFile::default() })
}

fn run(args: RunArgs) -> Result<ExitCode, SimError> {
    let mut file = scenario_from_flags(&args)?;
    let origin = if args.scenario.is_some() { Origin::File } else { Origin::Flags };
    // Flags override the file's run settings; check them under their flag names first.
    if let Some(hours) = args.hours {
        if !hours.is_finite() || hours <= 0.0 || hours > 24.0 * 366.0 {
            return Err(SimError::invalid("--hours", format!("must be more than 0 and at most a year (got {hours})")));
        }
        file.hours = Some(hours);
    }
    if let Some(text) = &args.warm_up {
        file.warm_up = Some(Seconds::parse("--warm-up", text)?.to_string());
    }
    if let Some(text) = &args.sl_threshold {
        file.sl_threshold = Some(Seconds::parse("--sl-threshold", text)?.to_string());
    }
    if let Some(text) = &args.routing {
        file.routing = Some(Routing::parse("--routing", text)?.name().to_owned());
    }
    if let Some(text) = &args.queue_order {
        file.queue_order = Some(QueueOrderChoice::parse("--queue-order", text)?.name().to_owned());
    }
    if let Some(replications) = args.replications {
        if !(1..=10_000).contains(&replications) {
            return Err(SimError::invalid("--replications", format!("must be 1 to 10000 (got {replications})")));
        }
        file.replications = Some(replications);
    }
    if let Some(seed) = args.seed {
        file.seed = Some(seed);
    }
    let scenario = file.validate(origin)?;
    let methods =
        args.compare_routing.iter().map(|m| Routing::parse("--compare-routing", m)).collect::<Result<Vec<_>, _>>()?;
    let confidence = match args.confidence {
        95 => Confidence::NinetyFive,
        99 => Confidence::NinetyNine,
        other => return Err(SimError::invalid("--confidence", format!("use 95 or 99 (got {other})"))),
    };
    for (name, ratio) in scenario.load_ratios() {
        let infinite = scenario
            .departments
            .iter()
            .any(|d| d.name == name && d.patience == lobby_sim::scenario::Patience::Infinite);
        if ratio >= 1.0 && infinite {
            eprintln!(
                "lobby-sim: warning: department {name:?} is offered {:.0} % of its staffed capacity and visitors never \
                 give up: its queue grows for the whole run",
                ratio * 100.0
            );
        }
    }
    let event_log = match &args.events {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|source| SimError::Io { path: path.clone(), source })?;
            Some(Box::new(BufWriter::new(file)) as Box<dyn std::io::Write>)
        }
        None => None,
    };
    let bar = progress_bar();
    let mut tick = |share: f64| {
        if let Some(bar) = &bar {
            bar.set_position((share * 1000.0) as u64);
        }
    };
    let report = simulate(
        &scenario,
        RunOptions {
            methods,
            confidence,
            event_log,
            hash_event_log: false,
            sample_every: args.plot.as_ref().map(|_| 60.0),
            progress: Some(&mut tick),
            skip_wait_estimates: args.skip_wait_estimates,
        },
    )?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    print!("{}", report.to_table());
    if let Some(path) = &args.json {
        write_json(path, &report.to_json())?;
    }
    if let Some(path) = &args.plot {
        plot::draw(&report, path)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A bar on stderr when it is a terminal; none when piped or redirected.
fn progress_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr_with_hz(8));
    let style = ProgressStyle::with_template("{bar:40} {percent:>3}% simulated, {elapsed} elapsed, ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

fn replay_command(path: &str) -> Result<ExitCode, SimError> {
    let report = replay::replay_file(path)?;
    match report.difference {
        None => {
            println!(
                "replay: {} lines, {} calls: the current engine decides exactly as recorded",
                report.lines, report.calls
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(difference) => {
            println!("replay: first difference at line {} (after {} calls)", difference.line, report.calls);
            println!("during: {}", difference.call);
            println!("recorded: {}", difference.expected.as_deref().unwrap_or("(nothing: the engine now does more)"));
            println!("now:      {}", difference.actual.as_deref().unwrap_or("(nothing: the engine now does less)"));
            Ok(ExitCode::from(1))
        }
    }
}
