//! The kinds of mail Huashen sends.

use chrono::Duration;

/// A kind of mail; its name is the template folder and the prefix of its dedupe keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MailKind {
    Welcome,
    ShiftReminder,
    EventReminder,
    Birthday,
    Farewell,
    FeedbackRequest,
    WaitlistPromoted,
    ShiftCancelled,
    EventCancelled,
    CareDue,
    Digest,
}

impl MailKind {
    pub const ALL: [MailKind; 11] = [
        Self::Welcome,
        Self::ShiftReminder,
        Self::EventReminder,
        Self::Birthday,
        Self::Farewell,
        Self::FeedbackRequest,
        Self::WaitlistPromoted,
        Self::ShiftCancelled,
        Self::EventCancelled,
        Self::CareDue,
        Self::Digest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Welcome => "welcome",
            Self::ShiftReminder => "shift_reminder",
            Self::EventReminder => "event_reminder",
            Self::Birthday => "birthday",
            Self::Farewell => "farewell",
            Self::FeedbackRequest => "feedback_request",
            Self::WaitlistPromoted => "waitlist_promoted",
            Self::ShiftCancelled => "shift_cancelled",
            Self::EventCancelled => "event_cancelled",
            Self::CareDue => "care_due",
            Self::Digest => "digest",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// How long after its due time a mail is still worth sending; later it is `missed`.
    /// Mails about a shift or event are also missed once it has begun.
    pub fn grace(self) -> Duration {
        match self {
            Self::Welcome | Self::FeedbackRequest => Duration::days(7),
            Self::CareDue => Duration::days(3),
            Self::Birthday | Self::Farewell => Duration::hours(12),
            Self::Digest => Duration::hours(4),
            Self::ShiftReminder
            | Self::EventReminder
            | Self::WaitlistPromoted
            | Self::ShiftCancelled
            | Self::EventCancelled => Duration::days(2),
        }
    }
}
