//! leuko's functions for DataFusion: the knowledge base and the core engine, callable from SQL.
//!
//! | function | arguments | result |
//! |---|---|---|
//! | `leuko_analyte(code)` | a LOINC code or a local code/name | the analyte id (`wbc`, `anc`, …) or NULL |
//! | `leuko_canonical(code, value, unit)` | a result as reported | the value in the analyte's canonical unit (counts 10^9/L), NULL when the unit is unknown or the value implausible |
//! | `leuko_lln(analyte, birth_date, sex, duffy_null, as_of_day)` | a person | the lower limit below which the count is low for them (international profile; Duffy-null aware) |
//! | `leuko_drug(text)` | a medicine as named | the knowledge base's drug id or NULL |
//! | `leuko_drug_cause(text)` | a medicine as named | `chemotherapy`, `drug-induced`, `none` or NULL (unknown drug) |
//! | `leuko_assess(...)` (aggregate) | one patient's rows | the full assessment as leuko's contract JSON |
//!
//! Every function reads the embedded knowledge base, so the same names resolve to the same
//! code in the CLI, the Ballista scheduler and every executor ([`registry`]).
//! `leuko_analyte` counts the rows it sees in [`ROWS_SEEN`] for the progress bar.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, DictionaryArray, Float64Array,
    Float64Builder, Int32Builder, Int64Array, LargeStringArray, StringArray, StringViewArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int32Type, TimeUnit};
use datafusion::common::{DataFusionError, HashMap, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use leuko_core::personal_lln;
use leuko_core::{Comparator, Observation, Sex, units};
use leuko_kb::{Analyte, AnalyteId, Knowledge, Unit};
use time::OffsetDateTime;

use crate::civil::DAY_US;

/// Codes classified by `leuko_analyte` in this process: a progress measure only (the engine
/// may classify a row's code more than once, in a filter and in a projection).
pub static ROWS_SEEN: AtomicU64 = AtomicU64::new(0);

/// The embedded knowledge base, loaded once per process.
///
/// # Errors
/// When the embedded knowledge does not parse (a build defect, caught by leuko-kb's tests).
pub fn kb() -> Result<&'static Knowledge> {
    static KB: OnceLock<std::result::Result<Knowledge, String>> = OnceLock::new();
    KB.get_or_init(|| Knowledge::embedded().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| DataFusionError::Execution(format!("embedded knowledge: {e}")))
}

/// Every leuko function, for a `SessionContext` or a Ballista function registry.
pub fn scalar_udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(Text::new("leuko_analyte", TextFn::Analyte)),
        ScalarUDF::new_from_impl(Text::new("leuko_drug", TextFn::Drug)),
        ScalarUDF::new_from_impl(Text::new("leuko_drug_cause", TextFn::DrugCause)),
        ScalarUDF::new_from_impl(Canonical::new()),
        ScalarUDF::new_from_impl(Lln::new()),
    ]
}

/// The aggregate functions.
pub fn aggregate_udfs() -> Vec<AggregateUDF> {
    vec![AggregateUDF::new_from_impl(Assess::new())]
}

/// Registers every leuko function on a session.
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    for f in scalar_udfs() {
        ctx.register_udf(f);
    }
    for f in aggregate_udfs() {
        ctx.register_udaf(f);
    }
}

fn strings(a: &ArrayRef, name: &str) -> Result<StringArray> {
    let a = cast(a, &DataType::Utf8)?;
    a.as_string_opt::<i32>().cloned().ok_or_else(|| {
        DataFusionError::Execution(format!("{name}: expected text, got {}", a.data_type()))
    })
}

/// Text as it arrives (Parquet gives string views, CSV plain strings), read without copying;
/// other types (a dictionary, a number) are cast to text first.
enum Texts<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
    Cast(StringArray),
}

impl<'a> Texts<'a> {
    fn new(a: &'a ArrayRef, name: &str) -> Result<Texts<'a>> {
        Ok(match a.data_type() {
            DataType::Utf8 => Texts::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => Texts::Large(a.as_string::<i64>()),
            DataType::Utf8View => Texts::View(a.as_string_view()),
            _ => Texts::Cast(strings(a, name)?),
        })
    }

    fn len(&self) -> usize {
        match self {
            Texts::Utf8(a) => a.len(),
            Texts::Large(a) => a.len(),
            Texts::View(a) => a.len(),
            Texts::Cast(a) => a.len(),
        }
    }

    fn get(&self, i: usize) -> Option<&str> {
        match self {
            Texts::Utf8(a) => (!a.is_null(i)).then(|| a.value(i)),
            Texts::Large(a) => (!a.is_null(i)).then(|| a.value(i)),
            Texts::View(a) => (!a.is_null(i)).then(|| a.value(i)),
            Texts::Cast(a) => (!a.is_null(i)).then(|| a.value(i)),
        }
    }
}

fn floats(a: &ArrayRef, name: &str) -> Result<Float64Array> {
    let a = cast(a, &DataType::Float64)?;
    a.as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>()
        .cloned()
        .ok_or_else(|| {
            DataFusionError::Execution(format!("{name}: expected a number, got {}", a.data_type()))
        })
}

/// The analyte a code names: a LOINC code, else a name or synonym (`WBC`, `NEUT#`).
pub fn analyte_of<'k>(kb: &'k Knowledge, code: &str) -> Option<&'k Analyte> {
    let code = code.trim();
    kb.analyte_by_loinc(code)
        .or_else(|| AnalyteId::parse(&code.to_ascii_lowercase()).and_then(|id| kb.analyte(id)))
        .or_else(|| kb.analyte_by_text(code))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TextFn {
    Analyte,
    Drug,
    DrugCause,
}

/// The type of a text function's answer: short ids (inline string views) keyed by a
/// dictionary, since a column of answers holds only a few distinct values.
fn text_dictionary() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8View))
}

/// A text-to-text lookup in the knowledge base.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Text {
    name: &'static str,
    which: TextFn,
    signature: Signature,
}

impl Text {
    fn new(name: &'static str, which: TextFn) -> Text {
        Text {
            name,
            which,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    fn lookup(&self, kb: &'static Knowledge, text: &str) -> Option<&'static str> {
        match self.which {
            TextFn::Analyte => analyte_of(kb, text).map(|a| a.id.as_str()),
            TextFn::Drug => kb.drug_by_text(text).map(|d| d.id.as_str()),
            TextFn::DrugCause => kb.drug_by_text(text).map(|d| d.cause.as_str()),
        }
    }
}

impl ScalarUDFImpl for Text {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(text_dictionary())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let kb = kb()?;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [input] = arrays.as_slice() else {
            return Err(DataFusionError::Execution(format!(
                "{}: one argument",
                self.name
            )));
        };
        if self.which == TextFn::Analyte {
            ROWS_SEEN.fetch_add(input.len() as u64, Ordering::Relaxed);
        }
        let input = Texts::new(input, self.name)?;
        // Codes repeat: look each distinct one up once per batch, and give the answers as a
        // dictionary over the few distinct ids.
        let mut keys: HashMap<&str, Option<i32>> = HashMap::new();
        let mut values: Vec<&'static str> = Vec::new();
        let mut out = Int32Builder::with_capacity(input.len());
        for i in 0..input.len() {
            let key = match input.get(i) {
                Some(text) => *keys.entry(text).or_insert_with(|| {
                    let hit = self.lookup(kb, text)?;
                    let at = values.iter().position(|v| *v == hit).unwrap_or_else(|| {
                        values.push(hit);
                        values.len() - 1
                    });
                    i32::try_from(at).ok()
                }),
                None => None,
            };
            out.append_option(key);
        }
        let dict = DictionaryArray::<Int32Type>::try_new(
            out.finish(),
            Arc::new(StringViewArray::from(values)),
        )?;
        Ok(ColumnarValue::Array(Arc::new(dict)))
    }
}

/// `leuko_canonical(code, value, unit)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Canonical {
    signature: Signature,
}

impl Canonical {
    fn new() -> Canonical {
        Canonical {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

/// The canonical value of one result, or `None` (unknown code or unit, implausible value).
pub fn canonical_value(kb: &Knowledge, code: &str, value: f64, unit: &str) -> Option<f64> {
    let analyte = analyte_of(kb, code)?;
    units::to_canonical(kb, analyte, value, unit).ok()
}

impl ScalarUDFImpl for Canonical {
    fn name(&self) -> &str {
        "leuko_canonical"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let kb = kb()?;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [code, value, unit] = arrays.as_slice() else {
            return Err(DataFusionError::Execution(
                "leuko_canonical: three arguments (code, value, unit)".into(),
            ));
        };
        let code = Texts::new(code, "leuko_canonical code")?;
        let value = floats(value, "leuko_canonical value")?;
        let unit = Texts::new(unit, "leuko_canonical unit")?;
        type Conv = Option<(&'static Analyte, Option<&'static Unit>)>;
        let mut cache: HashMap<(&str, &str), Conv> = HashMap::new();
        let mut out = Float64Builder::with_capacity(code.len());
        for i in 0..code.len() {
            let (Some(c), false) = (code.get(i), value.is_null(i)) else {
                out.append_null();
                continue;
            };
            let u = unit.get(i).unwrap_or("");
            let conv = *cache.entry((c, u)).or_insert_with(|| {
                let analyte = analyte_of(kb, c)?;
                Some((analyte, units::find_unit(kb, analyte.dimension, u)))
            });
            let v = value.value(i);
            let canonical = match conv {
                Some((analyte, Some(unit_def))) => {
                    let x = units::convert(unit_def, v);
                    let [min, max] = analyte.plausible;
                    (x.is_finite() && x >= min && x <= max).then_some(x)
                }
                // No unit (or an unknown one): the core decides (a bare percent is allowed).
                Some((analyte, None)) => units::to_canonical(kb, analyte, v, u).ok(),
                None => None,
            };
            out.append_option(canonical);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `leuko_lln(analyte, birth_date, sex, duffy_null, as_of_day)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Lln {
    signature: Signature,
}

impl Lln {
    fn new() -> Lln {
        Lln {
            signature: Signature::any(5, Volatility::Immutable),
        }
    }
}

/// The person's lower limit for an analyte (international profile), as of a day.
pub fn lower_limit(
    kb: &Knowledge,
    analyte: AnalyteId,
    birth_day: Option<i32>,
    sex: Sex,
    duffy_null: bool,
    as_of_day: i64,
) -> Option<f64> {
    let profile = kb
        .profiles
        .iter()
        .find(|p| p.default)
        .or_else(|| kb.profiles.first())?;
    let age_days = birth_day.and_then(|b| u32::try_from(as_of_day - i64::from(b)).ok());
    let probe = Observation {
        analyte,
        at: OffsetDateTime::UNIX_EPOCH,
        value: 0.0,
        comparator: Comparator::Equal,
        reported: None,
        reference_range: None,
        derived: false,
        source_ref: String::new(),
    };
    personal_lln(kb, profile, &probe, age_days, sex, duffy_null).map(|l| l.value)
}

/// Reads a sex as written in an extract.
pub fn sex_of(text: Option<&str>) -> Sex {
    match text.map(|s| s.trim().to_ascii_lowercase()) {
        Some(s) if s == "female" || s == "f" => Sex::Female,
        Some(s) if s == "male" || s == "m" => Sex::Male,
        Some(s) if s == "other" => Sex::Other,
        _ => Sex::Unknown,
    }
}

impl ScalarUDFImpl for Lln {
    fn name(&self) -> &str {
        "leuko_lln"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let kb = kb()?;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [analyte, birth, sex, duffy, as_of] = arrays.as_slice() else {
            return Err(DataFusionError::Execution(
                "leuko_lln: five arguments (analyte, birth_date, sex, duffy_null, as_of_day)"
                    .into(),
            ));
        };
        let analyte = strings(analyte, "leuko_lln analyte")?;
        let birth = cast(birth, &DataType::Date32)?;
        let birth = birth
            .as_any()
            .downcast_ref::<Date32Array>()
            .ok_or_else(|| {
                DataFusionError::Execution("leuko_lln birth_date: expected a date".into())
            })?;
        let sex = strings(sex, "leuko_lln sex")?;
        let duffy = cast(duffy, &DataType::Boolean)?;
        let duffy = duffy
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| {
                DataFusionError::Execution("leuko_lln duffy_null: expected a boolean".into())
            })?;
        let as_of = cast(as_of, &DataType::Int64)?;
        let as_of = as_of.as_any().downcast_ref::<Int64Array>().ok_or_else(|| {
            DataFusionError::Execution("leuko_lln as_of_day: expected an integer".into())
        })?;
        let mut out = Float64Builder::with_capacity(analyte.len());
        for i in 0..analyte.len() {
            let id = (!analyte.is_null(i))
                .then(|| AnalyteId::parse(analyte.value(i)))
                .flatten();
            let (Some(id), false) = (id, as_of.is_null(i)) else {
                out.append_null();
                continue;
            };
            let b = (!birth.is_null(i)).then(|| birth.value(i));
            let s = sex_of((!sex.is_null(i)).then(|| sex.value(i)));
            // Unknown Duffy status is not Duffy-null: the general limit (never under-triage).
            let d = !duffy.is_null(i) && duffy.value(i);
            out.append_option(lower_limit(kb, id, b, s, d, as_of.value(i)));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `leuko_assess(time, code, value, unit, status, birth_date, sex, duffy_null, medications, as_of)`:
/// one patient's full assessment by the core engine, as leuko's contract JSON.
///
/// `medications` is `drug|start|stop` entries joined by `;` (times as RFC 3339); `as_of` is
/// microseconds since the epoch. Corrected rows (status `C`) replace the result of the same
/// code and time.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Assess {
    signature: Signature,
}

impl Assess {
    fn new() -> Assess {
        Assess {
            signature: Signature::any(10, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for Assess {
    fn name(&self) -> &str {
        "leuko_assess"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<AssessAcc>::default())
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[rows]", args.name),
            DataType::Utf8,
            true,
        ))])
    }
}

/// One lab row kept by the accumulator.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    t: i64,
    code: String,
    value: f64,
    unit: String,
    corrected: bool,
}

/// The accumulator: the patient's rows and demographics, serialised as tab-separated lines
/// for the partial state.
#[derive(Debug, Default)]
struct AssessAcc {
    rows: Vec<Row>,
    birth_day: Option<i32>,
    sex: Option<String>,
    duffy: Option<bool>,
    meds: Option<String>,
    as_of: Option<i64>,
}

impl AssessAcc {
    fn encode(&self) -> String {
        let mut s = format!(
            "H\t{}\t{}\t{}\t{}\t{}\n",
            self.birth_day.map(|b| b.to_string()).unwrap_or_default(),
            self.sex.clone().unwrap_or_default(),
            self.duffy.map(|d| d.to_string()).unwrap_or_default(),
            self.meds
                .clone()
                .unwrap_or_default()
                .replace(['\t', '\n'], " "),
            self.as_of.map(|t| t.to_string()).unwrap_or_default(),
        );
        for r in &self.rows {
            s.push_str(&format!(
                "R\t{}\t{}\t{}\t{}\t{}\n",
                r.t,
                r.code.replace(['\t', '\n'], " "),
                r.value,
                r.unit.replace(['\t', '\n'], " "),
                u8::from(r.corrected)
            ));
        }
        s
    }

    fn decode(&mut self, text: &str) {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["H", birth, sex, duffy, meds, as_of] => {
                    self.birth_day = self.birth_day.or_else(|| birth.parse().ok());
                    self.sex = self.sex.take().or_else(|| non_empty(sex));
                    self.duffy = self.duffy.or_else(|| duffy.parse().ok());
                    self.meds = self.meds.take().or_else(|| non_empty(meds));
                    self.as_of = self.as_of.or_else(|| as_of.parse().ok());
                }
                ["R", t, code, value, unit, corrected] => {
                    if let (Ok(t), Ok(value)) = (t.parse(), value.parse()) {
                        self.rows.push(Row {
                            t,
                            code: (*code).to_owned(),
                            value,
                            unit: (*unit).to_owned(),
                            corrected: *corrected == "1",
                        });
                    }
                }
                _ => {}
            }
        }
    }
}

fn opt_str(a: &StringArray, i: usize) -> Option<&str> {
    (!a.is_null(i)).then(|| a.value(i))
}

impl Accumulator for AssessAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [t, code, value, unit, status, birth, sex, duffy, meds, as_of] = values else {
            return Err(DataFusionError::Execution(
                "leuko_assess: ten arguments (time, code, value, unit, status, birth_date, sex, duffy_null, medications, as_of)".into(),
            ));
        };
        let t = cast(t, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
        let t = t
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| DataFusionError::Execution("leuko_assess time".into()))?;
        let code = strings(code, "leuko_assess code")?;
        let value = floats(value, "leuko_assess value")?;
        let unit = strings(unit, "leuko_assess unit")?;
        let status = strings(status, "leuko_assess status")?;
        let birth = cast(birth, &DataType::Date32)?;
        let birth = birth
            .as_any()
            .downcast_ref::<Date32Array>()
            .ok_or_else(|| DataFusionError::Execution("leuko_assess birth_date".into()))?;
        let sex = strings(sex, "leuko_assess sex")?;
        let duffy = cast(duffy, &DataType::Boolean)?;
        let duffy = duffy
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| DataFusionError::Execution("leuko_assess duffy_null".into()))?;
        let meds = strings(meds, "leuko_assess medications")?;
        let as_of = cast(as_of, &DataType::Int64)?;
        let as_of = as_of
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| DataFusionError::Execution("leuko_assess as_of".into()))?;
        for i in 0..t.len() {
            if self.birth_day.is_none() && !birth.is_null(i) {
                self.birth_day = Some(birth.value(i));
            }
            if self.sex.is_none() {
                self.sex = opt_str(&sex, i).map(str::to_owned);
            }
            if self.duffy.is_none() && !duffy.is_null(i) {
                self.duffy = Some(duffy.value(i));
            }
            if self.meds.is_none() {
                self.meds = opt_str(&meds, i).map(str::to_owned);
            }
            if self.as_of.is_none() && !as_of.is_null(i) {
                self.as_of = Some(as_of.value(i));
            }
            let (Some(c), false, false) = (opt_str(&code, i), t.is_null(i), value.is_null(i))
            else {
                continue;
            };
            self.rows.push(Row {
                t: t.value(i),
                code: c.to_owned(),
                value: value.value(i),
                unit: opt_str(&unit, i).unwrap_or("").to_owned(),
                corrected: opt_str(&status, i).is_some_and(|s| s.trim().eq_ignore_ascii_case("C")),
            });
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let kb = kb()?;
        let json = assess_rows(kb, self).map_err(DataFusionError::Execution)?;
        Ok(ScalarValue::Utf8(Some(json)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .rows
                .iter()
                .map(|r| std::mem::size_of::<Row>() + r.code.len() + r.unit.len())
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(Some(self.encode()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [s] = states else {
            return Err(DataFusionError::Execution(
                "leuko_assess: one state column".into(),
            ));
        };
        let s = strings(s, "leuko_assess state")?;
        for text in s.iter().flatten() {
            self.decode(text);
        }
        Ok(())
    }
}

fn rfc3339(us: i64) -> String {
    let mut s = String::new();
    crate::civil::format_timestamp(&mut s, us);
    s
}

/// Runs the core engine on one patient's accumulated rows.
fn assess_rows(kb: &Knowledge, acc: &AssessAcc) -> std::result::Result<String, String> {
    use leuko_api::record::{
        ConditionJson, MedicationJson, PatientJson, RecordJson, ResultJson, ValueJson,
    };
    let as_of_us = acc.as_of.ok_or("leuko_assess: as_of is missing")?;
    // A corrected row replaces the other rows of its code and time.
    let mut rows: Vec<&Row> = acc.rows.iter().filter(|r| r.t <= as_of_us).collect();
    rows.sort_by(|a, b| (a.t, &a.code, a.corrected).cmp(&(b.t, &b.code, b.corrected)));
    let mut kept: Vec<&Row> = Vec::with_capacity(rows.len());
    for r in rows {
        if let Some(last) = kept.last()
            && last.t == r.t
            && last.code == r.code
            && r.corrected
        {
            kept.pop();
        }
        kept.push(r);
    }
    let results = kept
        .iter()
        .filter_map(|r| {
            let analyte = analyte_of(kb, &r.code)?;
            Some(ResultJson {
                id: None,
                analyte: analyte.id.as_str().to_owned(),
                value: ValueJson::Number(r.value),
                unit: (!r.unit.is_empty()).then(|| r.unit.clone()),
                at: rfc3339(r.t),
                reference_low: None,
                reference_high: None,
            })
        })
        .collect();
    let medications = acc
        .meds
        .iter()
        .flat_map(|m| m.split(';'))
        .filter_map(|entry| {
            let mut f = entry.split('|');
            let name = f.next()?.trim();
            if name.is_empty() {
                return None;
            }
            let start = f.next().map(str::trim).filter(|s| !s.is_empty());
            let end = f.next().map(str::trim).filter(|s| !s.is_empty());
            Some(MedicationJson {
                id: None,
                name: name.to_owned(),
                rxnorm: None,
                start: start.map(str::to_owned),
                end: end.map(str::to_owned),
            })
        })
        .collect();
    let conditions = if acc.duffy == Some(true) {
        vec![ConditionJson {
            id: None,
            name: "Duffy-null phenotype".into(),
            code: None,
            status: Some("active".into()),
            onset: None,
            abatement: None,
        }]
    } else {
        Vec::new()
    };
    let record = RecordJson {
        patient: PatientJson {
            birth_date: acc.birth_day.map(crate::civil::format_date),
            age_years: None,
            sex: acc.sex.clone(),
        },
        results,
        conditions,
        medications,
    };
    let as_of = OffsetDateTime::from_unix_timestamp_nanos(i128::from(as_of_us) * 1000)
        .map_err(|e| format!("leuko_assess: as_of {as_of_us}: {e}"))?;
    let record = record
        .to_record(kb, as_of)
        .map_err(|e| format!("leuko_assess: {e}"))?;
    let a = leuko_core::assess(kb, &record, as_of, &leuko_core::Options::default())
        .map_err(|e| format!("leuko_assess: {e}"))?;
    serde_json::to_string(&leuko_api::AssessmentJson::from_assessment(kb, &a))
        .map_err(|e| format!("leuko_assess: {e}"))
}

/// The day number (days since the epoch) of a time in microseconds.
pub fn day_of(us: i64) -> i64 {
    us.div_euclid(DAY_US)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_resolve_by_loinc_and_by_local_name() -> Result<()> {
        let kb = kb()?;
        for (code, id) in [
            ("751-8", "anc"),
            ("26499-4", "anc"),
            ("753-4", "anc"),
            ("NEUT#", "anc"),
            ("ANC", "anc"),
            ("6690-2", "wbc"),
            ("WBC", "wbc"),
            ("26446-5", "blast-pct"),
            ("8310-5", "temperature"),
        ] {
            assert_eq!(
                analyte_of(kb, code).map(|a| a.id.as_str()),
                Some(id),
                "{code}"
            );
        }
        assert!(analyte_of(kb, "XYZ-42").is_none());
        Ok(())
    }

    #[test]
    fn canonical_values_follow_the_unit() -> Result<()> {
        let kb = kb()?;
        assert_eq!(canonical_value(kb, "751-8", 450.0, "/uL"), Some(0.45));
        assert_eq!(canonical_value(kb, "751-8", 450.0, "cells/mm3"), Some(0.45));
        assert_eq!(canonical_value(kb, "751-8", 0.45, "10*3/uL"), Some(0.45));
        assert_eq!(canonical_value(kb, "6690-2", 4.5, "G/L"), Some(4.5));
        assert_eq!(canonical_value(kb, "6690-2", 4.5, "furlongs"), None);
        // 4500 x10^9/L is not a white count: refused, not guessed.
        assert_eq!(canonical_value(kb, "6690-2", 4500.0, "10*9/L"), None);
        Ok(())
    }

    #[test]
    fn duffy_null_lowers_the_limit_and_unknown_does_not() -> Result<()> {
        let kb = kb()?;
        let adult = Some(0);
        let day = 40 * 365;
        let general = lower_limit(kb, AnalyteId::Anc, adult, Sex::Female, false, day);
        let duffy = lower_limit(kb, AnalyteId::Anc, adult, Sex::Female, true, day);
        assert_eq!(general, Some(1.5));
        assert!(duffy < general, "{duffy:?} < {general:?}");
        assert_eq!(
            lower_limit(kb, AnalyteId::Wbc, None, Sex::Unknown, false, day),
            Some(4.5)
        );
        Ok(())
    }
}
