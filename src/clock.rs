//! The one source of "now" for the daemon and the simulator.
//!
//! Window planning, the settle delay, the simulator's late rows and (later) the daily token budget
//! all depend on the wall clock. Everything that asks for the time asks a [`Clock`], so tests can
//! freeze and advance it instead of sleeping.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

/// Either the system clock or a manual clock shared by everything cloned from it.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The real wall clock.
    #[default]
    System,
    /// A clock that only moves when told to; clones share the same instant.
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// The real wall clock.
    pub fn system() -> Self {
        Clock::System
    }

    /// A manual clock starting at `start`.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(Mutex::new(start)))
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(t) => *t.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Moves a manual clock to `to`. A no-op on the system clock, which nobody can set.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Clock::Manual(t) = self {
            *t.lock().unwrap_or_else(PoisonError::into_inner) = to;
        }
    }

    /// Moves a manual clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        if let Clock::Manual(t) = self {
            let mut guard = t.lock().unwrap_or_else(PoisonError::into_inner);
            *guard += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_of_a_manual_clock_share_the_same_instant() {
        let start = DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z").unwrap().to_utc();
        let a = Clock::manual(start);
        let b = a.clone();
        a.advance(chrono::Duration::minutes(5));
        assert_eq!(b.now(), start + chrono::Duration::minutes(5));
        b.set(start);
        assert_eq!(a.now(), start);
    }
}
