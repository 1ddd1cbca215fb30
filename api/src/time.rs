//! The clock, at the precision both databases keep.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, truncated to microseconds so a value reads back exactly as written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
