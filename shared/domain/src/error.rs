//! Failure plumbing every layer shares: [`Cause`], the error underneath a failure, kept with
//! its own chain; and [`Report`], a failure printed with every cause, for logs and for the
//! reasons Guildbridge records.
//!
//! A failure's message says what failed, and its [`Error::source`] says why: the message
//! never repeats its source, so a walk of the chain prints each cause once.

use std::{error::Error, fmt, sync::Arc};

/// The error underneath a failure. Shared (`Arc`), so failures stay cheap to clone: a job's
/// outcome, a retry and a recorded reason may all hold the same one.
#[derive(Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync + 'static>);

impl Cause {
    /// The error that caused the failure, with its own chain.
    pub fn new(error: impl Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(error))
    }

    /// A cause known only by its description: a condition Guildbridge noticed itself (a
    /// record that kept changing, a throttled call), with no error value underneath.
    pub fn described(text: impl Into<String>) -> Self {
        Self(Arc::new(Described(text.into())))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// Two causes are the same when they say the same, all the way down (tests compare failures).
impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        Report(self).to_string() == Report(other).to_string()
    }
}

impl Eq for Cause {}

/// A description standing in for an error value.
#[derive(Debug)]
struct Described(String);

impl fmt::Display for Described {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Described {}

/// A failure with every cause in its chain, `what failed: why: why that`. For logs
/// (`tracing::warn!(error = %Report(&error), ...)`) and recorded reasons, where the failure's
/// own message alone would drop the why.
#[derive(Debug)]
pub struct Report<'a>(pub &'a (dyn Error + 'a));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("storage is busy")]
    struct Busy(#[source] Cause);

    #[test]
    fn a_report_prints_each_cause_once_in_order() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out");
        let error = Busy(Cause::new(io));
        assert_eq!(error.to_string(), "storage is busy");
        assert_eq!(Report(&error).to_string(), "storage is busy: connection timed out");
        let described = Busy(Cause::described("throttled"));
        assert_eq!(Report(&described).to_string(), "storage is busy: throttled");
    }

    #[test]
    fn causes_that_say_the_same_are_equal() {
        assert_eq!(Cause::described("throttled"), Cause::described("throttled"));
        assert_ne!(Cause::described("throttled"), Cause::described("unreachable"));
    }
}
