//! Units and numbers as laboratories write them.
//!
//! Spellings are data (`knowledge/units.toml`); this module only normalises a spelling so that
//! `10*9/L`, `10^9/L`, `x10⁹/L`, `×10E9/L` and the `x10\S\9/L` of HL7 feeds compare equal, and
//! splits free text such as `4x10^9/L`, `4х109` or `4,000 per microliter` into a number and a
//! unit. Conversion multiplies by an exact power of ten first, so a value on a grade boundary
//! in one unit lands exactly on it in the canonical unit. A value outside the analyte's
//! plausible range is refused with the value and the unit named: never reinterpreted.

use leuko_kb::{Analyte, AnalyteId, Dimension, Knowledge, Unit};

/// Why a value could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// The unit is not one leuko knows for this analyte.
    #[error("unit {unit:?} is not a known unit for {analyte}")]
    UnknownUnit {
        /// The analyte's name.
        analyte: String,
        /// The unit as given.
        unit: String,
    },
    /// The number could not be read.
    #[error("{text:?} is not a number")]
    NotANumber {
        /// The text as given.
        text: String,
    },
    /// The value is outside the plausible range.
    #[error(
        "{analyte} {value} {unit} is implausible (plausible range {min}-{max} {canonical}); it is refused, not reinterpreted"
    )]
    Implausible {
        /// The analyte's name.
        analyte: String,
        /// The value as given.
        value: f64,
        /// The unit as given.
        unit: String,
        /// The plausible range in canonical units.
        min: f64,
        /// See `min`.
        max: f64,
        /// The canonical unit.
        canonical: &'static str,
    },
}

/// The canonical unit of a dimension, as UCUM.
pub fn canonical_unit(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Count => "10*9/L",
        Dimension::Percent => "%",
        Dimension::Hemoglobin => "g/dL",
        Dimension::CellVolume => "fL",
        Dimension::B12 => "pg/mL",
        Dimension::Folate => "ng/mL",
        Dimension::Crp => "mg/L",
        Dimension::Copper => "ug/dL",
        Dimension::Temperature => "Cel",
    }
}

pub use leuko_kb::normalize_unit as normalize;

/// Finds the unit for an analyte's dimension by spelling (see [`normalize`]).
pub fn find_unit<'k>(kb: &'k Knowledge, dimension: Dimension, spelling: &str) -> Option<&'k Unit> {
    kb.unit_by_spelling(dimension, spelling)
}

/// Converts a value in `unit` to the analyte's canonical unit and checks plausibility.
///
/// # Errors
/// [`ValueError::UnknownUnit`] or [`ValueError::Implausible`].
pub fn to_canonical(
    kb: &Knowledge,
    analyte: &Analyte,
    value: f64,
    unit: &str,
) -> Result<f64, ValueError> {
    let unit_def = if unit.trim().is_empty() {
        None
    } else {
        find_unit(kb, analyte.dimension, unit)
    };
    let unit_def = match unit_def {
        Some(u) => u,
        // A percent differential is often sent without a unit.
        None if unit.trim().is_empty() && analyte.dimension == Dimension::Percent => {
            return check_plausible(analyte, value, value, "%");
        }
        None => {
            return Err(ValueError::UnknownUnit {
                analyte: analyte.name.clone(),
                unit: unit.to_owned(),
            });
        }
    };
    let canonical = convert(unit_def, value);
    check_plausible(analyte, value, canonical, unit)
}

/// Applies a unit's conversion: `(value + offset) * 10^pow10 * factor`, the power of ten
/// applied as an exact multiplication or division so that boundaries stay exact.
pub fn convert(unit: &Unit, value: f64) -> f64 {
    let mut v = value + unit.offset;
    let p = unit.pow10.unsigned_abs().min(30);
    let scale = 10f64.powi(i32::try_from(p).unwrap_or(0));
    if unit.pow10 < 0 {
        v /= scale;
    } else if unit.pow10 > 0 {
        v *= scale;
    }
    if unit.factor != 1.0 {
        v *= unit.factor;
    }
    if unit.dimension == Dimension::Temperature && unit.offset != 0.0 {
        v = (v * 100.0).round() / 100.0;
    }
    v
}

fn check_plausible(
    analyte: &Analyte,
    given: f64,
    canonical: f64,
    unit: &str,
) -> Result<f64, ValueError> {
    let [min, max] = analyte.plausible;
    if canonical.is_finite() && canonical >= min && canonical <= max {
        Ok(canonical)
    } else {
        Err(ValueError::Implausible {
            analyte: analyte.name.clone(),
            value: given,
            unit: unit.to_owned(),
            min,
            max,
            canonical: canonical_unit(analyte.dimension),
        })
    }
}

/// A quantity read from free text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextQuantity {
    /// The number.
    pub value: f64,
    /// The unit text that followed it (may be empty).
    pub unit: String,
    /// A leading `<`, `<=`, `>` or `>=`.
    pub comparator: crate::Comparator,
}

/// Splits text such as `4x10^9/L`, `4х109`, `4,000 per microliter`, `1.5 G/L` or `<0.5`
/// into a number and a unit.
///
/// A comma followed by exactly three digits is a thousands separator when the unit counts
/// cells per microlitre or cubic millimetre (fractions of a cell are meaningless there), and a
/// decimal comma otherwise (`1,5 G/L`).
///
/// # Errors
/// [`ValueError::NotANumber`] when no number starts the text.
pub fn parse_text_quantity(text: &str) -> Result<TextQuantity, ValueError> {
    let t = text.trim();
    let (comparator, rest) = if let Some(r) = t.strip_prefix("<=").or_else(|| t.strip_prefix('≤'))
    {
        (crate::Comparator::LessOrEqual, r)
    } else if let Some(r) = t.strip_prefix(">=").or_else(|| t.strip_prefix('≥')) {
        (crate::Comparator::GreaterOrEqual, r)
    } else if let Some(r) = t.strip_prefix('<') {
        (crate::Comparator::Less, r)
    } else if let Some(r) = t.strip_prefix('>') {
        (crate::Comparator::Greater, r)
    } else {
        (crate::Comparator::Equal, t)
    };
    let rest = rest.trim_start();
    let end = rest
        .char_indices()
        .find(|(_, c)| {
            !(c.is_ascii_digit()
                || matches!(c, '.' | ',' | '-' | '+' | '\u{2009}' | '\u{202f}' | '\''))
        })
        .map_or(rest.len(), |(i, _)| i);
    let (number, unit) = rest.split_at(end);
    let unit = unit.trim().to_owned();
    let number = number.trim_end_matches(['.', ',']);
    if number.is_empty() || number.starts_with(['.', ',']) && number.len() == 1 {
        return Err(ValueError::NotANumber {
            text: text.to_owned(),
        });
    }
    let per_microlitre = {
        let n = normalize(&unit);
        n.starts_with("/ul")
            || n.starts_with("/mm3")
            || n.starts_with("/cumm")
            || n.starts_with("/cmm")
            || n == "ul"
    };
    let mut cleaned: String = number
        .chars()
        .filter(|c| !matches!(c, '\u{2009}' | '\u{202f}' | '\''))
        .collect();
    if cleaned.contains(',') {
        let groups: Vec<&str> = cleaned.split(',').collect();
        let thousands = groups
            .iter()
            .skip(1)
            .all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
        if thousands && (per_microlitre || cleaned.contains('.')) {
            cleaned = cleaned.replace(',', "");
        } else if groups.len() == 2 && !cleaned.contains('.') {
            cleaned = cleaned.replace(',', ".");
        } else {
            return Err(ValueError::NotANumber {
                text: text.to_owned(),
            });
        }
    }
    let value: f64 = cleaned.parse().map_err(|_| ValueError::NotANumber {
        text: text.to_owned(),
    })?;
    if !value.is_finite() {
        return Err(ValueError::NotANumber {
            text: text.to_owned(),
        });
    }
    Ok(TextQuantity {
        value,
        unit,
        comparator,
    })
}

/// Reads free text for an analyte into a canonical value (see [`parse_text_quantity`]).
///
/// # Errors
/// Any [`ValueError`].
pub fn read_text(
    kb: &Knowledge,
    analyte: AnalyteId,
    text: &str,
) -> Result<(f64, crate::Comparator), ValueError> {
    let a = kb.analyte(analyte).ok_or_else(|| ValueError::UnknownUnit {
        analyte: analyte.as_str().to_owned(),
        unit: String::new(),
    })?;
    let q = parse_text_quantity(text)?;
    Ok((to_canonical(kb, a, q.value, &q.unit)?, q.comparator))
}
