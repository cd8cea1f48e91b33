//! What to simulate: traffic, staff, routing and the run's length, from a TOML or JSON file or
//! from command-line flags. Both go through [`ScenarioFile`] and one validation, which names the
//! offending flag (`--arrival-rate`) or file path (`department[0].arrival_rate`).
//!
//! A scenario file, in TOML (JSON with the same keys works too):
//!
//! ```toml
//! hours = 8
//! warm_up = "30min"
//! seed = 7
//! replications = 5
//! routing = "load-balancing"     # manual | auto | load-balancing | load-rotation
//! queue_order = "timestamp"      # timestamp | priority | sla
//! sl_threshold = "20s"
//!
//! [[department]]
//! name = "sales"
//! arrival_rate = "200/h"         # or arrival_rates_by_hour = ["120/h", "200/h", ...]
//! handle_time = { distribution = "lognormal", mean = "3min", sd = "2min" }
//! patience = { distribution = "exponential", mean = "2min" }   # or "none"
//! agents = 14
//! capacity = 1
//!
//! [[department.shift]]           # extra agents for part of the run
//! agents = 4
//! start = "2h"
//! end = "6h"
//! ```
//!
//! Sections `skills`, `attributes`, `timers` and `offers` (top level or per department) are
//! reserved for engine features that do not exist yet: they are accepted by the parser and then
//! refused with an error that says so, so that scenarios written for a later version fail loudly
//! instead of silently simulating something else.

use std::collections::BTreeSet;

use lobby_core::{QueueOrder, RoutingMethod};
use serde::{Deserialize, Serialize};

use crate::units::{Rate, Seconds};
use crate::SimError;

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Simulated time during which visitors arrive, after the warm-up.
    pub length: Seconds,
    /// Simulated time before measurement starts; conversations arriving in it are not counted.
    pub warm_up: Seconds,
    /// Seed of the first replication; the others derive theirs from it.
    pub seed: u64,
    /// Independent replications; confidence intervals need at least 2.
    pub replications: u32,
    /// The engine's routing method.
    pub routing: Routing,
    /// The engine's queue order.
    pub queue_order: QueueOrderChoice,
    /// Service level counts conversations answered within this wait.
    pub sl_threshold: Seconds,
    /// At least one.
    pub departments: Vec<DepartmentModel>,
}

/// Traffic and staff of one department.
#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentModel {
    /// Unique within the scenario.
    pub name: String,
    /// When visitors arrive.
    pub arrivals: Arrivals,
    /// How long an agent serves a conversation once it has taken it.
    pub handle_time: HandleTime,
    /// How long a waiting visitor stays before closing the conversation.
    pub patience: Patience,
    /// Agents available for the whole run.
    pub agents: u32,
    /// Conversations one agent serves at once (its chat limit), at least 1.
    pub capacity: u32,
    /// Agents available for part of the run, on top of `agents`.
    pub shifts: Vec<Shift>,
    /// The priority weight of this department's conversations (1 = highest); `None` for unset.
    pub priority: Option<u8>,
    /// SLA minutes of this department's conversations, for the `sla` queue order.
    pub sla_minutes: Option<u64>,
}

/// Poisson arrivals.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrivals {
    /// One rate for the whole run.
    Constant(Rate),
    /// One rate per hour of simulated time (hour 0 starts the run, warm-up included); the list
    /// repeats when the run is longer.
    ByHour(Vec<Rate>),
}

impl Arrivals {
    /// The rate at `at` seconds into the run.
    pub fn rate_at(&self, at: f64) -> f64 {
        match self {
            Self::Constant(rate) => rate.as_per_second(),
            Self::ByHour(rates) => {
                let hour = (at / 3600.0).floor().max(0.0) as usize;
                rates[hour % rates.len()].as_per_second()
            }
        }
    }

    /// The highest rate at any time.
    pub fn peak(&self) -> f64 {
        match self {
            Self::Constant(rate) => rate.as_per_second(),
            Self::ByHour(rates) => rates.iter().map(|r| r.as_per_second()).fold(0.0, f64::max),
        }
    }

    /// The mean rate over `[0, until)` seconds.
    pub fn mean_over(&self, until: f64) -> f64 {
        match self {
            Self::Constant(rate) => rate.as_per_second(),
            Self::ByHour(_) if until <= 0.0 => self.rate_at(0.0),
            Self::ByHour(_) => {
                let hours = (until / 3600.0).ceil() as usize;
                let total: f64 = (0..hours)
                    .map(|h| {
                        let span = (until - h as f64 * 3600.0).min(3600.0);
                        self.rate_at(h as f64 * 3600.0) * span
                    })
                    .sum();
                total / until
            }
        }
    }
}

/// Handle-time distributions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HandleTime {
    /// Memoryless, the M/M/c assumption.
    Exponential {
        /// The mean.
        mean: Seconds,
    },
    /// Right-skewed, as measured chat durations usually are.
    LogNormal {
        /// The mean of the handle time itself (not of its logarithm).
        mean: Seconds,
        /// The standard deviation of the handle time itself.
        sd: Seconds,
    },
    /// Every conversation takes exactly this long.
    Constant {
        /// The handle time.
        value: Seconds,
    },
}

impl HandleTime {
    /// The mean handle time.
    pub fn mean(&self) -> Seconds {
        match *self {
            Self::Exponential { mean } | Self::LogNormal { mean, .. } => mean,
            Self::Constant { value } => value,
        }
    }
}

/// How long a waiting visitor waits before giving up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Patience {
    /// Visitors never give up.
    Infinite,
    /// Exponential patience, the Erlang A assumption.
    Exponential {
        /// The mean.
        mean: Seconds,
    },
    /// Every visitor gives up after exactly this long.
    Constant {
        /// The patience.
        value: Seconds,
    },
}

/// Extra agents for part of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    /// How many agents this shift adds.
    pub agents: u32,
    /// When they become available, from the start of the run (warm-up included).
    pub start: Seconds,
    /// When they stop taking new conversations; they finish the ones they have.
    pub end: Seconds,
}

/// The routing methods the simulator can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Routing {
    /// Agents pick conversations from their queue (see the crate docs for the agent model).
    Manual,
    /// Round robin by conversations ever assigned.
    Auto,
    /// Fewest active conversations.
    LoadBalancing,
    /// Longest since last routed.
    LoadRotation,
}

impl Routing {
    /// Every method, in the order `--compare-routing` prints them.
    pub const ALL: [Routing; 4] = [Self::Manual, Self::Auto, Self::LoadBalancing, Self::LoadRotation];

    /// Parses `manual`, `auto`, `load-balancing` or `load-rotation` (the engine's long names
    /// `manual-selection` and `auto-selection` too).
    pub fn parse(field: &str, text: &str) -> Result<Self, SimError> {
        match text.trim() {
            "manual" | "manual-selection" => Ok(Self::Manual),
            "auto" | "auto-selection" => Ok(Self::Auto),
            "load-balancing" => Ok(Self::LoadBalancing),
            "load-rotation" => Ok(Self::LoadRotation),
            other => Err(SimError::invalid(
                field,
                format!("unknown routing method {other:?}: use manual, auto, load-balancing or load-rotation"),
            )),
        }
    }

    /// The short name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Auto => "auto",
            Self::LoadBalancing => "load-balancing",
            Self::LoadRotation => "load-rotation",
        }
    }

    /// The engine's method.
    pub fn method(self) -> RoutingMethod {
        match self {
            Self::Manual => RoutingMethod::ManualSelection,
            Self::Auto => RoutingMethod::AutoSelection,
            Self::LoadBalancing => RoutingMethod::LoadBalancing,
            Self::LoadRotation => RoutingMethod::LoadRotation,
        }
    }
}

/// The engine's queue orders, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueOrderChoice {
    /// Oldest first.
    Timestamp,
    /// Priority weight first, then oldest.
    Priority,
    /// Smallest SLA first, then oldest.
    Sla,
}

impl QueueOrderChoice {
    /// Parses `timestamp`, `priority` or `sla`.
    pub fn parse(field: &str, text: &str) -> Result<Self, SimError> {
        match text.trim() {
            "timestamp" | "fifo" => Ok(Self::Timestamp),
            "priority" => Ok(Self::Priority),
            "sla" => Ok(Self::Sla),
            other => {
                Err(SimError::invalid(field, format!("unknown queue order {other:?}: use timestamp, priority or sla")))
            }
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Timestamp => "timestamp",
            Self::Priority => "priority",
            Self::Sla => "sla",
        }
    }

    /// The engine's order.
    pub fn order(self) -> QueueOrder {
        match self {
            Self::Timestamp => QueueOrder::Timestamp,
            Self::Priority => QueueOrder::Priority,
            Self::Sla => QueueOrder::Sla,
        }
    }
}

/// A scenario as written: strings with units, optional fields. Flags are turned into one of these
/// too, so both go through the same checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Measured length in hours (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<f64>,
    /// Warm-up duration (default `0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_up: Option<String>,
    /// Seed (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Replications (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replications: Option<i64>,
    /// Routing method name (default `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<String>,
    /// Queue order name (default `timestamp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_order: Option<String>,
    /// Service-level threshold (default `20s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sl_threshold: Option<String>,
    /// The departments.
    #[serde(default, rename = "department")]
    pub departments: Vec<DepartmentFile>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<serde_json::Value>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<serde_json::Value>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timers: Option<serde_json::Value>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offers: Option<serde_json::Value>,
}

/// One department as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentFile {
    /// Unique name.
    pub name: String,
    /// A rate such as `200/h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<String>,
    /// One rate per hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rates_by_hour: Option<Vec<String>>,
    /// A duration (the mean of an exponential) or a distribution table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle_time: Option<DistributionFile>,
    /// `none`, a duration (the mean of an exponential) or a distribution table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<DistributionFile>,
    /// Agents for the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<i64>,
    /// Chats per agent at once (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
    /// Extra agents for part of the run.
    #[serde(default, rename = "shift", skip_serializing_if = "Vec::is_empty")]
    pub shifts: Vec<ShiftFile>,
    /// Priority weight 1 to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// SLA minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_minutes: Option<i64>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<serde_json::Value>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<serde_json::Value>,
}

/// A distribution as written: a bare string, or a table naming it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DistributionFile {
    /// `"180s"` (an exponential with that mean) or `"none"` (patience only).
    Text(String),
    /// `{ distribution = "lognormal", mean = "3min", sd = "2min" }`.
    Table(DistributionTable),
}

/// A named distribution with its parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionTable {
    /// `exponential`, `lognormal`, `constant` or (patience) `none`.
    pub distribution: String,
    /// The mean (or the value, for `constant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<String>,
    /// The standard deviation (`lognormal` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sd: Option<String>,
}

/// A shift as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftFile {
    /// Agents it adds.
    pub agents: i64,
    /// Start, e.g. `2h`.
    pub start: String,
    /// End, e.g. `6h`.
    pub end: String,
}

/// Where the input came from, which decides how fields are named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Command-line flags: `--arrival-rate`.
    Flags,
    /// A scenario file: `department[0].arrival_rate`.
    File,
}

impl Origin {
    fn top(self, key: &str) -> String {
        match self {
            Self::Flags => format!("--{}", key.replace('_', "-")),
            Self::File => key.to_owned(),
        }
    }

    fn department(self, index: usize, key: &str) -> String {
        match self {
            Self::Flags => {
                let flag = match key {
                    "handle_time.mean" => "handle_time",
                    "patience.mean" => "patience",
                    "handle_time.distribution" => "handle_time_distribution",
                    "patience.distribution" => "patience_distribution",
                    "handle_time.sd" => "handle_time_sd",
                    other => other,
                };
                self.top(flag)
            }
            Self::File => format!("department[{index}].{key}"),
        }
    }
}

/// The defaults that flags and files share.
pub const DEFAULT_HOURS: f64 = 8.0;
/// See [`ScenarioFile::replications`].
pub const DEFAULT_REPLICATIONS: u32 = 5;
/// See [`ScenarioFile::sl_threshold`].
pub const DEFAULT_SL_THRESHOLD: &str = "20s";

impl ScenarioFile {
    /// Parses TOML, or JSON when `path` ends in `.json`.
    pub fn parse(path: &str, text: &str) -> Result<Self, SimError> {
        let parse_error = |reason: String| SimError::Parse { path: path.to_owned(), reason };
        if path.ends_with(".json") {
            serde_json::from_str(text).map_err(|e| parse_error(e.to_string()))
        } else {
            toml::from_str(text).map_err(|e| parse_error(e.to_string()))
        }
    }

    /// Reads and parses a scenario file.
    pub fn read(path: &str) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::invalid("--scenario", format!("cannot read {path}: {e}")))?;
        Self::parse(path, &text)
    }

    /// Checks everything and converts to a [`Scenario`].
    pub fn validate(&self, origin: Origin) -> Result<Scenario, SimError> {
        for (key, value) in [
            ("skills", &self.skills),
            ("attributes", &self.attributes),
            ("timers", &self.timers),
            ("offers", &self.offers),
        ] {
            if value.is_some() {
                return Err(reserved(&origin.top(key), key));
            }
        }
        let hours = self.hours.unwrap_or(DEFAULT_HOURS);
        if !hours.is_finite() || hours <= 0.0 || hours > 24.0 * 366.0 {
            return Err(SimError::invalid(
                origin.top("hours"),
                format!("must be more than 0 and at most a year (got {hours})"),
            ));
        }
        let warm_up = match &self.warm_up {
            Some(text) => Seconds::parse(&origin.top("warm_up"), text)?,
            None => Seconds::ZERO,
        };
        let replications = self.replications.unwrap_or(i64::from(DEFAULT_REPLICATIONS));
        if !(1..=10_000).contains(&replications) {
            return Err(SimError::invalid(
                origin.top("replications"),
                format!("must be 1 to 10000 (got {replications})"),
            ));
        }
        let routing = match &self.routing {
            Some(text) => Routing::parse(&origin.top("routing"), text)?,
            None => Routing::Auto,
        };
        let queue_order = match &self.queue_order {
            Some(text) => QueueOrderChoice::parse(&origin.top("queue_order"), text)?,
            None => QueueOrderChoice::Timestamp,
        };
        let sl_threshold =
            Seconds::parse(&origin.top("sl_threshold"), self.sl_threshold.as_deref().unwrap_or(DEFAULT_SL_THRESHOLD))?;
        if self.departments.is_empty() {
            return Err(SimError::invalid(origin.top("department"), "at least one department is needed"));
        }
        let mut names = BTreeSet::new();
        let mut departments = Vec::with_capacity(self.departments.len());
        for (index, department) in self.departments.iter().enumerate() {
            let model = department.validate(origin, index)?;
            if !names.insert(model.name.to_lowercase()) {
                return Err(SimError::invalid(
                    origin.department(index, "name"),
                    format!("{:?} is used by two departments", model.name),
                ));
            }
            departments.push(model);
        }
        Ok(Scenario {
            length: Seconds::new("hours", hours * 3600.0)?,
            warm_up,
            seed: self.seed.unwrap_or(1),
            replications: replications as u32,
            routing,
            queue_order,
            sl_threshold,
            departments,
        })
    }
}

impl DepartmentFile {
    fn validate(&self, origin: Origin, index: usize) -> Result<DepartmentModel, SimError> {
        let field = |key: &str| origin.department(index, key);
        for (key, value) in [("skills", &self.skills), ("attributes", &self.attributes)] {
            if value.is_some() {
                return Err(reserved(&field(key), key));
            }
        }
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(SimError::invalid(field("name"), "must be 1 to 64 characters"));
        }
        let arrivals = match (&self.arrival_rate, &self.arrival_rates_by_hour) {
            (Some(rate), None) => Arrivals::Constant(Rate::parse(&field("arrival_rate"), rate)?),
            (None, Some(rates)) => {
                if rates.is_empty() {
                    return Err(SimError::invalid(field("arrival_rates_by_hour"), "needs at least one rate"));
                }
                let parsed = rates
                    .iter()
                    .enumerate()
                    .map(|(hour, rate)| Rate::parse(&format!("{}[{hour}]", field("arrival_rates_by_hour")), rate))
                    .collect::<Result<Vec<_>, _>>()?;
                Arrivals::ByHour(parsed)
            }
            (Some(_), Some(_)) => {
                return Err(SimError::invalid(
                    field("arrival_rates_by_hour"),
                    "give either arrival_rate or arrival_rates_by_hour, not both",
                ))
            }
            (None, None) => return Err(SimError::invalid(field("arrival_rate"), "is required")),
        };
        let handle_time = match &self.handle_time {
            Some(spec) => handle_time(spec, &field)?,
            None => return Err(SimError::invalid(field("handle_time.mean"), "is required")),
        };
        let patience = match &self.patience {
            Some(spec) => patience(spec, &field)?,
            None => Patience::Infinite,
        };
        let agents = self.agents.unwrap_or(0);
        if !(0..=100_000).contains(&agents) {
            return Err(SimError::invalid(field("agents"), format!("must be 0 to 100000 (got {agents})")));
        }
        let capacity = self.capacity.unwrap_or(1);
        if !(1..=1_000).contains(&capacity) {
            return Err(SimError::invalid(
                field("capacity"),
                format!("must be 1 to 1000 chats at once (got {capacity})"),
            ));
        }
        let mut shifts = Vec::with_capacity(self.shifts.len());
        for (n, shift) in self.shifts.iter().enumerate() {
            let shift_field = |key: &str| format!("{}[{n}].{key}", field("shift"));
            if !(1..=100_000).contains(&shift.agents) {
                return Err(SimError::invalid(
                    shift_field("agents"),
                    format!("must be 1 to 100000 (got {})", shift.agents),
                ));
            }
            let start = Seconds::parse(&shift_field("start"), &shift.start)?;
            let end = Seconds::parse(&shift_field("end"), &shift.end)?;
            if end <= start {
                return Err(SimError::invalid(shift_field("end"), format!("must be after start ({start})")));
            }
            shifts.push(Shift { agents: shift.agents as u32, start, end });
        }
        if arrivals.peak() > 0.0 && agents == 0 && shifts.is_empty() {
            return Err(SimError::invalid(
                field("agents"),
                "visitors arrive but no agent ever serves them: give at least 1 agent or a shift",
            ));
        }
        let priority = match self.priority {
            Some(weight) if (1..=5).contains(&weight) => Some(weight as u8),
            Some(weight) => {
                return Err(SimError::invalid(field("priority"), format!("must be 1 (highest) to 5 (got {weight})")))
            }
            None => None,
        };
        let sla_minutes = match self.sla_minutes {
            Some(minutes) if (0..=9_999_998).contains(&minutes) => Some(minutes as u64),
            Some(minutes) => {
                return Err(SimError::invalid(field("sla_minutes"), format!("must be 0 to 9999998 (got {minutes})")))
            }
            None => None,
        };
        Ok(DepartmentModel {
            name: name.to_owned(),
            arrivals,
            handle_time,
            patience,
            agents: agents as u32,
            capacity: capacity as u32,
            shifts,
            priority,
            sla_minutes,
        })
    }
}

fn reserved(field: &str, key: &str) -> SimError {
    SimError::invalid(
        field,
        format!(
            "{key} are not supported yet: the engine has no {key} feature to route by. The section is reserved \
             so that scenarios can use it once the engine does; remove it to simulate without"
        ),
    )
}

fn handle_time(spec: &DistributionFile, field: &dyn Fn(&str) -> String) -> Result<HandleTime, SimError> {
    let positive = |key: &str, text: &str| -> Result<Seconds, SimError> {
        let value = Seconds::parse(&field(key), text)?;
        if value.as_secs() <= 0.0 {
            return Err(SimError::invalid(field(key), "must be more than 0"));
        }
        Ok(value)
    };
    match spec {
        DistributionFile::Text(text) => Ok(HandleTime::Exponential { mean: positive("handle_time.mean", text)? }),
        DistributionFile::Table(table) => {
            let mean = match &table.mean {
                Some(text) => positive("handle_time.mean", text)?,
                None => return Err(SimError::invalid(field("handle_time.mean"), "is required")),
            };
            let distribution = table.distribution.trim();
            if distribution != "lognormal" && table.sd.is_some() {
                return Err(SimError::invalid(field("handle_time.sd"), "only the lognormal distribution takes sd"));
            }
            match distribution {
                "exponential" => Ok(HandleTime::Exponential { mean }),
                "constant" => Ok(HandleTime::Constant { value: mean }),
                "lognormal" => {
                    let sd = match &table.sd {
                        Some(text) => positive("handle_time.sd", text)?,
                        None => return Err(SimError::invalid(field("handle_time.sd"), "lognormal needs sd")),
                    };
                    Ok(HandleTime::LogNormal { mean, sd })
                }
                other => Err(SimError::invalid(
                    field("handle_time.distribution"),
                    format!("unknown distribution {other:?}: use exponential, lognormal or constant"),
                )),
            }
        }
    }
}

fn patience(spec: &DistributionFile, field: &dyn Fn(&str) -> String) -> Result<Patience, SimError> {
    let duration = |text: &str| Seconds::parse(&field("patience.mean"), text);
    match spec {
        DistributionFile::Text(text) if text.trim() == "none" => Ok(Patience::Infinite),
        DistributionFile::Text(text) => exponential_patience(duration(text)?, field),
        DistributionFile::Table(table) => {
            if table.sd.is_some() {
                return Err(SimError::invalid(field("patience.sd"), "patience distributions take no sd"));
            }
            let mean = || match &table.mean {
                Some(text) => duration(text),
                None => Err(SimError::invalid(field("patience.mean"), "is required")),
            };
            match table.distribution.trim() {
                "none" => Ok(Patience::Infinite),
                "exponential" => exponential_patience(mean()?, field),
                "constant" => Ok(Patience::Constant { value: mean()? }),
                other => Err(SimError::invalid(
                    field("patience.distribution"),
                    format!("unknown distribution {other:?}: use exponential, constant or none"),
                )),
            }
        }
    }
}

fn exponential_patience(mean: Seconds, field: &dyn Fn(&str) -> String) -> Result<Patience, SimError> {
    if mean.as_secs() <= 0.0 {
        return Err(SimError::invalid(field("patience.mean"), "must be more than 0 (use \"none\" for no abandonment)"));
    }
    Ok(Patience::Exponential { mean })
}

impl Scenario {
    /// Offered load over staffed slots, averaged over the run, for each department: above 1 the
    /// queue grows for as long as it lasts (unless visitors abandon).
    pub fn load_ratios(&self) -> Vec<(String, f64)> {
        let total = self.warm_up.as_secs() + self.length.as_secs();
        self.departments
            .iter()
            .map(|d| {
                let offered = d.arrivals.mean_over(total) * d.handle_time.mean().as_secs();
                let staffed_seconds: f64 = f64::from(d.agents) * total
                    + d.shifts
                        .iter()
                        .map(|s| f64::from(s.agents) * (s.end.as_secs().min(total) - s.start.as_secs()).max(0.0))
                        .sum::<f64>();
                let slots = staffed_seconds / total * f64::from(d.capacity);
                (d.name.clone(), if slots > 0.0 { offered / slots } else { f64::INFINITY })
            })
            .collect()
    }

    /// The file form of this scenario, with canonical units (for logs and JSON output).
    pub fn to_file(&self) -> ScenarioFile {
        let departments = self
            .departments
            .iter()
            .map(|d| {
                let (arrival_rate, arrival_rates_by_hour) = match &d.arrivals {
                    Arrivals::Constant(rate) => (Some(rate.to_string()), None),
                    Arrivals::ByHour(rates) => (None, Some(rates.iter().map(Rate::to_string).collect())),
                };
                let handle_time = match d.handle_time {
                    HandleTime::Exponential { mean } => table("exponential", Some(mean), None),
                    HandleTime::LogNormal { mean, sd } => table("lognormal", Some(mean), Some(sd)),
                    HandleTime::Constant { value } => table("constant", Some(value), None),
                };
                let patience = match d.patience {
                    Patience::Infinite => DistributionFile::Text("none".into()),
                    Patience::Exponential { mean } => table("exponential", Some(mean), None),
                    Patience::Constant { value } => table("constant", Some(value), None),
                };
                DepartmentFile {
                    name: d.name.clone(),
                    arrival_rate,
                    arrival_rates_by_hour,
                    handle_time: Some(handle_time),
                    patience: Some(patience),
                    agents: Some(i64::from(d.agents)),
                    capacity: Some(i64::from(d.capacity)),
                    shifts: d
                        .shifts
                        .iter()
                        .map(|s| ShiftFile {
                            agents: i64::from(s.agents),
                            start: s.start.to_string(),
                            end: s.end.to_string(),
                        })
                        .collect(),
                    priority: d.priority.map(i64::from),
                    sla_minutes: d.sla_minutes.map(|m| m as i64),
                    skills: None,
                    attributes: None,
                }
            })
            .collect();
        ScenarioFile {
            hours: Some(self.length.as_secs() / 3600.0),
            warm_up: Some(self.warm_up.to_string()),
            seed: Some(self.seed),
            replications: Some(i64::from(self.replications)),
            routing: Some(self.routing.name().to_owned()),
            queue_order: Some(self.queue_order.name().to_owned()),
            sl_threshold: Some(self.sl_threshold.to_string()),
            departments,
            ..ScenarioFile::default()
        }
    }
}

fn table(distribution: &str, mean: Option<Seconds>, sd: Option<Seconds>) -> DistributionFile {
    DistributionFile::Table(DistributionTable {
        distribution: distribution.to_owned(),
        mean: mean.map(|m| m.to_string()),
        sd: sd.map(|s| s.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(value: f64) -> Seconds {
        Seconds::new("test", value).unwrap()
    }

    const EXAMPLE: &str = r#"
        hours = 8
        warm_up = "30min"
        seed = 7
        routing = "load-balancing"

        [[department]]
        name = "sales"
        arrival_rate = "200/h"
        handle_time = { distribution = "lognormal", mean = "3min", sd = "2min" }
        patience = { distribution = "exponential", mean = "2min" }
        agents = 14

        [[department.shift]]
        agents = 4
        start = "2h"
        end = "6h"

        [[department]]
        name = "support"
        arrival_rates_by_hour = ["60/h", "120/h"]
        handle_time = "5min"
        patience = "none"
        agents = 3
        capacity = 3
    "#;

    #[test]
    fn a_toml_file_becomes_a_scenario() {
        let scenario = ScenarioFile::parse("s.toml", EXAMPLE).unwrap().validate(Origin::File).unwrap();
        assert_eq!(scenario.routing, Routing::LoadBalancing);
        assert_eq!(scenario.warm_up.as_secs(), 1800.0);
        let sales = &scenario.departments[0];
        assert_eq!(sales.handle_time, HandleTime::LogNormal { mean: secs(180.0), sd: secs(120.0) });
        assert_eq!(sales.patience, Patience::Exponential { mean: secs(120.0) });
        assert_eq!(sales.shifts, vec![Shift { agents: 4, start: secs(7200.0), end: secs(21600.0) }]);
        let support = &scenario.departments[1];
        assert_eq!(support.arrivals.rate_at(3700.0) * 3600.0, 120.0);
        assert_eq!(support.arrivals.rate_at(7300.0) * 3600.0, 60.0, "the profile repeats");
        assert_eq!(support.patience, Patience::Infinite);
        assert_eq!(support.capacity, 3);
    }

    #[test]
    fn the_file_form_round_trips_through_json() {
        let scenario = ScenarioFile::parse("s.toml", EXAMPLE).unwrap().validate(Origin::File).unwrap();
        let json = serde_json::to_string(&scenario.to_file()).unwrap();
        let again = ScenarioFile::parse("s.json", &json).unwrap().validate(Origin::File).unwrap();
        assert_eq!(again, scenario);
    }

    fn error_of(text: &str) -> String {
        match ScenarioFile::parse("s.toml", text) {
            Ok(file) => file.validate(Origin::File).unwrap_err().to_string(),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn impossible_scenarios_name_the_field() {
        let base = "[[department]]\nname = \"a\"\nhandle_time = \"3min\"\n";
        let cases = [
            ("arrival_rate = \"-5/h\"\nagents = 1", "department[0].arrival_rate: must not be negative"),
            ("arrival_rate = \"5/h\"\nagents = 0", "department[0].agents: visitors arrive but no agent"),
            ("arrival_rate = \"5/h\"\nagents = -2", "department[0].agents: must be 0 to 100000"),
            ("arrival_rate = \"5/h\"\nagents = 1\ncapacity = 0", "department[0].capacity"),
            (
                "arrival_rate = \"5/h\"\nagents = 1\npatience = { distribution = \"weibull\", mean = \"1min\" }",
                "department[0].patience.distribution: unknown distribution \"weibull\"",
            ),
            (
                "arrival_rate = \"5/h\"\nagents = 1\nskills = [\"fr\"]",
                "department[0].skills: skills are not supported yet",
            ),
        ];
        for (extra, expected) in cases {
            let message = error_of(&format!("{base}{extra}\n"));
            assert!(message.starts_with(expected), "{message}");
        }
        let unknown = error_of(
            "[[department]]\nname = \"a\"\narrival_rate = \"1/h\"\nagents = 1\nhandle_time = { distribution = \"gamma\", mean = \"1s\" }\n",
        );
        assert!(
            unknown.starts_with("department[0].handle_time.distribution: unknown distribution \"gamma\""),
            "{unknown}"
        );
        assert!(error_of("timers = {}\n").starts_with("timers: timers are not supported yet"));
        assert!(error_of("hours = -1\n[[department]]\nname = \"a\"\n").starts_with("hours: "));
        assert!(error_of("typo = 1\n").contains("unknown field `typo`"));
    }

    #[test]
    fn flags_are_named_as_flags() {
        let file = ScenarioFile {
            departments: vec![DepartmentFile {
                name: "main".into(),
                arrival_rate: Some("200/h".into()),
                handle_time: Some(DistributionFile::Table(DistributionTable {
                    distribution: "gamma".into(),
                    mean: Some("3min".into()),
                    sd: None,
                })),
                agents: Some(3),
                ..DepartmentFile::default()
            }],
            ..ScenarioFile::default()
        };
        let message = file.validate(Origin::Flags).unwrap_err().to_string();
        assert!(message.starts_with("--handle-time-distribution: unknown distribution"), "{message}");
    }
}
