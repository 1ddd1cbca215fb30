//! Webhooks for front-ends: events are written to a delivery log by the API and
//! delivered by the worker, signed the way Standard Webhooks does (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `id.timestamp.body`), retried with backoff for up to three days. A receiver that
//! answers 410 Gone turns its subscription off. Targets in loopback, private or
//! link-local ranges are refused unless their host is allowed by the operator.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use entities::enums::DeliveryStatus;
use entities::{webhook, webhook_delivery};
use rand::RngCore;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::Worker;
use entities::enums::WebhookEventType;

/// How long a delivery keeps being retried.
pub const RETRY_FOR: i64 = 3;
/// How long a delivery waits for the receiver.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A fresh signing secret, `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The `webhook-signature` header for `body` sent as `id` at `timestamp`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key_bytes = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap_or_else(|_| secret.as_bytes().to_vec());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_bytes);
    let tag = ring::hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1])
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| private(IpAddr::V4(v4)))
        }
    }
}

/// Refuses a target URL that is not http(s) or whose host resolves to a loopback,
/// private or link-local address, unless the host is in `allowed_hosts`.
pub async fn check_target(url: &str, allowed_hosts: &[String]) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("only http and https targets".to_owned());
    }
    let host = parsed
        .host_str()
        .ok_or("the URL has no host")?
        .trim_matches(['[', ']'])
        .to_owned();
    if allowed_hosts
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(&host))
    {
        return Ok(());
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("the host does not resolve: {e}"))?
            .map(|a| a.ip())
            .collect(),
    };
    if addresses.is_empty() || addresses.into_iter().any(private) {
        return Err("the target is in a loopback, private or link-local range".to_owned());
    }
    Ok(())
}

/// The live subscriptions of the community `community` (a value, or a column of an
/// outer query): not turned off.
pub fn live_in(community: impl Into<Expr>) -> Condition {
    Condition::all()
        .add(Expr::col((webhook::Entity, webhook::Column::CommunityId)).eq(community))
        .add(Expr::col((webhook::Entity, webhook::Column::DisabledAt)).is_null())
}

/// Writes a delivery of `event_type` about `path` for every live subscription of
/// `community_id` to it.
pub async fn emit(
    db: &impl ConnectionTrait,
    community_id: Uuid,
    event_type: WebhookEventType,
    path: &str,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let subscribers: Vec<webhook::Model> = webhook::Entity::find()
        .filter(live_in(community_id))
        .all(db)
        .await?
        .into_iter()
        .filter(|w| w.event_types.0.iter().any(|t| t == event_type.as_str()))
        .collect();
    for subscriber in &subscribers {
        let id = Uuid::now_v7();
        let payload = json!({"type": event_type.as_str(), "id": id, "timestamp": now.to_rfc3339(), "data": {"url": path}});
        webhook_delivery::ActiveModel {
            id: Set(id),
            webhook_id: Set(subscriber.id),
            event_type: Set(event_type),
            payload: Set(payload.to_string()),
            status: Set(DeliveryStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_status: Set(None),
            last_error: Set(None),
            delivered_at: Set(None),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(subscribers.len())
}

/// Pause before the next attempt: 1, 5, 30 minutes, 2, 6, 12 hours, then daily.
fn backoff(attempts: i32) -> Duration {
    match attempts {
        ..=1 => Duration::minutes(1),
        2 => Duration::minutes(5),
        3 => Duration::minutes(30),
        4 => Duration::hours(2),
        5 => Duration::hours(6),
        6 => Duration::hours(12),
        _ => Duration::hours(24),
    }
}

/// Sends every delivery that is due; returns how many were delivered.
pub async fn deliver_due(worker: &Worker, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let due: Vec<Uuid> = webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::Id)
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .limit(200)
        .into_tuple()
        .all(&worker.db)
        .await?;
    let mut delivered = 0;
    for id in due {
        if deliver(worker, id, now).await? {
            delivered += 1;
        }
    }
    Ok(delivered)
}

/// Takes one delivery (one conditional update, so two workers never both send it) and sends it.
async fn deliver(worker: &Worker, id: Uuid, now: DateTime<Utc>) -> anyhow::Result<bool> {
    let db: &DatabaseConnection = &worker.db;
    let claimed = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(now + Duration::minutes(2)),
        )
        .col_expr(
            webhook_delivery::Column::Attempts,
            Expr::col(webhook_delivery::Column::Attempts).add(1),
        )
        .filter(webhook_delivery::Column::Id.eq(id))
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .exec(db)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(false);
    }
    let Some(delivery) = webhook_delivery::Entity::find_by_id(id).one(db).await? else {
        return Ok(false);
    };
    let hook = webhook::Entity::find_by_id(delivery.webhook_id)
        .one(db)
        .await?;
    let attempts = delivery.attempts;
    let expires = delivery.created_at + Duration::days(RETRY_FOR);
    let mut active = delivery.clone().into_active_model();
    let outcome = match hook {
        None => Err((None, "the webhook was deleted".to_owned(), true)),
        Some(hook) if hook.disabled_at.is_some() => {
            Err((None, "the webhook is turned off".to_owned(), true))
        }
        Some(hook) => match check_target(&hook.url, &worker.settings.webhook_allowed_hosts).await {
            Err(reason) => Err((None, reason, true)),
            Ok(()) => {
                let timestamp = now.timestamp();
                let response = worker
                    .http
                    .post(&hook.url)
                    .timeout(TIMEOUT)
                    .header("content-type", "application/json")
                    .header("webhook-id", delivery.id.to_string())
                    .header("webhook-timestamp", timestamp.to_string())
                    .header(
                        "webhook-signature",
                        sign(
                            &hook.secret,
                            &delivery.id.to_string(),
                            timestamp,
                            &delivery.payload,
                        ),
                    )
                    .body(delivery.payload.clone())
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
                    Ok(r) if r.status().as_u16() == 410 => {
                        let mut off = hook.into_active_model();
                        off.disabled_at = Set(Some(now));
                        off.disabled_reason =
                            Set(Some("the receiver answered 410 Gone".to_owned()));
                        off.update(db).await?;
                        Err((
                            Some(410),
                            "the receiver answered 410 Gone; the webhook is turned off".to_owned(),
                            true,
                        ))
                    }
                    Ok(r) => Err((
                        Some(r.status().as_u16()),
                        format!("the receiver answered {}", r.status()),
                        false,
                    )),
                    Err(e) => Err((None, format!("no answer: {e}"), false)),
                }
            }
        },
    };
    let (delivered, counted) = match outcome {
        Ok(status) => {
            active.status = Set(DeliveryStatus::Delivered);
            active.last_status = Set(Some(status.into()));
            active.last_error = Set(None);
            active.delivered_at = Set(Some(now));
            (true, "delivered")
        }
        Err((status, reason, permanent)) => {
            active.last_status = Set(status.map(Into::into));
            active.last_error = Set(Some(reason));
            let next = now + backoff(attempts);
            if permanent || next > expires {
                active.status = Set(DeliveryStatus::Failed);
                (false, "failed")
            } else {
                active.next_attempt_at = Set(next);
                (false, "retrying")
            }
        }
    };
    metrics::counter!("huashen_webhook_deliveries_total", "outcome" => counted).increment(1);
    active.update(db).await?;
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_signature() {
        // The example from the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"] {
            assert!(!private(ip.parse().unwrap()), "{ip}");
        }
    }
}
