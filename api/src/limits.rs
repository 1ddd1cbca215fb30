//! Abuse limits on what anyone may call without a key (sign-in, verification,
//! applications): hits are counted per bucket and fixed window in the database, so
//! the limits hold across every API process sharing it.

use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Duration, TimeZone, Utc};
use entities::rate_limit;
use poem::Request;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::error::ApiError;

/// How much each caller may do; over a limit the answer is 429 with `Retry-After`.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Mails with a code (sign-in, application, new address) per address per hour.
    pub mails_per_email_per_hour: u32,
    /// Codes tried per address per hour.
    pub verifications_per_email_per_hour: u32,
    /// Requests to the limited operations per client address per minute.
    pub requests_per_ip_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            mails_per_email_per_hour: 5,
            verifications_per_email_per_hour: 25,
            requests_per_ip_per_minute: 20,
        }
    }
}

/// One counted kind of hit.
#[derive(Clone, Copy)]
pub enum Bucket<'a> {
    /// A request to a limited operation from this client.
    Client(IpAddr),
    /// A mail with a code to this (normalized) address.
    Mail(&'a str),
    /// A code tried for this (normalized) address.
    Verification(&'a str),
}

impl Bucket<'_> {
    fn key(&self) -> String {
        match self {
            Self::Client(ip) => format!("ip:{ip}"),
            Self::Mail(email) => format!("mail:{email}"),
            Self::Verification(email) => format!("verify:{email}"),
        }
    }

    fn limit(&self, limits: &Limits) -> (u32, Duration) {
        match self {
            Self::Client(_) => (limits.requests_per_ip_per_minute, Duration::minutes(1)),
            Self::Mail(_) => (limits.mails_per_email_per_hour, Duration::hours(1)),
            Self::Verification(_) => (limits.verifications_per_email_per_hour, Duration::hours(1)),
        }
    }
}

/// Counts a hit on `bucket`; refuses it with 429 once the window's limit is reached.
pub async fn hit(
    db: &impl ConnectionTrait,
    limits: &Limits,
    bucket: Bucket<'_>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let (limit, window) = bucket.limit(limits);
    let seconds = window.num_seconds();
    let start = now.timestamp() - now.timestamp().rem_euclid(seconds);
    let window_start = Utc
        .timestamp_opt(start, 0)
        .single()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("window start out of range")))?;
    let counted = rate_limit::Entity::insert(rate_limit::ActiveModel {
        bucket: Set(bucket.key()),
        window_start: Set(window_start),
        hits: Set(1),
    })
    .on_conflict(
        OnConflict::columns([rate_limit::Column::Bucket, rate_limit::Column::WindowStart])
            .value(
                rate_limit::Column::Hits,
                Expr::col((rate_limit::Entity, rate_limit::Column::Hits)).add(1),
            )
            .to_owned(),
    )
    .exec_with_returning(db)
    .await?;
    if counted.hits > i32::try_from(limit).unwrap_or(i32::MAX) {
        let left = Ord::max((window_start + window - now).num_seconds(), 1);
        return Err(ApiError::TooManyRequests {
            retry_after: left.unsigned_abs(),
        });
    }
    Ok(())
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(req: &Request, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| {
            let hop = hop.trim();
            hop.parse::<IpAddr>()
                .ok()
                .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        })
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|hop| !trusted_proxies.contains(hop))
            .unwrap_or(peer),
    )
}
