//! Typed JSON columns.

use std::collections::BTreeMap;

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

/// Text in several languages, keyed by BCP 47 locale: `{"zh-CN": "…", "en": "…"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct LocalizedText(pub BTreeMap<String, String>);

/// A short list of tags, such as languages spoken or skills.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct TagList(pub Vec<String>);
