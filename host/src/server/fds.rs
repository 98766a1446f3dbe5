//! The file-descriptor budget: every `/stream` subscriber holds one descriptor for as long as
//! it is connected, so a subscriber bound above the fd limit is no bound at all. Past the limit
//! `accept` fails, and the agent's publishes wait in the backlog until they time out.
//!
//! At start the soft `RLIMIT_NOFILE` is raised to the hard one (as most servers do; only the
//! hard limit is a policy), and without `--max-subscribers` the bound is the soft limit less a
//! reserve for everything else: API requests, the agent, the log's files, Redis connections,
//! connections that have not sent their request yet.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// The bound when the fd limit is unlimited or cannot be read (the former fixed default).
pub(crate) const DEFAULT_MAX_SUBSCRIBERS: usize = 100_000;
/// Descriptors kept for everything but subscribers: at least this many (or half of a smaller
/// limit)...
const RESERVE_MIN: u64 = 256;
/// ...or this share of the limit (1/10) when that is more.
const RESERVE_DIVISOR: u64 = 10;
/// Highest soft limit asked for when the hard limit is unlimited (Linux's default
/// `fs.nr_open`; asking for more fails).
const UNLIMITED_TARGET: u64 = 1 << 20;

/// Subscribers that fit in a soft fd limit of `soft`, the reserve kept aside.
#[must_use]
pub fn subscriber_bound(soft: u64) -> usize {
    let reserve = (soft / RESERVE_DIVISOR).max(RESERVE_MIN.min(soft / 2));
    usize::try_from(soft.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .max(1)
}

/// What was found and done at start, logged by [`log_report`] once the server is up (its
/// first log line is the address it serves on).
#[derive(Debug)]
enum Event {
    Raised {
        from: u64,
        to: u64,
    },
    NotRaised {
        soft: u64,
        hard: Option<u64>,
        error: rustix::io::Errno,
    },
    Derived {
        max_subscribers: usize,
        fd_limit: u64,
    },
    TooLarge {
        max_subscribers: usize,
        fd_limit: u64,
        fits: usize,
    },
}

static REPORT: std::sync::Mutex<Vec<Event>> = std::sync::Mutex::new(Vec::new());

fn report(e: Event) {
    REPORT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(e);
}

/// Logs what [`max_subscribers`] found and did (once).
pub(crate) fn log_report() {
    let events = std::mem::take(
        &mut *REPORT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for e in events {
        match e {
            Event::Raised { from, to } => {
                tracing::info!(from, to, "raised the soft fd limit (RLIMIT_NOFILE)");
            }
            Event::NotRaised { soft, hard, error } => {
                tracing::warn!(soft, hard = ?hard, %error, "could not raise the soft fd limit");
            }
            Event::Derived {
                max_subscribers,
                fd_limit,
            } => tracing::info!(
                max_subscribers,
                fd_limit,
                "subscriber bound derived from the fd limit"
            ),
            Event::TooLarge {
                max_subscribers,
                fd_limit,
                fits,
            } => tracing::warn!(
                max_subscribers,
                fd_limit,
                fits,
                "--max-subscribers is above what the fd limit holds with a reserve for the API; \
                 past it accepts fail and subscribers are shed to let publishes in"
            ),
        }
    }
}

/// Raises the soft fd limit to the hard one and returns the soft limit in force; `None` when
/// unlimited.
fn raise_nofile() -> Option<u64> {
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    let soft = current?;
    let target = maximum.unwrap_or(UNLIMITED_TARGET).max(soft);
    if target == soft {
        return Some(soft);
    }
    let raised = Rlimit {
        current: Some(target),
        maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            report(Event::Raised {
                from: soft,
                to: target,
            });
            Some(target)
        }
        Err(error) => {
            report(Event::NotRaised {
                soft,
                hard: maximum,
                error,
            });
            Some(soft)
        }
    }
}

/// The subscriber bound for `serve`: `requested` (`--max-subscribers`) when given, with a
/// warning if it does not fit in the fd limit; otherwise derived from the fd limit. Raises the
/// soft fd limit first. What it did is logged once the server is up.
#[must_use]
pub fn max_subscribers(requested: Option<usize>) -> usize {
    let soft = raise_nofile();
    match (requested, soft) {
        (Some(n), Some(soft)) => {
            let fits = subscriber_bound(soft);
            if n > fits {
                report(Event::TooLarge {
                    max_subscribers: n,
                    fd_limit: soft,
                    fits,
                });
            }
            n
        }
        (Some(n), None) => n,
        (None, Some(soft)) => {
            let n = subscriber_bound(soft);
            report(Event::Derived {
                max_subscribers: n,
                fd_limit: soft,
            });
            n
        }
        (None, None) => DEFAULT_MAX_SUBSCRIBERS,
    }
}

#[cfg(test)]
mod tests {
    use super::subscriber_bound;

    #[test]
    fn the_reserve_is_a_tenth_or_256_or_half_a_small_limit() {
        assert_eq!(subscriber_bound(1 << 20), (1 << 20) - (1 << 20) / 10);
        assert_eq!(subscriber_bound(65_536), 65_536 - 6_553);
        assert_eq!(subscriber_bound(1024), 1024 - 256);
        assert_eq!(subscriber_bound(256), 128);
        assert_eq!(subscriber_bound(200), 100);
        assert_eq!(subscriber_bound(1), 1, "never zero");
        assert_eq!(subscriber_bound(u64::MAX), usize::MAX - usize::MAX / 10);
    }
}
