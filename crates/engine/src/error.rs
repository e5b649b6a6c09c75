//! The engine's one error type, each variant with its documented exit code.

use benchkeep_core::StoreError;

use crate::{ConfigError, exit_codes};

/// Why the engine could not do what it was asked; each has its documented exit code
/// ([`Error::exit_code`]). Every message names the file, key, flag or benchmark concerned, and
/// never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration or flag is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The request cannot be done as asked (a missing argument, conflicting options, nothing
    /// to measure): a usage error.
    #[error("{0}")]
    Invalid(String),
    /// The gate was asked to judge what nothing measured (a gate metric no benchmark has, a
    /// limit in a unit nothing measured): passing would be earned by nothing.
    #[error("{0}")]
    Unjudged(String),
    /// The store failed.
    #[error("{context}: {source}")]
    Store {
        /// What was being done.
        context: String,
        /// The store's error.
        source: StoreError,
    },
    /// Runs could not be pooled into a baseline.
    #[error(transparent)]
    Pool(#[from] benchkeep_core::baseline::PoolError),
    /// A benchmark's command failed, timed out or could not start.
    #[error("benchmark {benchmark:?}: {source}")]
    Measure {
        /// The benchmark.
        benchmark: String,
        /// The runner's error.
        source: benchkeep_runner::command::RunError,
    },
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A harness's output could not be imported (the error names the file and the line or
    /// field).
    #[error(transparent)]
    Import(#[from] benchkeep_import::ImportError),
    /// A document (a run file, a baseline) is not a complete, readable benchkeep document.
    #[error("{0}")]
    Document(String),
    /// git failed (a worktree for `ab --base-ref`, the merge-base, a git store's history).
    #[error("{0}")]
    Git(String),
    /// Interrupted (Ctrl-C, SIGTERM): nothing was recorded.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// The process exit code for this error. Exhaustive on purpose: a new error must be given
    /// a documented code.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Interrupted => exit_codes::INTERRUPTED,
            Error::Config(_)
            | Error::Invalid(_)
            | Error::Unjudged(_)
            | Error::Store { .. }
            | Error::Pool(_)
            | Error::Measure { .. }
            | Error::Io { .. }
            | Error::Import(_)
            | Error::Document(_)
            | Error::Git(_) => exit_codes::ERROR,
        }
    }

    /// A store error with what was being done.
    pub(crate) fn store(context: impl Into<String>, source: StoreError) -> Self {
        Error::Store {
            context: context.into(),
            source,
        }
    }

    /// A measurement error of `benchmark`; an interruption stays one.
    pub(crate) fn measure(benchmark: &str, source: benchkeep_runner::command::RunError) -> Self {
        match source {
            benchkeep_runner::command::RunError::Interrupted => Error::Interrupted,
            source => Error::Measure {
                benchmark: benchmark.to_owned(),
                source,
            },
        }
    }
}

/// What was being done, added to a lower layer's error (the engine's `anyhow::Context`).
pub(crate) trait Context<T> {
    /// The error with `context`.
    fn context(self, context: impl Into<String>) -> Result<T, Error>;
    /// The error with the context `f` makes (only on failure).
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T, Error>;
}

macro_rules! context_for {
    ($source:ty, $variant:ident) => {
        impl<T> Context<T> for Result<T, $source> {
            fn context(self, context: impl Into<String>) -> Result<T, Error> {
                self.map_err(|source| Error::$variant {
                    context: context.into(),
                    source,
                })
            }
            fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T, Error> {
                self.map_err(|source| Error::$variant {
                    context: f().into(),
                    source,
                })
            }
        }
    };
}

context_for!(StoreError, Store);

/// An engine error with more said about what was being done: the variant (and so the exit
/// code) stays, the message gains `context` in front.
impl<T> Context<T> for Result<T, Error> {
    fn context(self, context: impl Into<String>) -> Result<T, Error> {
        self.map_err(|error| error.within(&context.into()))
    }
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T, Error> {
        self.map_err(|error| error.within(&f().into()))
    }
}

impl Error {
    /// This error, its message led by `what` was being done.
    #[must_use]
    fn within(self, what: &str) -> Self {
        let lead = |text: String| format!("{what}: {text}");
        match self {
            Error::Invalid(text) => Error::Invalid(lead(text)),
            Error::Unjudged(text) => Error::Unjudged(lead(text)),
            Error::Document(text) => Error::Document(lead(text)),
            Error::Git(text) => Error::Git(lead(text)),
            Error::Store { context, source } => Error::Store {
                context: lead(context),
                source,
            },
            Error::Io { context, source } => Error::Io {
                context: lead(context),
                source,
            },
            other @ (Error::Config(_)
            | Error::Pool(_)
            | Error::Measure { .. }
            | Error::Import(_)
            | Error::Interrupted) => other,
        }
    }
}
context_for!(std::io::Error, Io);

/// Returns an [`Error::Invalid`] made by `format!`.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::Error::Invalid(format!($($arg)*)))
    };
}
pub(crate) use bail;
