//! Errors as the user sees them: plain words naming the file, device or setting, and a
//! documented exit code.

use std::fmt;

/// Documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// An unexpected internal error.
    Internal = 1,
    /// Bad input: a file, a setting or an argument.
    BadInput = 2,
    /// A device failed or disappeared for good.
    Device = 3,
    /// Interrupted (Ctrl-C).
    Interrupted = 130,
}

/// An error with its exit code.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::BadInput,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Internal,
            message: message.into(),
        }
    }
    pub fn device(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Device,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<crate::detect::EngineError> for CliError {
    fn from(e: crate::detect::EngineError) -> Self {
        Self::bad_input(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader went away (e.g. `| head`): not an error worth a message.
            Self {
                exit: Exit::Internal,
                message: String::new(),
            }
        } else {
            Self::internal(format!("writing output failed: {e}"))
        }
    }
}
