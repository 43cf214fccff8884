//! Lower and upper limits for a person: the laboratory's own range when the result carries
//! one, else the knowledge base's interval for the person's age, sex and population.

use leuko_kb::{AnalyteId, Interval, IntervalSex, Knowledge, Population, Profile};

use crate::{Observation, Sex};

/// Age bands used by cause priors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeBand {
    /// Under 1 year.
    Infant,
    /// 1 to 17 years.
    Child,
    /// 18 to 64 years.
    Adult,
    /// 65 years and over.
    Older,
}

impl AgeBand {
    /// The band for an age in days; an unknown age is treated as adult (and reported missing).
    pub fn of(age_days: Option<u32>) -> AgeBand {
        match age_days {
            Some(d) if d < 365 => AgeBand::Infant,
            Some(d) if d < 18 * 365 + 4 => AgeBand::Child,
            Some(d) if d >= 65 * 365 + 16 => AgeBand::Older,
            _ => AgeBand::Adult,
        }
    }

    /// Words.
    pub fn as_str(self) -> &'static str {
        match self {
            AgeBand::Infant => "infant",
            AgeBand::Child => "child",
            AgeBand::Adult => "adult",
            AgeBand::Older => "older adult",
        }
    }
}

/// Where a limit came from. Cheap to copy: it names the knowledge base's entry by position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimitSource {
    /// The laboratory's range sent with the result.
    Laboratory,
    /// A knowledge-base interval.
    Interval {
        /// Its population.
        population: Population,
        /// Its position in `Knowledge::intervals`.
        index: usize,
    },
    /// The threshold profile (neutropenia definition).
    Profile {
        /// Its position in `Knowledge::profiles`.
        index: usize,
    },
}

/// A lower limit and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// The value (canonical units).
    pub value: f64,
    /// Its origin.
    pub source: LimitSource,
}

impl Limit {
    /// Source ids for citation.
    pub fn source_ids<'k>(&self, kb: &'k Knowledge) -> &'k [String] {
        match self.source {
            LimitSource::Laboratory => &[],
            LimitSource::Interval { index, .. } => kb
                .intervals
                .get(index)
                .map_or(&[], |iv| iv.sources.as_slice()),
            LimitSource::Profile { index } => {
                kb.profiles.get(index).map_or(&[], |p| p.sources.as_slice())
            }
        }
    }
}

fn interval_limit(kb: &Knowledge, iv: &Interval) -> Limit {
    let index = kb
        .intervals
        .iter()
        .position(|x| std::ptr::eq(x, iv))
        .unwrap_or(usize::MAX);
    Limit {
        value: iv.low,
        source: LimitSource::Interval {
            population: iv.population,
            index,
        },
    }
}

fn profile_limit(kb: &Knowledge, profile: &Profile, value: f64) -> Limit {
    let index = kb
        .profiles
        .iter()
        .position(|x| std::ptr::eq(x, profile))
        .unwrap_or(usize::MAX);
    Limit {
        value,
        source: LimitSource::Profile { index },
    }
}

/// The knowledge-base interval for an analyte, preferring a sex-specific row and the
/// narrowest age band.
pub fn interval(
    kb: &Knowledge,
    analyte: AnalyteId,
    age_days: Option<u32>,
    sex: Sex,
    population: Population,
) -> Option<&Interval> {
    // An unknown age is read as adult: 30 years.
    let age = age_days.unwrap_or(30 * 365);
    let sex_rank = |s: IntervalSex| match (s, sex) {
        (IntervalSex::Female, Sex::Female) | (IntervalSex::Male, Sex::Male) => Some(0),
        (IntervalSex::Any, _) => Some(1),
        _ => None,
    };
    kb.intervals
        .iter()
        .filter(|iv| iv.analyte == analyte && iv.population == population)
        .filter(|iv| iv.age_days[0] <= age && age < iv.age_days[1])
        .filter_map(|iv| sex_rank(iv.sex).map(|r| (r, iv.age_days[1] - iv.age_days[0], iv)))
        .min_by_key(|(r, width, _)| (*r, *width))
        .map(|(_, _, iv)| iv)
}

/// The general-population lower limit (the laboratory's when sent), used for CTCAE grade 1.
pub fn population_lln(
    kb: &Knowledge,
    obs: &Observation,
    age_days: Option<u32>,
    sex: Sex,
) -> Option<Limit> {
    if let Some(low) = obs.reference_range.and_then(|r| r.low) {
        return Some(Limit {
            value: low,
            source: LimitSource::Laboratory,
        });
    }
    interval(kb, obs.analyte, age_days, sex, Population::General).map(|iv| interval_limit(kb, iv))
}

/// The profile's neutropenia threshold for an age; `None` for neonates under two weeks, for
/// whom the reference interval applies.
pub fn neutropenia_threshold(
    kb: &Knowledge,
    profile: &Profile,
    age_days: Option<u32>,
) -> Option<Limit> {
    let age = age_days.unwrap_or(30 * 365);
    profile
        .neutropenia
        .iter()
        .find(|t| t.age_days[0] <= age && age < t.age_days[1])
        .map(|t| profile_limit(kb, profile, t.below))
}

/// The lower limit below which a result counts as low for this person.
///
/// ANC: the profile's neutropenia threshold (the Duffy-null interval's lower limit for a
/// Duffy-null adult, when lower). WBC: the laboratory's range, else the profile's fixed
/// threshold, else the interval (Duffy-null where it applies). Others: the laboratory's range,
/// else the interval.
pub fn personal_lln(
    kb: &Knowledge,
    profile: &Profile,
    obs: &Observation,
    age_days: Option<u32>,
    sex: Sex,
    duffy_null: bool,
) -> Option<Limit> {
    let danc = |analyte| {
        duffy_null
            .then(|| interval(kb, analyte, age_days, sex, Population::DuffyNull))
            .flatten()
            .map(|iv| interval_limit(kb, iv))
    };
    match obs.analyte {
        AnalyteId::Anc => {
            let base = neutropenia_threshold(kb, profile, age_days)
                .or_else(|| population_lln(kb, obs, age_days, sex));
            match (base, danc(AnalyteId::Anc)) {
                (Some(b), Some(d)) if d.value < b.value => Some(d),
                (b, d) => b.or(d),
            }
        }
        AnalyteId::Wbc => {
            if let Some(d) = danc(AnalyteId::Wbc) {
                return Some(d);
            }
            if let Some(low) = obs.reference_range.and_then(|r| r.low) {
                return Some(Limit {
                    value: low,
                    source: LimitSource::Laboratory,
                });
            }
            let adult = age_days.is_none_or(|d| d >= 18 * 365);
            match profile.leukopenia_below {
                Some(v) if adult => Some(profile_limit(kb, profile, v)),
                _ => population_lln(kb, obs, age_days, sex),
            }
        }
        _ => population_lln(kb, obs, age_days, sex),
    }
}

/// The lower limit of the general population (for deciding that a result looks low on a
/// standard report even when it is normal for this person).
pub fn general_lln(
    kb: &Knowledge,
    profile: &Profile,
    obs: &Observation,
    age_days: Option<u32>,
    sex: Sex,
) -> Option<Limit> {
    personal_lln(kb, profile, obs, age_days, sex, false)
}
