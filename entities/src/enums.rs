//! Enums stored as short strings, shared by the database and the API.

use poem_openapi::Enum;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Enum, Serialize, Deserialize)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
        #[oai(rename_all = "snake_case")]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[sea_orm(string_value = $value)]
                #[oai(rename = $value)]
                #[serde(rename = $value)]
                $variant,
            )+
        }

        impl $name {
            /// The value stored in the database and sent over the API.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $value,)+ }
            }

            /// The variant whose value is `value`.
            pub fn parse(value: &str) -> Option<Self> {
                match value { $($value => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

string_enum!(
    /// What a service station is for.
    StationKind {
        ForeignFriends = "foreign_friends",
        SocialWork = "social_work",
        MicroHappiness = "micro_happiness",
        Volunteer = "volunteer",
        EnglishCorner = "english_corner",
        Other = "other",
    }
);

string_enum!(
    /// Whether a shift still takes place.
    ShiftStatus {
        Scheduled = "scheduled",
        Cancelled = "cancelled",
    }
);

string_enum!(
    /// Where a volunteer stands on a shift.
    SignupStatus {
        Confirmed = "confirmed",
        Waitlisted = "waitlisted",
        Cancelled = "cancelled",
        Attended = "attended",
        NoShow = "no_show",
    }
);

string_enum!(
    /// The life of a cultural event.
    EventStatus {
        Draft = "draft",
        Published = "published",
        Cancelled = "cancelled",
        Completed = "completed",
    }
);

string_enum!(
    /// Where a resident stands on an event.
    RegistrationStatus {
        Registered = "registered",
        Waitlisted = "waitlisted",
        Cancelled = "cancelled",
        CheckedIn = "checked_in",
        NoShow = "no_show",
    }
);

string_enum!(
    /// The delivery state of one notification in the ledger.
    NotificationStatus {
        Queued = "queued",
        Sent = "sent",
        Failed = "failed",
        Skipped = "skipped",
        Missed = "missed",
    }
);

string_enum!(
    /// What an API key may do.
    Role {
        Admin = "admin",
        Organizer = "organizer",
        Volunteer = "volunteer",
    }
);

string_enum!(
    /// A kind of care in the "five ones": calls and visits are planned, the rest logged.
    CareKind {
        Call = "call",
        Visit = "visit",
        Flowers = "flowers",
        FarewellGift = "farewell_gift",
        Other = "other",
    }
);

string_enum!(
    /// Where a webhook delivery stands.
    DeliveryStatus {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }
);

string_enum!(
    /// A kind of mail; its name is the template folder and the prefix of its dedupe
    /// keys. More kinds may be added within a major version.
    MailKind {
        Welcome = "welcome",
        ShiftReminder = "shift_reminder",
        EventReminder = "event_reminder",
        Birthday = "birthday",
        Farewell = "farewell",
        FeedbackRequest = "feedback_request",
        WaitlistPromoted = "waitlist_promoted",
        ShiftCancelled = "shift_cancelled",
        EventCancelled = "event_cancelled",
        CareDue = "care_due",
        Digest = "digest",
        SignIn = "sign_in",
        VerifyEmail = "verify_email",
        VolunteerApproved = "volunteer_approved",
        Notice = "notice",
        SurveyInvitation = "survey_invitation",
        SurveyReminder = "survey_reminder",
    }
);

string_enum!(
    /// What a ledger row is about: the table its `subject_id` points into.
    SubjectType {
        Person = "person",
        ShiftSignup = "shift_signup",
        EventRegistration = "event_registration",
        CarePlan = "care_plan",
        Community = "community",
        EmailChallenge = "email_challenge",
        Notice = "notice",
        SurveyInvitation = "survey_invitation",
    }
);

string_enum!(
    /// Why a sign-up or registration was cancelled.
    CancelReason {
        /// The person or an organizer withdrew it (also when the person was erased).
        Withdrawn = "withdrawn",
        /// The shift was cancelled.
        ShiftCancelled = "shift_cancelled",
        /// The event was cancelled.
        EventCancelled = "event_cancelled",
    }
);

string_enum!(
    /// What a webhook can be told about. More types may be added within a major version.
    WebhookEventType {
        SignupCreated = "signup.created",
        SignupCancelled = "signup.cancelled",
        SignupPromoted = "signup.promoted",
        RegistrationCreated = "registration.created",
        RegistrationCancelled = "registration.cancelled",
        RegistrationPromoted = "registration.promoted",
        EventPublished = "event.published",
        EventCancelled = "event.cancelled",
        ShiftCancelled = "shift.cancelled",
        FeedbackSubmitted = "feedback.submitted",
    }
);

string_enum!(
    /// Whether a person may act as a volunteer yet.
    PersonStatus {
        Active = "active",
        /// Applied themselves and has not yet confirmed their address: gets no mail
        /// but the code that confirms it.
        Unverified = "unverified",
        /// Applied as a volunteer where an organizer approves volunteers, and waits.
        Pending = "pending",
    }
);

string_enum!(
    /// Who lets a volunteer who applied themselves sign up for shifts.
    VolunteerApproval {
        /// At once.
        Automatic = "automatic",
        /// An organizer, in `POST /v1/people/{id}/approve`.
        Organizer = "organizer",
    }
);

string_enum!(
    /// What an emailed one-time code proves.
    ChallengePurpose {
        /// The person may sign in.
        SignIn = "sign_in",
        /// The applicant owns the address (and is signed in).
        VerifyEmail = "verify_email",
        /// The person owns the new address they asked to change to.
        ChangeEmail = "change_email",
    }
);

string_enum!(
    /// How an imported file is written.
    ImportFormat {
        /// CSV as a spreadsheet saves it: UTF-8, a header row naming the columns.
        Csv = "csv",
        /// One JSON object per line.
        Jsonl = "jsonl",
    }
);

string_enum!(
    /// Whether imported people may get welcome letters at all.
    ImportMail {
        /// None, not even someone who moves in next week.
        None = "none",
        /// Those whose moving-in day is recent or ahead get theirs, as anyone added would.
        NewArrivals = "new_arrivals",
    }
);

string_enum!(
    /// Where an import stands.
    ImportState {
        Queued = "queued",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
);

string_enum!(
    /// What became of one imported row.
    RowOutcome {
        Created = "created",
        Updated = "updated",
        Unchanged = "unchanged",
        /// Nothing was changed for this row; its errors say why.
        Error = "error",
    }
);

string_enum!(
    /// Who a notice goes to.
    NoticeAudience {
        /// Everyone in the community.
        Community = "community",
        /// Residents whose nationality is not the community's country.
        ForeignResidents = "foreign_residents",
        /// Volunteers signed up (not cancelled) for any shift of the station `audience_id`.
        StationVolunteers = "station_volunteers",
        /// Volunteers confirmed or waitlisted on the shift `audience_id`.
        Shift = "shift",
        /// People registered, waitlisted or checked in for the event `audience_id`.
        Event = "event",
    }
);

string_enum!(
    /// Where a notice stands; one whose mails have all been dealt with reads as `sent`.
    NoticeState {
        /// Waits for `send_at`.
        Scheduled = "scheduled",
        /// Its recipients are in the ledger; mails go out at the notice rate.
        Sending = "sending",
        /// Every mail was sent, skipped, failed or missed.
        Sent = "sent",
        /// Cancelled before it had gone out; mails not yet sent were skipped.
        Cancelled = "cancelled",
    }
);

string_enum!(
    /// Who a survey asks.
    SurveyAudience {
        /// Everyone in the community.
        Residents = "residents",
        /// Residents whose nationality is not the community's country.
        ForeignResidents = "foreign_residents",
        /// People marked as volunteers.
        Volunteers = "volunteers",
        /// People who checked in at the event `audience_event_id`.
        EventAttendees = "event_attendees",
    }
);

string_enum!(
    /// Where a survey stands. An open survey takes answers from `opens_at` until
    /// `closes_at`, and reads `closed` after it.
    SurveyState {
        /// Being written; its questions may change.
        Draft = "draft",
        /// Questions frozen; invitations go out at `opens_at`.
        Open = "open",
        Closed = "closed",
    }
);

string_enum!(
    /// What a survey question asks for.
    QuestionKind {
        /// 1 to 5.
        Rating = "rating",
        SingleChoice = "single_choice",
        MultipleChoice = "multiple_choice",
        Text = "text",
    }
);

string_enum!(
    /// How a survey response was collected.
    ResponseMode {
        /// By the person, through their one-time link.
        Link = "link",
        /// By a social worker, door to door or on the phone.
        Interview = "interview",
    }
);
