//! # lobby-sim
//!
//! A contact-center simulator that routes with the real [`lobby_core::Engine`]: visitors arrive,
//! wait, give up or are served, and every routing decision is the engine's own, made over a store
//! (the memory store by default, any [`lobby_core::Store`] through [`simulate_with`]) with a virtual
//! clock. It answers a planner's questions — with this routing method, these agents and this
//! traffic, what service level do we reach, how long do visitors wait, how many give up, how
//! evenly is work spread — and checks itself against Erlang C and Erlang A.
//!
//! The types you meet first: a [`ScenarioFile`] (TOML, JSON or flags) validates into a
//! [`Scenario`]; [`simulate`] runs its replications into a [`RunReport`], whose
//! [`Summary`] holds every figure with its confidence interval; [`QueueModel`] gives the theory.
//!
//! ```
//! use lobby_sim::{simulate, Origin, RunOptions, ScenarioFile};
//!
//! let file = ScenarioFile::parse("day.toml", r#"
//!     hours = 1
//!     replications = 2
//!     [[department]]
//!     name = "support"
//!     arrival_rate = "120/h"
//!     handle_time = "3min"
//!     agents = 8
//! "#)?;
//! let scenario = file.validate(Origin::File)?;
//! let report = simulate(&scenario, RunOptions::default())?;
//! let summary = &report.headline().summary;
//! assert!(summary.occupancy.mean > 0.5 && summary.occupancy.mean < 0.95);
//! assert!(summary.service_level.half_width.is_some(), "two replications give an interval");
//! # Ok::<(), lobby_sim::SimError>(())
//! ```
//!
//! ## The model
//!
//! - **Arrivals**: Poisson per department, at a constant rate or one rate per hour (by thinning).
//!   Each conversation draws its handle time and patience when it arrives, from its department's
//!   own random streams, so every routing method sees the same visitors for the same seed.
//! - **Handle time**: exponential, lognormal (given mean and standard deviation) or constant,
//!   counted from the moment an agent has the conversation.
//! - **Patience**: exponential, constant or none. A visitor still waiting when it runs out closes
//!   the conversation itself (`close` as `Actor::Visitor`).
//! - **Agents**: per department, each with a chat limit (`capacity`); shifts add agents for part of
//!   the run. At a shift's end an agent becomes not-available and finishes what it has.
//! - **Routing**: under auto-selection, load-balancing and load-rotation the simulator calls
//!   `dispatch` after every arrival, completion and shift start, and the engine assigns. Under
//!   manual selection `dispatch` only releases conversations, and agents take them: whenever a
//!   department has waiting conversations and agents on shift with a free slot, one free slot is
//!   drawn at random (each equally likely: whoever looks first) and its agent takes the first
//!   conversation of its own `queued_for_user` queue. Agents react instantly.
//! - **Time**: integer milliseconds. Two happenings never share a millisecond (see [`sim`]).
//!
//! Metrics count conversations that arrive after the warm-up; arrivals stop at the end of the
//! run and the simulation continues until every conversation is served or abandoned. Confidence
//! intervals are Student-t intervals over independent replications (none with one replication).
//!
//! ## Determinism and replay
//!
//! The event log ([`driver`]) holds every engine call with its outcome and the events it
//! committed. The engine draws inquiry, user and department ids from `rand::thread_rng`, which no
//! caller can seed, so the log replaces each generated id by a label given in creation order;
//! room ids, visitor ids and tokens are chosen by the simulator. The same scenario and seed then
//! give a byte-identical log, and [`replay`] re-runs one against the current engine.

#![warn(missing_docs)]

pub mod driver;
pub mod erlang;
mod error;
pub mod estimate;
pub mod plot;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod stats;
pub mod units;

pub use erlang::{erlang_b, Prediction, QueueModel};
pub use error::SimError;
pub use report::{simulate, simulate_with, MethodReport, RunOptions, RunReport, Summary, Theory};
pub use scenario::{Origin, Routing, Scenario, ScenarioFile};
pub use sim::{run_replication, Metrics, Replication, ReplicationOptions};
pub use stats::{Confidence, Estimate};
pub use units::{Rate, Seconds};
