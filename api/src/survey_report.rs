//! The survey report: response rates, and per question the distribution of answers,
//! overall and by nationality group and locale. A group is shown only when at least
//! `min_group` people answered in it; small nationalities are merged into `other`
//! (and left out if that is still small), so no single resident can be picked out.
//! Free text appears only in the CSV, labelled with the finest group shown that holds
//! its writer, and not at all when fewer than `min_group` people answered.

use std::collections::BTreeMap;

use entities::enums::{QuestionKind, ResponseMode};
use entities::survey::Question;
use entities::survey_response::{self, Answer};
use poem_openapi::Object;
use serde::Serialize;

/// The label of respondents whose nationality is not known (anonymous interviews).
pub const UNKNOWN: &str = "unknown";
/// The label of foreign respondents of nationalities too small to show alone.
pub const OTHER: &str = "other";
/// The label of all foreign respondents.
pub const FOREIGN: &str = "foreign";

#[derive(Object, Serialize, Clone, Debug, PartialEq)]
pub struct SurveyReport {
    pub survey_id: uuid::Uuid,
    /// The smallest group shown (`HUASHEN_SURVEY_MIN_GROUP`).
    pub min_group_size: i64,
    /// People invited: the survey's audience when it opened.
    pub invited: i64,
    pub response_count: i64,
    /// Invited people who answered, by link or interview, ÷ invited; anonymous interviews
    /// count in `response_count` only.
    pub response_rate: f64,
    pub by_mode: Vec<ModeCount>,
    /// The community's nationality and `foreign`.
    pub by_group: Vec<GroupRate>,
    pub questions: Vec<QuestionReport>,
}

#[derive(Object, Serialize, Clone, Debug, PartialEq)]
pub struct ModeCount {
    pub mode: ResponseMode,
    pub response_count: i64,
}

#[derive(Object, Serialize, Clone, Debug, PartialEq)]
pub struct GroupRate {
    pub group: String,
    pub invited: i64,
    /// Invited people of the group who answered.
    pub response_count: i64,
    pub response_rate: f64,
}

#[derive(Object, Serialize, Clone, Debug, PartialEq)]
pub struct QuestionReport {
    pub id: String,
    pub kind: QuestionKind,
    /// The question in the report's locale.
    pub text: String,
    pub all: Distribution,
    /// The community's nationality, `foreign`, each foreign nationality with enough
    /// respondents, `other` for the rest, `unknown`: each only when large enough.
    pub by_nationality: Vec<GroupDistribution>,
    /// Each locale with enough respondents, `other` for the rest when large enough.
    pub by_locale: Vec<GroupDistribution>,
}

#[derive(Object, Serialize, Clone, Debug, PartialEq)]
pub struct GroupDistribution {
    pub group: String,
    /// People in the group who responded (whether or not they answered this question).
    pub respondents: i64,
    pub distribution: Distribution,
}

#[derive(Object, Serialize, Clone, Debug, PartialEq, Default)]
pub struct Distribution {
    /// Responses that answered the question.
    pub answers: i64,
    /// Per rating value 1–5, or per choice (in the question's order); none for text.
    pub counts: Vec<ValueCount>,
    /// Of ratings.
    pub mean: Option<f64>,
    /// Of ratings.
    pub median: Option<f64>,
}

#[derive(Object, Serialize, Clone, Debug, PartialEq)]
pub struct ValueCount {
    /// The rating (`1`–`5`) or the choice's id.
    pub value: String,
    pub count: i64,
}

/// One line of the report as CSV.
#[derive(Object, Serialize, Clone, Debug, PartialEq)]
pub struct SurveyReportRow {
    /// `response_rate`, `answers` or `text`.
    pub section: String,
    pub question_id: Option<String>,
    pub question: Option<String>,
    /// `mode`, `group` (response rates); `all`, `nationality`, `locale` (answers and texts).
    pub breakdown: String,
    pub group: String,
    /// Responses in the group (none on text lines).
    pub respondents: Option<i64>,
    /// The rating or choice counted, or empty.
    pub value: Option<String>,
    /// How many chose `value`; for response rates, how many were invited.
    pub count: Option<i64>,
    /// The mean rating; for response rates, the rate.
    pub mean: Option<f64>,
    pub median: Option<f64>,
    /// A free-text answer.
    pub text: Option<String>,
}

/// Who was invited, and what came back.
pub struct Inputs<'a> {
    pub survey_id: uuid::Uuid,
    pub questions: &'a [Question],
    /// Each person invited, with their nationality.
    pub invited: &'a [(uuid::Uuid, String)],
    pub responses: &'a [survey_response::Model],
    /// The community's country: its nationals are not foreign.
    pub country: &'a str,
    pub min_group: usize,
}

/// A group of respondents: its label and their indices.
struct Group {
    label: String,
    members: Vec<usize>,
}

fn rate(responses: usize, invited: usize) -> f64 {
    if invited == 0 {
        0.0
    } else {
        responses as f64 / invited as f64
    }
}

impl Inputs<'_> {
    fn is_foreign(&self, nationality: Option<&str>) -> bool {
        nationality.is_some_and(|n| n != self.country)
    }

    fn nationality_groups(&self) -> Vec<Group> {
        let n = self.min_group;
        let nationality = |i: usize| self.responses[i].nationality.as_deref();
        let all = 0..self.responses.len();
        let mut by_code: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for i in all.clone().filter(|&i| self.is_foreign(nationality(i))) {
            by_code
                .entry(nationality(i).unwrap_or_default())
                .or_default()
                .push(i);
        }
        let mut groups = vec![
            Group {
                label: self.country.to_owned(),
                members: all
                    .clone()
                    .filter(|&i| nationality(i) == Some(self.country))
                    .collect(),
            },
            Group {
                label: FOREIGN.to_owned(),
                members: all
                    .clone()
                    .filter(|&i| self.is_foreign(nationality(i)))
                    .collect(),
            },
        ];
        let mut other = Vec::new();
        for (code, members) in by_code {
            if members.len() >= n {
                groups.push(Group {
                    label: code.to_owned(),
                    members,
                });
            } else {
                other.extend(members);
            }
        }
        other.sort_unstable();
        groups.push(Group {
            label: OTHER.to_owned(),
            members: other,
        });
        groups.push(Group {
            label: UNKNOWN.to_owned(),
            members: all.filter(|&i| nationality(i).is_none()).collect(),
        });
        groups.retain(|g| g.members.len() >= n);
        groups
    }

    fn locale_groups(&self) -> Vec<Group> {
        let mut by_locale: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, response) in self.responses.iter().enumerate() {
            by_locale.entry(&response.locale).or_default().push(i);
        }
        let mut groups = Vec::new();
        let mut other = Vec::new();
        for (locale, members) in by_locale {
            if members.len() >= self.min_group {
                groups.push(Group {
                    label: locale.to_owned(),
                    members,
                });
            } else {
                other.extend(members);
            }
        }
        if other.len() >= self.min_group {
            other.sort_unstable();
            groups.push(Group {
                label: OTHER.to_owned(),
                members: other,
            });
        }
        groups
    }

    fn answer<'a>(&'a self, i: usize, question: &Question) -> Option<&'a Answer> {
        self.responses[i]
            .answers
            .0
            .iter()
            .find(|a| a.question_id == question.id)
    }

    fn distribution(&self, question: &Question, members: &[usize]) -> Distribution {
        let answers: Vec<&Answer> = members
            .iter()
            .filter_map(|&i| self.answer(i, question))
            .collect();
        let count =
            |hit: &dyn Fn(&Answer) -> bool| answers.iter().filter(|a| hit(a)).count() as i64;
        let mut d = Distribution {
            answers: answers.len() as i64,
            ..Distribution::default()
        };
        match question.kind {
            QuestionKind::Rating => {
                let mut ratings: Vec<i32> = answers.iter().filter_map(|a| a.rating).collect();
                ratings.sort_unstable();
                d.counts = (1..=5)
                    .map(|value| ValueCount {
                        value: value.to_string(),
                        count: count(&|a| a.rating == Some(value)),
                    })
                    .collect();
                if !ratings.is_empty() {
                    let len = ratings.len();
                    d.mean = Some(f64::from(ratings.iter().sum::<i32>()) / len as f64);
                    d.median = Some(if len % 2 == 1 {
                        f64::from(ratings[len / 2])
                    } else {
                        f64::from(ratings[len / 2 - 1] + ratings[len / 2]) / 2.0
                    });
                }
            }
            QuestionKind::SingleChoice | QuestionKind::MultipleChoice => {
                d.counts = question
                    .choices
                    .iter()
                    .map(|choice| ValueCount {
                        value: choice.id.clone(),
                        count: count(&|a| {
                            a.choice.as_deref() == Some(choice.id.as_str())
                                || a.choices.as_ref().is_some_and(|c| c.contains(&choice.id))
                        }),
                    })
                    .collect();
            }
            QuestionKind::Text => {}
        }
        d
    }

    /// The report, with each question's text in the caller's language.
    pub fn report(&self, text: impl Fn(&Question) -> String) -> SurveyReport {
        let responses = self.responses.len();
        let answered: std::collections::HashSet<uuid::Uuid> =
            self.responses.iter().filter_map(|r| r.person_id).collect();
        let rate_of = |group: String, foreign: Option<bool>| {
            let invited: Vec<_> = self
                .invited
                .iter()
                .filter(|(_, n)| foreign.is_none_or(|f| self.is_foreign(Some(n)) == f))
                .collect();
            let responded = invited.iter().filter(|(p, _)| answered.contains(p)).count();
            GroupRate {
                group,
                invited: invited.len() as i64,
                response_count: responded as i64,
                response_rate: rate(responded, invited.len()),
            }
        };
        let nationality_groups = self.nationality_groups();
        let locale_groups = self.locale_groups();
        let everyone: Vec<usize> = (0..responses).collect();
        let breakdown = |groups: &[Group], question: &Question| {
            groups
                .iter()
                .map(|g| GroupDistribution {
                    group: g.label.clone(),
                    respondents: g.members.len() as i64,
                    distribution: self.distribution(question, &g.members),
                })
                .collect()
        };
        SurveyReport {
            survey_id: self.survey_id,
            min_group_size: self.min_group as i64,
            invited: self.invited.len() as i64,
            response_count: responses as i64,
            response_rate: rate_of(String::new(), None).response_rate,
            by_mode: [ResponseMode::Link, ResponseMode::Interview]
                .into_iter()
                .map(|mode| ModeCount {
                    mode,
                    response_count: self.responses.iter().filter(|r| r.mode == mode).count() as i64,
                })
                .collect(),
            by_group: vec![
                rate_of(self.country.to_owned(), Some(false)),
                rate_of(FOREIGN.to_owned(), Some(true)),
            ],
            questions: self
                .questions
                .iter()
                .map(|q| QuestionReport {
                    id: q.id.clone(),
                    kind: q.kind,
                    text: text(q),
                    all: self.distribution(q, &everyone),
                    by_nationality: breakdown(&nationality_groups, q),
                    by_locale: breakdown(&locale_groups, q),
                })
                .collect(),
        }
    }

    /// Free-text answers by question id, each with the finest nationality group shown
    /// that holds its writer (`all` when none does); none when too few responded at all.
    pub fn texts(&self) -> BTreeMap<String, Vec<(String, String)>> {
        if self.responses.len() < self.min_group {
            return BTreeMap::new();
        }
        // Later groups are finer (a nationality after `foreign`), so they label last.
        let mut labels = vec!["all"; self.responses.len()];
        let groups = self.nationality_groups();
        for group in &groups {
            for &i in &group.members {
                labels[i] = &group.label;
            }
        }
        self.questions
            .iter()
            .filter(|q| q.kind == QuestionKind::Text)
            .map(|q| {
                let texts = (0..self.responses.len())
                    .filter_map(|i| {
                        let text = self.answer(i, q)?.text.clone()?;
                        Some((labels[i].to_owned(), text))
                    })
                    .collect();
                (q.id.clone(), texts)
            })
            .collect()
    }
}

/// The report as CSV rows.
pub fn rows(
    report: &SurveyReport,
    texts: &BTreeMap<String, Vec<(String, String)>>,
) -> Vec<SurveyReportRow> {
    let mut rows = Vec::new();
    let row = |section: &str, breakdown: &str, group: &str, respondents: i64| SurveyReportRow {
        section: section.to_owned(),
        question_id: None,
        question: None,
        breakdown: breakdown.to_owned(),
        group: group.to_owned(),
        respondents: Some(respondents),
        value: None,
        count: None,
        mean: None,
        median: None,
        text: None,
    };
    rows.push(SurveyReportRow {
        count: Some(report.invited),
        mean: Some(report.response_rate),
        ..row("response_rate", "all", "all", report.response_count)
    });
    for m in &report.by_mode {
        rows.push(row(
            "response_rate",
            "mode",
            m.mode.as_str(),
            m.response_count,
        ));
    }
    for g in &report.by_group {
        rows.push(SurveyReportRow {
            count: Some(g.invited),
            mean: Some(g.response_rate),
            ..row("response_rate", "group", &g.group, g.response_count)
        });
    }
    for q in &report.questions {
        let all = GroupDistribution {
            group: "all".to_owned(),
            respondents: report.response_count,
            distribution: q.all.clone(),
        };
        let parts = std::iter::once(("all", &all))
            .chain(q.by_nationality.iter().map(|g| ("nationality", g)))
            .chain(q.by_locale.iter().map(|g| ("locale", g)));
        for (breakdown, g) in parts {
            let base = SurveyReportRow {
                question_id: Some(q.id.clone()),
                question: Some(q.text.clone()),
                mean: g.distribution.mean,
                median: g.distribution.median,
                ..row("answers", breakdown, &g.group, g.respondents)
            };
            if g.distribution.counts.is_empty() {
                rows.push(SurveyReportRow {
                    count: Some(g.distribution.answers),
                    ..base.clone()
                });
            }
            for c in &g.distribution.counts {
                rows.push(SurveyReportRow {
                    value: Some(c.value.clone()),
                    count: Some(c.count),
                    ..base.clone()
                });
            }
        }
        for (group, text) in texts.get(&q.id).into_iter().flatten() {
            rows.push(SurveyReportRow {
                question_id: Some(q.id.clone()),
                question: Some(q.text.clone()),
                text: Some(text.clone()),
                respondents: None,
                ..row("text", "nationality", group, 0)
            });
        }
    }
    rows
}
