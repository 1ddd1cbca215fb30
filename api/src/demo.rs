//! The Huashenmiao demo community: five bilingual stations, a few weeks of shifts,
//! events, and Chinese and foreign residents.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Asia::Shanghai;
use entities::enums::{
    CareKind, EventStatus, RegistrationStatus, Role, ShiftStatus, SignupStatus, StationKind,
};
use entities::json::{LocalizedText, TagList};
use entities::{
    care_plan, community, event, event_registration, feedback, person, shift, shift_signup, station,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    Set, TransactionTrait,
};
use uuid::Uuid;

use crate::auth::{NewKey, create_key};
use crate::series::{self, NewSeries};
use crate::time::now;

pub const DEMO_SLUG: &str = "huashenmiao";

fn text(zh: &str, en: &str) -> LocalizedText {
    LocalizedText(BTreeMap::from([
        ("zh-CN".to_owned(), zh.to_owned()),
        ("en".to_owned(), en.to_owned()),
    ]))
}

fn tags(values: &[&str]) -> TagList {
    TagList(values.iter().map(|v| (*v).to_owned()).collect())
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// A weekly shift pattern of one station; with `series`, a recurring series (RRULE).
struct Rota {
    series: Option<&'static str>,
    weekdays: &'static [Weekday],
    start: (u32, u32),
    minutes: u64,
    capacity: i32,
    languages: &'static [&'static str],
    skills: &'static [&'static str],
}

/// What a freshly seeded demo offers to try.
pub struct Seeded {
    /// The secret of the demo admin key.
    pub admin_key: String,
    pub community_id: Uuid,
    /// A resident volunteer to sign in as by email (the code lands in the outbox).
    pub sign_in_email: &'static str,
}

/// The volunteer the demo suggests signing in as.
const SIGN_IN_EMAIL: &str = "anna.mueller@example.de";

/// Seeds the demo once; `None` when the community was already there.
///
/// # Errors
/// Database errors; nothing is written unless everything is.
pub async fn seed(db: &DatabaseConnection) -> anyhow::Result<Option<Seeded>> {
    let exists = community::Entity::find()
        .filter(community::Column::Slug.eq(DEMO_SLUG))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(None);
    }
    let txn = db.begin().await?;
    let now = now();
    let community_id = Uuid::now_v7();
    community::Model {
        id: community_id,
        slug: DEMO_SLUG.to_owned(),
        name: text("花神庙社区", "Huashenmiao Community"),
        time_zone: "Asia/Shanghai".to_owned(),
        default_locale: "zh-CN".to_owned(),
        reminder_lead_minutes: 24 * 60,
        volunteer_approval: entities::enums::VolunteerApproval::Automatic,
        country: crate::routes::communities::DEFAULT_COUNTRY.to_owned(),
        created_at: now,
        updated_at: now,
        version: 1,
    }
    .into_active_model()
    .reset_all()
    .insert(&txn)
    .await?;

    let stations = [
        (
            StationKind::ForeignFriends,
            text("外籍友人服务站", "Foreign Friends Service Station"),
            text(
                "为外籍居民办理居住登记、翻译社区通知、解答生活问题。",
                "Residence registration, translated community notices and everyday help for foreign residents.",
            ),
            "花神庙社区党群服务中心一楼",
            Rota {
                series: None,
                weekdays: &[Weekday::Mon, Weekday::Wed, Weekday::Fri],
                start: (9, 0),
                minutes: 180,
                capacity: 3,
                languages: &["zh-CN", "en"],
                skills: &["translation"],
            },
        ),
        (
            StationKind::SocialWork,
            text("国际社工站", "International Social Work Station"),
            text(
                "社工与志愿者一起探访、倾听、链接资源。",
                "Social workers and volunteers visit, listen and connect residents with help.",
            ),
            "花神庙社区党群服务中心二楼",
            Rota {
                series: None,
                weekdays: &[Weekday::Tue, Weekday::Thu],
                start: (14, 0),
                minutes: 180,
                capacity: 2,
                languages: &["zh-CN"],
                skills: &["counselling"],
            },
        ),
        (
            StationKind::MicroHappiness,
            text("微幸福驿站", "Micro-Happiness Station"),
            text(
                "小修小补、代收快递、茶水歇脚。",
                "Small repairs, parcel pick-up and a cup of tea for passers-by.",
            ),
            "花神庙小区北门",
            Rota {
                series: None,
                weekdays: &[Weekday::Sat],
                start: (9, 0),
                minutes: 150,
                capacity: 4,
                languages: &[],
                skills: &["repairs"],
            },
        ),
        (
            StationKind::Volunteer,
            text("国际志愿者服务站", "International Volunteer Station"),
            text(
                "中外志愿者共同参与平安巡逻、文明劝导和环境整治。",
                "Chinese and foreign volunteers on safety patrols, civility campaigns and environment days.",
            ),
            "花神庙社区广场",
            Rota {
                series: None,
                weekdays: &[Weekday::Sat],
                start: (19, 0),
                minutes: 120,
                capacity: 6,
                languages: &[],
                skills: &["patrol"],
            },
        ),
        (
            StationKind::EnglishCorner,
            text("英语角", "English Corner"),
            text(
                "每周三晚上，中外居民用英语聊天交朋友。",
                "Every Wednesday evening residents chat in English and make friends.",
            ),
            "花神庙社区图书室",
            Rota {
                series: Some("FREQ=WEEKLY;BYDAY=WE"),
                weekdays: &[Weekday::Wed],
                start: (19, 0),
                minutes: 90,
                capacity: 5,
                languages: &["en"],
                skills: &[],
            },
        ),
    ];

    let today = now.with_timezone(&Shanghai).date_naive();
    for (kind, name, description, location, rota) in stations {
        let station_id = Uuid::now_v7();
        station::Model {
            id: station_id,
            community_id,
            kind,
            name,
            description,
            location: Some(location.to_owned()),
            time_zone: "Asia/Shanghai".to_owned(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
        .into_active_model()
        .reset_all()
        .insert(&txn)
        .await?;
        if let Some(rrule) = rota.series {
            let station = station::Entity::find_by_id(station_id)
                .one(&txn)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the station just created is gone"))?;
            let weekly = NewSeries {
                rrule: rrule.to_owned(),
                starts_on: today + Days::new(1),
                start_time: NaiveTime::from_hms_opt(rota.start.0, rota.start.1, 0)
                    .unwrap_or_default(),
                duration_minutes: rota.minutes as i32,
                capacity: rota.capacity,
                min_volunteers: 1.max(rota.capacity / 2),
                languages_wanted: rota.languages.iter().map(|l| (*l).to_owned()).collect(),
                skills_wanted: Vec::new(),
                notes: None,
                until: Some(today + Days::new(12 * 7)),
                count: None,
            };
            series::create(&txn, &station, weekly, now)
                .await
                .map_err(|e| anyhow::anyhow!("the English Corner series: {e:?}"))?;
            continue;
        }
        for offset in 1..=21 {
            let day = today + Days::new(offset);
            if !rota.weekdays.contains(&day.weekday()) {
                continue;
            }
            let start_time =
                NaiveTime::from_hms_opt(rota.start.0, rota.start.1, 0).unwrap_or_default();
            let Some(starts_at) = Shanghai
                .from_local_datetime(&day.and_time(start_time))
                .single()
            else {
                continue;
            };
            let starts_at = starts_at.with_timezone(&Utc);
            shift::Model {
                id: Uuid::now_v7(),
                station_id,
                community_id,
                starts_at,
                ends_at: starts_at + chrono::Duration::minutes(rota.minutes as i64),
                capacity: rota.capacity,
                min_volunteers: 1.max(rota.capacity / 2),
                languages_wanted: tags(rota.languages),
                skills_wanted: tags(rota.skills),
                notes: None,
                status: ShiftStatus::Scheduled,
                confirmed_count: 0,
                waitlist_count: 0,
                cancelled_at: None,
                series_id: None,
                created_at: now,
                updated_at: now,
                version: 1,
            }
            .into_active_model()
            .reset_all()
            .insert(&txn)
            .await?;
        }
    }

    let people = [
        (
            "王芳",
            "wang.fang@example.cn",
            "CN",
            "zh-CN",
            date(1988, 3, 12),
            &["zh-CN", "en"][..],
            true,
        ),
        (
            "李明",
            "li.ming@example.cn",
            "CN",
            "zh-CN",
            date(1975, 11, 2),
            &["zh-CN"][..],
            true,
        ),
        (
            "陈静",
            "chen.jing@example.cn",
            "CN",
            "zh-CN",
            date(1992, 2, 29),
            &["zh-CN", "en"][..],
            true,
        ),
        (
            "张伟",
            "zhang.wei@example.cn",
            "CN",
            "zh-CN",
            date(1960, 7, 21),
            &["zh-CN"][..],
            false,
        ),
        (
            "Kim Min-jun",
            "minjun.kim@example.kr",
            "KR",
            "ko",
            date(1990, 5, 8),
            &["ko", "zh-CN", "en"][..],
            true,
        ),
        (
            "Emily Carter",
            "emily.carter@example.com",
            "US",
            "en",
            date(1985, 9, 30),
            &["en", "zh-CN"][..],
            true,
        ),
        (
            "Tanaka Yuki",
            "yuki.tanaka@example.jp",
            "JP",
            "ja",
            date(1994, 12, 1),
            &["ja", "en"][..],
            true,
        ),
        (
            "Pierre Dubois",
            "pierre.dubois@example.fr",
            "FR",
            "fr",
            date(1979, 4, 17),
            &["fr", "en"][..],
            false,
        ),
        (
            "Anna Müller",
            SIGN_IN_EMAIL,
            "DE",
            "de",
            date(1998, 1, 25),
            &["de", "en"][..],
            true,
        ),
        (
            "Olga Ivanova",
            "olga.ivanova@example.ru",
            "RU",
            "ru",
            None,
            &["ru", "en"][..],
            false,
        ),
    ];
    for (index, (full_name, email, nationality, locale, birthday, languages, is_volunteer)) in
        people.into_iter().enumerate()
    {
        person::Model {
            id: Uuid::now_v7(),
            community_id,
            full_name: full_name.to_owned(),
            email: email.to_owned(),
            email_normalized: email.to_lowercase(),
            phone: None,
            nationality: nationality.to_owned(),
            locale: locale.to_owned(),
            time_zone: "Asia/Shanghai".to_owned(),
            birthday,
            birthday_md: birthday.map(|d| format!("{:02}-{:02}", d.month(), d.day())),
            languages: tags(languages),
            skills: TagList::default(),
            is_volunteer,
            is_organizer: full_name == "张伟",
            // A newcomer of this week every third; the rest moved in long ago, so only
            // the newcomers get welcome letters.
            moved_in_on: Some(if index % 3 == 2 {
                today - Days::new(index as u64 / 3 + 1)
            } else {
                today - Days::new(30 * (index as u64 + 1))
            }),
            moving_out_on: None,
            notify_reminders: true,
            notify_birthday: true,
            notify_feedback: true,
            notify_notices: true,
            notify_surveys: true,
            erased_at: None,
            calendar_token_hash: None,
            status: entities::enums::PersonStatus::Active,
            email_verified_at: None,
            consent_version: None,
            consent_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
        .into_active_model()
        .reset_all()
        .insert(&txn)
        .await?;
    }

    // 日常一个电: 王芳 calls 张伟 every week; the first call is due today.
    let by_name = |name: &str| {
        person::Entity::find()
            .filter(person::Column::CommunityId.eq(community_id))
            .filter(person::Column::FullName.eq(name.to_owned()))
    };
    if let (Some(caller), Some(resident)) = (
        by_name("王芳").one(&txn).await?,
        by_name("张伟").one(&txn).await?,
    ) {
        care_plan::ActiveModel {
            id: Set(Uuid::now_v7()),
            person_id: Set(resident.id),
            community_id: Set(community_id),
            kind: Set(CareKind::Call),
            every_days: Set(7),
            assignee_id: Set(caller.id),
            next_due_on: Set(today),
            notes: Set(Some(
                "问问身体和生活情况 / ask how he is keeping".to_owned(),
            )),
            ended_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
        }
        .insert(&txn)
        .await?;
    }

    let events = [
        (
            text("冬至包饺子", "Winter Solstice Dumpling Party"),
            text(
                "一起包饺子、吃饺子，迎接冬至。",
                "Make and eat dumplings together for the Winter Solstice.",
            ),
            "festival",
            7,
            (15, 0),
            3,
            30,
            EventStatus::Published,
        ),
        (
            text("国际美食节", "International Food Festival"),
            text(
                "各国居民带来家乡菜，互相品尝。",
                "Residents from many countries share dishes from home.",
            ),
            "food",
            14,
            (11, 0),
            4,
            80,
            EventStatus::Published,
        ),
        (
            text("书法体验课", "Chinese Calligraphy Workshop"),
            text(
                "老师手把手教写毛笔字。",
                "A teacher guides your first strokes with the brush.",
            ),
            "culture",
            20,
            (14, 30),
            2,
            15,
            EventStatus::Draft,
        ),
    ];
    for (title, description, category, in_days, start, hours, capacity, status) in events {
        let day = today + Days::new(in_days);
        let start_time = NaiveTime::from_hms_opt(start.0, start.1, 0).unwrap_or_default();
        let Some(starts_at) = Shanghai
            .from_local_datetime(&day.and_time(start_time))
            .single()
        else {
            continue;
        };
        let starts_at = starts_at.with_timezone(&Utc);
        event::Model {
            id: Uuid::now_v7(),
            community_id,
            title,
            description,
            category: category.to_owned(),
            venue: Some("花神庙社区党群服务中心 / Huashenmiao Community Centre".to_owned()),
            starts_at,
            ends_at: starts_at + chrono::Duration::hours(hours),
            capacity,
            registration_opens_at: None,
            registration_closes_at: Some(starts_at - chrono::Duration::hours(12)),
            status,
            registered_count: 0,
            waitlist_count: 0,
            cancelled_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
        .into_active_model()
        .reset_all()
        .insert(&txn)
        .await?;
    }

    seed_history(&txn, community_id, today, now).await?;
    seed_survey(&txn, community_id, now).await?;

    let (_, secret) = create_key(
        &txn,
        NewKey {
            name: "demo admin".to_owned(),
            role: Role::Admin,
            community_id: None,
            person_id: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating the demo admin key: {e}"))?;
    txn.commit().await?;
    Ok(Some(Seeded {
        admin_key: secret,
        community_id,
        sign_in_email: SIGN_IN_EMAIL,
    }))
}

/// Last week, so the reports have something to show: two patrols at the volunteer
/// station (attended, one no-show) and a dumpling party with check-ins and ratings.
async fn seed_history(
    txn: &sea_orm::DatabaseTransaction,
    community_id: Uuid,
    today: NaiveDate,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let people = person::Entity::find()
        .filter(person::Column::CommunityId.eq(community_id))
        .all(txn)
        .await?;
    let volunteers: Vec<&person::Model> = people.iter().filter(|p| p.is_volunteer).collect();
    let station = station::Entity::find()
        .filter(station::Column::CommunityId.eq(community_id))
        .filter(station::Column::Kind.eq(StationKind::Volunteer))
        .one(txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the volunteer station is missing"))?;
    let at = |days_ago: u64, hour: u32| {
        Shanghai
            .from_local_datetime(
                &(today - Days::new(days_ago))
                    .and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default()),
            )
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now)
    };
    for (days_ago, crew) in [(7, &volunteers[..4]), (6, &volunteers[2..])] {
        let starts_at = at(days_ago, 19);
        let ends_at = starts_at + chrono::Duration::hours(2);
        let shift_id = Uuid::now_v7();
        shift::Model {
            id: shift_id,
            station_id: station.id,
            community_id,
            starts_at,
            ends_at,
            capacity: 6,
            min_volunteers: 3,
            languages_wanted: TagList::default(),
            skills_wanted: TagList(vec!["patrol".to_owned()]),
            notes: None,
            status: ShiftStatus::Scheduled,
            confirmed_count: crew.len() as i32,
            waitlist_count: 0,
            cancelled_at: None,
            series_id: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
        .into_active_model()
        .reset_all()
        .insert(txn)
        .await?;
        for (n, volunteer) in crew.iter().enumerate() {
            let came = n + 1 < crew.len() || days_ago == 7;
            shift_signup::ActiveModel {
                id: Set(Uuid::now_v7()),
                shift_id: Set(shift_id),
                person_id: Set(volunteer.id),
                status: Set(if came {
                    SignupStatus::Attended
                } else {
                    SignupStatus::NoShow
                }),
                waitlist_position: Set(None),
                hours_credited: Set(Some(if came { 2.0 } else { 0.0 })),
                promoted_at: Set(None),
                cancel_reason: Set(None),
                shift_starts_at: Set(starts_at),
                shift_ends_at: Set(ends_at),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await?;
        }
    }
    let starts_at = at(5, 15);
    let event_id = Uuid::now_v7();
    event::Model {
        id: event_id,
        community_id,
        title: text("中外居民包饺子", "Dumplings with Neighbours"),
        description: text(
            "中外居民一起包饺子。",
            "Chinese and foreign neighbours make dumplings together.",
        ),
        category: "festival".to_owned(),
        venue: Some("花神庙社区党群服务中心 / Huashenmiao Community Centre".to_owned()),
        starts_at,
        ends_at: starts_at + chrono::Duration::hours(3),
        capacity: 20,
        registration_opens_at: None,
        registration_closes_at: None,
        status: EventStatus::Completed,
        registered_count: people.len() as i32,
        waitlist_count: 0,
        cancelled_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
    .into_active_model()
    .reset_all()
    .insert(txn)
    .await?;
    for (n, guest) in people.iter().enumerate() {
        let came = n % 4 != 3;
        let registration_id = Uuid::now_v7();
        event_registration::ActiveModel {
            id: Set(registration_id),
            event_id: Set(event_id),
            person_id: Set(guest.id),
            status: Set(if came {
                RegistrationStatus::CheckedIn
            } else {
                RegistrationStatus::NoShow
            }),
            waitlist_position: Set(None),
            checked_in_at: Set(came.then_some(starts_at)),
            promoted_at: Set(None),
            cancel_reason: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(txn)
        .await?;
        if came && n % 2 == 0 {
            feedback::ActiveModel {
                id: Set(Uuid::now_v7()),
                event_id: Set(event_id),
                registration_id: Set(registration_id),
                person_id: Set(Some(guest.id)),
                token_hash: Set(entities::token::hash_token(&Uuid::now_v7().to_string())),
                rating: Set(Some(if n % 3 == 0 { 5 } else { 4 })),
                comment: Set((n == 0).then(|| "很开心，认识了新朋友！".to_owned())),
                submitted_at: Set(Some(starts_at + chrono::Duration::days(1))),
                expires_at: Set(starts_at + chrono::Duration::days(31)),
                created_at: Set(starts_at + chrono::Duration::hours(5)),
            }
            .insert(txn)
            .await?;
        }
    }
    Ok(())
}

/// This year's satisfaction survey, open for two more weeks: everyone was invited a week
/// ago, most answered by link, and social workers interviewed neighbours door to door,
/// so its report has groups large enough to show.
async fn seed_survey(
    txn: &sea_orm::DatabaseTransaction,
    community_id: Uuid,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    use entities::enums::{QuestionKind, ResponseMode, SurveyAudience, SurveyState};
    use entities::survey::{Choice, Question, Questions};
    use entities::survey_response::{Answer, Answers};
    use entities::{survey, survey_invitation, survey_response};

    let question = |id: &str, kind, zh: &str, en: &str, choices: &[(&str, &str, &str)]| Question {
        id: id.to_owned(),
        kind,
        text: text(zh, en).0,
        required: kind == QuestionKind::Rating,
        choices: choices
            .iter()
            .map(|(id, zh, en)| Choice {
                id: (*id).to_owned(),
                text: text(zh, en).0,
            })
            .collect(),
    };
    let invited_at = now - chrono::Duration::days(7);
    let survey_id = Uuid::now_v7();
    survey::Model {
        id: survey_id,
        community_id,
        title: text("2026年居民满意度调查", "Resident Satisfaction Survey 2026"),
        intro: text(
            "约需五分钟。结果只以汇总形式呈现，不会显示任何个人的回答。",
            "About five minutes. Results are only shown in summary; no one's own answers are shown.",
        ),
        questions: Questions(vec![
            question("overall", QuestionKind::Rating, "您对社区服务的总体满意度如何？", "How satisfied are you with the community's services overall?", &[]),
            question("stations", QuestionKind::Rating, "服务站的帮助是否及时？", "Do the service stations help you in good time?", &[]),
            question("heard_from", QuestionKind::SingleChoice, "您主要从哪里了解社区活动？", "Where do you mostly hear about community activities?", &[
                ("wechat", "微信公众号", "WeChat public account"),
                ("notice_board", "公告栏", "Notice board"),
                ("neighbours", "邻居", "Neighbours"),
            ]),
            question("wanted", QuestionKind::MultipleChoice, "您希望增加哪些活动？", "Which activities would you like more of?", &[
                ("language", "语言交流", "Language exchange"),
                ("festivals", "节日活动", "Festivals"),
                ("health", "健康讲座", "Health talks"),
                ("repairs", "便民维修", "Repairs"),
            ]),
            question("suggestions", QuestionKind::Text, "您还有什么建议？", "Any other suggestions?", &[]),
        ]),
        audience: SurveyAudience::Residents,
        audience_event_id: None,
        opens_at: invited_at,
        closes_at: now + chrono::Duration::days(14),
        reminder_after_days: Some(12),
        state: SurveyState::Open,
        invited_at: Some(invited_at),
        created_at: invited_at,
        updated_at: invited_at,
        version: 2,
    }
    .into_active_model()
    .reset_all()
    .insert(txn)
    .await?;

    let answers = |n: usize| {
        let rating = |offset: usize| Some(3 + ((n + offset) % 3) as i32);
        let mut given = vec![
            Answer {
                question_id: "overall".to_owned(),
                rating: rating(0),
                ..Answer::default()
            },
            Answer {
                question_id: "stations".to_owned(),
                rating: rating(1),
                ..Answer::default()
            },
            Answer {
                question_id: "heard_from".to_owned(),
                choice: Some(["wechat", "notice_board", "neighbours"][n % 3].to_owned()),
                ..Answer::default()
            },
            Answer {
                question_id: "wanted".to_owned(),
                choices: Some(
                    match ["language", "health", "repairs", "festivals"][n % 4] {
                        "festivals" => vec!["festivals".to_owned()],
                        other => vec![other.to_owned(), "festivals".to_owned()],
                    },
                ),
                ..Answer::default()
            },
        ];
        if n.is_multiple_of(4) {
            given.push(Answer {
                question_id: "suggestions".to_owned(),
                text: Some(
                    [
                        "希望多办几次英语角。",
                        "More evening events, please.",
                        "快递柜旁边加个长椅。",
                    ][n % 3]
                        .to_owned(),
                ),
                ..Answer::default()
            });
        }
        Answers(given)
    };
    let people = person::Entity::find()
        .filter(person::Column::CommunityId.eq(community_id))
        .all(txn)
        .await?;
    let mut n = 0;
    for person in &people {
        let invitation = Uuid::now_v7();
        // Most answered through their link; Olga has not yet.
        let answered = person.full_name != "Olga Ivanova";
        survey_invitation::Model {
            id: invitation,
            survey_id,
            person_id: person.id,
            token_hash: None,
            reminder_token_hash: None,
            created_at: invited_at,
            reminded_at: None,
            answered_at: answered.then_some(invited_at + chrono::Duration::hours(n as i64 + 1)),
        }
        .into_active_model()
        .reset_all()
        .insert(txn)
        .await?;
        if answered {
            survey_response::Model {
                id: Uuid::now_v7(),
                survey_id,
                person_id: Some(person.id),
                invitation_id: Some(invitation),
                mode: ResponseMode::Link,
                collected_by: None,
                nationality: Some(person.nationality.clone()),
                locale: person.locale.clone(),
                answers: answers(n),
                submitted_at: invited_at + chrono::Duration::hours(n as i64 + 1),
            }
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await?;
            n += 1;
        }
    }
    // Door to door: neighbours who are not in Huashen, answered in Chinese.
    for _ in 0..8 {
        survey_response::Model {
            id: Uuid::now_v7(),
            survey_id,
            person_id: None,
            invitation_id: None,
            mode: ResponseMode::Interview,
            collected_by: Some("王芳".to_owned()),
            nationality: Some("CN".to_owned()),
            locale: "zh-CN".to_owned(),
            answers: answers(n),
            submitted_at: invited_at + chrono::Duration::days(2),
        }
        .into_active_model()
        .reset_all()
        .insert(txn)
        .await?;
        n += 1;
    }
    Ok(())
}
