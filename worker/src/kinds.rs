//! The kinds of mail Huashen sends.

use chrono::Duration;

pub use entities::enums::MailKind;

/// How long after its due time a mail is still worth sending; later it is `missed`.
/// Mails about a shift or event are also missed once it has begun.
pub fn grace(kind: MailKind) -> Duration {
    match kind {
        MailKind::Welcome | MailKind::FeedbackRequest => Duration::days(7),
        MailKind::CareDue | MailKind::Notice => Duration::days(3),
        // Worth sending while the survey is open, which the sender checks.
        MailKind::SurveyInvitation | MailKind::SurveyReminder => Duration::days(30),
        MailKind::Birthday | MailKind::Farewell => Duration::hours(12),
        MailKind::Digest => Duration::hours(4),
        // A code is worth nothing once it has expired.
        MailKind::SignIn | MailKind::VerifyEmail => {
            Duration::minutes(entities::email_challenge::VALID_MINUTES)
        }
        MailKind::VolunteerApproved => Duration::days(2),
        MailKind::ShiftReminder
        | MailKind::EventReminder
        | MailKind::WaitlistPromoted
        | MailKind::ShiftCancelled
        | MailKind::EventCancelled => Duration::days(2),
    }
}
