//! Every limit on what callers may do, answered alike: 429 problem+json with
//! `Retry-After`, and `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
//! (the IETF draft's names) on every response.
//!
//! - Request rates: a token bucket per API key (requests with a key) or per client
//!   address (requests without one), kept in the process's memory, so it costs no
//!   database write. With several API processes each holds its own buckets: size the
//!   rates per process (the deployment's limit divided by the number of processes).
//! - Abuse where it is cheap (sign-in, verification, applications): hits counted per
//!   bucket and fixed window in the database, so these limits hold across every API
//!   process sharing it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use entities::rate_limit;
use entities::token;
use poem::error::ResponseError as _;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::error::{ApiError, error_response};
use crate::state::AppState;

/// How much each caller may do; over a limit the answer is 429 with `Retry-After`.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Mails with a code (sign-in, application, new address) per address per hour.
    pub mails_per_email_per_hour: u32,
    /// Codes tried per address per hour.
    pub verifications_per_email_per_hour: u32,
    /// Requests to the limited operations per client address per minute.
    pub requests_per_ip_per_minute: u32,
    /// Requests per second and burst of each API key.
    pub per_key: Rate,
    /// Requests per second and burst of each client address, for calls without a key.
    pub per_ip: Rate,
}

/// A token bucket: `per_second` on average, up to `burst` at once.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            mails_per_email_per_hour: 5,
            verifications_per_email_per_hour: 25,
            requests_per_ip_per_minute: 20,
            per_key: Rate {
                per_second: 100.0,
                burst: 200,
            },
            per_ip: Rate {
                per_second: 20.0,
                burst: 40,
            },
        }
    }
}

/// What a token bucket said of one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    /// `RateLimit-Limit`: the burst.
    pub limit: u32,
    /// `RateLimit-Remaining`: requests that may follow at once.
    pub remaining: u32,
    /// `RateLimit-Reset`: seconds until the bucket is full again.
    pub reset: u64,
    /// `Retry-After` of a refused request, in seconds.
    pub retry_after: u64,
}

/// Token buckets in memory, by caller, as GCRA keeps them: one instant per caller
/// (when its bucket will be full again).
#[derive(Default)]
pub struct RequestLimiter {
    full_at: Mutex<HashMap<String, Instant>>,
}

/// Buckets kept before full ones are dropped (a full bucket is the same as none).
const PRUNE_ABOVE: usize = 10_000;

impl RequestLimiter {
    /// Takes one token from `caller`'s bucket at `rate`, if one is there.
    pub fn take(&self, caller: &str, rate: Rate, now: Instant) -> Verdict {
        self.check(caller, rate, now, true)
    }

    /// Whether `caller`'s bucket has a token, without taking it.
    pub fn peek(&self, caller: &str, rate: Rate, now: Instant) -> Verdict {
        self.check(caller, rate, now, false)
    }

    fn check(&self, caller: &str, rate: Rate, now: Instant, take: bool) -> Verdict {
        let interval = StdDuration::from_secs_f64(1.0 / rate.per_second.max(1e-6));
        let tolerance = interval.mul_f64(f64::from(Ord::max(rate.burst, 1)));
        let mut buckets = self.full_at.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, full_at| *full_at > now);
        }
        let full_at = buckets
            .get(caller)
            .copied()
            .filter(|t| *t > now)
            .unwrap_or(now);
        let next = full_at + interval;
        let after = |t: Instant| t.saturating_duration_since(now);
        let ceil = |d: StdDuration| d.as_secs() + u64::from(d.subsec_nanos() > 0);
        let used = after(next);
        if used > tolerance {
            let wait = used - tolerance;
            return Verdict {
                allowed: false,
                limit: rate.burst,
                remaining: 0,
                reset: ceil(after(full_at)),
                retry_after: Ord::max(ceil(wait), 1),
            };
        }
        if take {
            buckets.insert(caller.to_owned(), next);
        }
        let room = (tolerance - used).as_nanos() / interval.as_nanos().max(1);
        Verdict {
            allowed: true,
            limit: rate.burst,
            remaining: u32::try_from(room).unwrap_or(u32::MAX),
            reset: ceil(used),
            retry_after: 0,
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

/// Charges every request to its caller's token bucket: the API key's when it sends
/// one, else the client address's. Over it, 429 and nothing is done. A request whose
/// key is refused (401) is charged to its address too, and an address that has used
/// up its bucket on refused keys is refused before its next key is looked at, so
/// inventing keys does not escape the limit.
pub async fn limit_requests<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let Some((settings, limiter)) = req
        .data::<AppState>()
        .map(|state| (Arc::clone(&state.settings), Arc::clone(&state.limiter)))
    else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let limits = &settings.limits;
    let now = Instant::now();
    let address = client_ip(&req, &settings.trusted_proxies).map(|ip| format!("ip:{ip}"));
    // Where refused keys from this address are counted.
    let refused_keys = address.as_ref().map(|a| format!("refused-{a}"));
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|secret| format!("key:{}", token::hash_token(secret.trim())));
    let verdict = match (&key, &address) {
        (Some(key), _) => match refused_keys
            .as_ref()
            .map(|r| limiter.peek(r, limits.per_ip, now))
        {
            Some(blocked) if !blocked.allowed => blocked,
            _ => limiter.take(key, limits.per_key, now),
        },
        (None, Some(address)) => limiter.take(address, limits.per_ip, now),
        (None, None) => return next.call(req).await.map(IntoResponse::into_response),
    };
    let mut response = if verdict.allowed {
        match next.call(req).await {
            Ok(response) => response.into_response(),
            Err(err) => error_response(err),
        }
    } else {
        ApiError::TooManyRequests {
            retry_after: verdict.retry_after,
        }
        .as_response()
    };
    if response.status() == StatusCode::UNAUTHORIZED
        && key.is_some()
        && let Some(refused_keys) = &refused_keys
    {
        limiter.take(refused_keys, limits.per_ip, now);
    }
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", u64::from(verdict.limit)),
        ("ratelimit-remaining", u64::from(verdict.remaining)),
        ("ratelimit-reset", verdict.reset),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    Ok(response)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket() {
        let limiter = RequestLimiter::default();
        let rate = Rate {
            per_second: 10.0,
            burst: 5,
        };
        let start = Instant::now();
        let verdicts: Vec<Verdict> = (0..6).map(|_| limiter.take("a", rate, start)).collect();
        assert!(verdicts[..5].iter().all(|v| v.allowed));
        assert_eq!(
            verdicts.iter().map(|v| v.remaining).collect::<Vec<_>>(),
            [4, 3, 2, 1, 0, 0]
        );
        assert!(!verdicts[5].allowed);
        assert_eq!(verdicts[5].retry_after, 1);
        assert!(
            limiter.take("b", rate, start).allowed,
            "buckets are per caller"
        );
        // One token comes back every 100 ms.
        let later = start + StdDuration::from_millis(100);
        assert!(limiter.take("a", rate, later).allowed);
        assert!(!limiter.take("a", rate, later).allowed);
        let refilled = start + StdDuration::from_secs(2);
        assert_eq!(limiter.take("a", rate, refilled).remaining, 4);
    }
}
