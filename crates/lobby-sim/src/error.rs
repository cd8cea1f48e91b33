//! The simulator's one error type. Bad input names the field it came from (a flag such as
//! `--arrival-rate`, or a path in a scenario file such as `department[0].handle_time.mean`), so the
//! binary can print it and exit with status 2.

use lobby_core::CoreError;

/// Everything that can go wrong while reading a scenario, simulating or replaying.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A value the user gave is impossible or malformed.
    #[error("{field}: {reason}")]
    Invalid {
        /// The flag or scenario-file path that holds the bad value.
        field: String,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// A scenario file could not be parsed at all.
    #[error("{path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (it names the line and the key).
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The engine refused an operation the simulator considered legal: a bug in the simulator's
    /// model of the engine, or a behaviour change in the engine.
    #[error("the engine refused {operation}: {source}")]
    Engine {
        /// What the simulator was doing.
        operation: String,
        /// The engine's error.
        source: CoreError,
    },
    /// The engine's state and the simulator's bookkeeping disagree.
    #[error("simulator and engine disagree: {0}")]
    Inconsistent(String),
    /// An event log that is not one `lobby-sim` wrote.
    #[error("event log line {line}: {reason}")]
    BadLog {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The plot could not be drawn.
    #[error("plot: {0}")]
    Plot(String),
}

impl SimError {
    /// A bad value in `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), reason: reason.into() }
    }

    /// Whether the error is the user's input (exit status 2) rather than a failure (status 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Self::Invalid { .. } | Self::Parse { .. } | Self::BadLog { .. })
    }

    pub(crate) fn engine(operation: impl Into<String>) -> impl FnOnce(CoreError) -> Self {
        let operation = operation.into();
        move |source| Self::Engine { operation, source }
    }
}
