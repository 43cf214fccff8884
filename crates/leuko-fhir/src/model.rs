//! The FHIR R4 subset leuko reads and writes, as typed JSON that round-trips without loss.
//!
//! Two building blocks make read → write lossless:
//!
//! - [`Decimal`] keeps a JSON number's exact text (`0.10`, `1.230`, `1e-3`, `-0.0`,
//!   `12345678901234567890.123` are written back as they came), with [`Decimal::to_f64`] for
//!   the engine. FHIR's `decimal` is a precision-carrying type: `0.10` and `0.1` say different
//!   things about the measurement, and an `f64` cannot tell them apart.
//! - [`Open<T>`] wraps a typed element `T` and keeps the members `T` does not know, **in
//!   order and with their exact text** (a [`RawValue`] each, so decimals inside unknown members,
//!   extensions and nested objects survive too). Members `T` knows are read into `T`; a known
//!   member whose value is `null` or `[]` (which `T` would drop) is kept as text. Writing puts
//!   every member back where it was, with `T`'s value for the known ones; members `T` gained
//!   since are written after them, in `T`'s order. An `Open::new(t)` made by leuko's writer
//!   has no read members and writes exactly as `T` does.
//!
//! A [`Resource`] is dispatched on `resourceType`: [`Bundle`], [`Patient`], [`Observation`],
//! [`RiskAssessment`] and [`ServiceRequest`] are typed; any other resource type is kept whole
//! as an [`Resource::Other`], member by member.
//!
//! Exactness holds when writing **text** (`serde_json::to_string`, `to_writer`, or
//! [`Resource::to_json`]); `serde_json::to_value` turns every number into a `serde_json::Number`
//! (an `f64` for fractions) as it always does. Reading needs a serde_json deserializer (from
//! text, or from a `Value`, which has already lost the text of its numbers). Errors name the
//! member path (`entry[3].resource.valueQuantity.value`) and the value.
//!
//! Member order is kept; the bytes between members are not (a pretty-printed document is
//! written back compact), and a key written with an escape (`"\u0061"`) comes back unescaped:
//! the result is JSON-equal, and byte-equal for compact input.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::FhirError;

// ---------------------------------------------------------------------------------------------
// Raw JSON text.

/// One JSON value's exact text.
#[derive(Clone)]
pub struct Raw(Box<RawValue>);

impl Raw {
    /// The text, exactly as read.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Parses `text` as one JSON value and keeps it as it is.
    ///
    /// # Errors
    /// When `text` is not one JSON value.
    pub fn from_text(text: &str) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text.to_owned()).map(Raw)
    }

    /// `null` or `[]`: a value a typed field would drop, so it is kept as text instead.
    fn is_droppable(&self) -> bool {
        let t = self.get();
        t == "null"
            || (t.starts_with('[') && t.ends_with(']') && t[1..t.len() - 1].trim().is_empty())
    }
}

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl PartialEq for Raw {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for Raw {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(Raw)
    }
}

/// A JSON object's members in order, each value as its exact text.
type Members = Vec<(String, Raw)>;

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key::<String>()? {
            // Syntax errors pass through as they are: they carry the position in the text.
            let value = map.next_value::<Raw>()?;
            members.push((key, value));
        }
        Ok(members)
    }
}

fn read_members<'de, D: Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
    d.deserialize_map(MembersVisitor)
}

/// A list of members, deserializable (for re-reading what `T` serialized).
struct MemberList(Members);

impl<'de> Deserialize<'de> for MemberList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read_members(d).map(MemberList)
    }
}

// ---------------------------------------------------------------------------------------------
// Error paths.

/// serde_json appends " at line L column C" to its errors; inside a member that position is
/// relative to the member's own text, which helps nobody, so it is taken off.
fn bare(e: &dyn fmt::Display) -> String {
    let mut s = e.to_string();
    if let Some(i) = s.rfind(" at line ") {
        let tail = &s[i + " at line ".len()..];
        let numeric = tail
            .split(" column ")
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if numeric && tail.contains(" column ") {
            s.truncate(i);
        }
    }
    s
}

/// A message about `inner` under the member `key` (or the index `[i]`): `at `path`: msg`,
/// joining paths when `inner` already has one.
fn at(key: &str, inner: &dyn fmt::Display) -> String {
    let msg = bare(inner);
    match split_path(&msg) {
        Some((path, rest)) if path.starts_with('[') => format!("at `{key}{path}`: {rest}"),
        Some((path, rest)) => format!("at `{key}.{path}`: {rest}"),
        None => format!("at `{key}`: {msg}"),
    }
}

fn split_path(msg: &str) -> Option<(&str, &str)> {
    let rest = msg.strip_prefix("at `")?;
    let end = rest.find("`: ")?;
    Some((&rest[..end], &rest[end + 3..]))
}

/// A serde error as a [`FhirError`]: the path it carries (or `$`) and the message.
pub(crate) fn fhir_error(e: &dyn fmt::Display) -> FhirError {
    let msg = bare(e);
    match split_path(&msg) {
        Some((path, rest)) => FhirError {
            path: path.to_owned(),
            message: rest.to_owned(),
        },
        None => FhirError {
            path: "$".to_owned(),
            message: msg,
        },
    }
}

/// `#[serde(deserialize_with = "seq")]` on a `Vec`: errors name the element's index.
fn seq<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Seq<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Seq<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(1024));
            loop {
                match seq.next_element::<T>() {
                    Ok(Some(x)) => out.push(x),
                    Ok(None) => return Ok(out),
                    Err(e) => {
                        let msg = bare(&e);
                        let i = out.len();
                        return Err(de::Error::custom(match split_path(&msg) {
                            Some((path, rest)) if path.starts_with('[') => {
                                format!("at `[{i}]{path}`: {rest}")
                            }
                            Some((path, rest)) => format!("at `[{i}].{path}`: {rest}"),
                            None => format!("at `[{i}]`: {msg}"),
                        }));
                    }
                }
            }
        }
    }
    d.deserialize_seq(Seq(std::marker::PhantomData))
}

// ---------------------------------------------------------------------------------------------
// Decimal.

/// A FHIR `decimal` as its exact JSON text (`0.10` stays `0.10`, `1e-3` stays `1e-3`).
///
/// Equality is textual: `0.10` and `0.1` are different decimals (they report different
/// precisions), even though [`Decimal::to_f64`] gives both as 0.1.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Decimal(String);

/// Text that is not a JSON number (FHIR's decimal grammar is JSON's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a decimal number")]
pub struct DecimalError(pub String);

impl Decimal {
    /// A decimal from its text, which must be a JSON number
    /// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    ///
    /// # Errors
    /// [`DecimalError`] naming the text when it is not a number.
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        if is_json_number(text) {
            Ok(Decimal(text.to_owned()))
        } else {
            Err(DecimalError(shorten(text)))
        }
    }

    /// The shortest text that reads back as `v`: a whole number below 2^53 without a decimal
    /// point (400, not 400.0, which would claim a precision nobody reported), anything else as
    /// the shortest decimal that reads back as the same `f64` (0.4, not 0.40000000000000002).
    /// `None` for infinities and NaN, which JSON cannot write.
    pub fn from_f64(v: f64) -> Option<Self> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every whole number below is exact
        if !v.is_finite() {
            return None;
        }
        let text = if v.fract() == 0.0 && v.abs() < EXACT {
            // -0.0 is written 0, as serde_json writes the integer 0.
            format!("{}", v as i64)
        } else {
            serde_json::to_string(&v).ok()?
        };
        Some(Decimal(text))
    }

    /// The text, exactly as read or made.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as the nearest `f64` (correctly rounded); `None` when it is beyond `f64`'s
    /// range (such as `1e400`).
    pub fn to_f64(&self) -> Option<f64> {
        self.0.parse::<f64>().ok().filter(|v| v.is_finite())
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({})", self.0)
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, DecimalError> {
        Decimal::parse(s)
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// JSON's number grammar, which FHIR's `decimal` shares.
pub fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.0.clone()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let text = raw.get();
        if is_json_number(text) {
            Ok(Decimal(text.to_owned()))
        } else {
            Err(de::Error::custom(format!(
                "expected a decimal number, found {}",
                shorten(text)
            )))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Open<T>.

/// A member as read: one `T` holds, or one kept as text.
#[derive(Clone, Debug, PartialEq)]
enum Slot {
    Known(String),
    Unknown(String, Raw),
}

/// A typed element `T` that keeps the members `T` does not know, in order, with their exact
/// text. See the [module documentation](self).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Open<T> {
    value: T,
    /// The members as read, in order; empty for an element made in code.
    slots: Vec<Slot>,
}

impl<T> Open<T> {
    /// An element made in code: written exactly as `T` writes.
    pub fn new(value: T) -> Self {
        Open {
            value,
            slots: Vec::new(),
        }
    }

    /// The typed part.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The members `T` does not hold, in order, with their exact text.
    pub fn unknown(&self) -> impl Iterator<Item = (&str, &str)> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Unknown(k, v) => Some((k.as_str(), v.get())),
            Slot::Known(_) => None,
        })
    }

    /// Whether a member of this name was read and kept as text.
    fn has_unknown(&self, key: &str) -> bool {
        self.unknown().any(|(k, _)| k == key)
    }
}

impl<T> From<T> for Open<T> {
    fn from(value: T) -> Self {
        Open::new(value)
    }
}

impl<T> Deref for Open<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Open<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: DeserializeOwned> Open<T> {
    /// Reads `T` from an object's members; the rest are kept.
    fn from_members(members: Members) -> Result<Self, String> {
        let fields = field_names::<T>();
        let known = |k: &str, v: &Raw| fields.contains(&k) && !v.is_droppable();
        let value = {
            let list: Vec<(&str, &RawValue)> = members
                .iter()
                .filter(|(k, v)| known(k, v))
                .map(|(k, v)| (k.as_str(), &*v.0))
                .collect();
            T::deserialize(de::value::MapAccessDeserializer::new(KnownMembers {
                iter: list.into_iter(),
                pending: None,
            }))
            .map_err(|e| bare(&e))?
        };
        let slots = members
            .into_iter()
            .map(|(k, v)| {
                if known(&k, &v) {
                    Slot::Known(k)
                } else {
                    Slot::Unknown(k, v)
                }
            })
            .collect();
        Ok(Open { value, slots })
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Open<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let members = read_members(d)?;
        Open::from_members(members).map_err(de::Error::custom)
    }
}

impl<T: Serialize> Serialize for Open<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.slots.is_empty() {
            return self.value.serialize(s);
        }
        // T's own members, as text, then merged into the order read.
        let text = serde_json::to_string(&self.value).map_err(serde::ser::Error::custom)?;
        let MemberList(ours) = serde_json::from_str(&text).map_err(serde::ser::Error::custom)?;
        let mut used = vec![false; ours.len()];
        let mut map = s.serialize_map(None)?;
        for slot in &self.slots {
            match slot {
                Slot::Known(k) => {
                    if let Some(i) = ours.iter().position(|(o, _)| o == k)
                        && let (Some(u), Some((key, value))) = (used.get_mut(i), ours.get(i))
                    {
                        *u = true;
                        map.serialize_entry(key, value)?;
                    }
                }
                Slot::Unknown(k, v) => map.serialize_entry(k, v)?,
            }
        }
        for ((key, value), u) in ours.iter().zip(&used) {
            if !u {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// Feeds the known members to `T`'s derived `Deserialize`, each value from its own text so
/// that [`Decimal`] and nested [`Open`]s see the exact text.
struct KnownMembers<'a> {
    iter: std::vec::IntoIter<(&'a str, &'a RawValue)>,
    pending: Option<(&'a str, &'a RawValue)>,
}

impl<'a> MapAccess<'a> for KnownMembers<'a> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.pending = Some((key, value));
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let Some((key, raw)) = self.pending.take() else {
            return Err(de::Error::custom("a value without its key"));
        };
        let mut d = serde_json::Deserializer::from_str(raw.get());
        seed.deserialize(&mut d)
            .and_then(|v| d.end().map(|()| v))
            .map_err(|e| de::Error::custom(at(key, &e)))
    }
}

/// The member names a derived `Deserialize` knows (after `rename`/`rename_all`), read from
/// what it passes to `deserialize_struct`.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Introspect(&mut fields));
    fields
}

struct Introspect<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for Introspect<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

// ---------------------------------------------------------------------------------------------
// Resources.

/// A FHIR resource, dispatched on `resourceType`.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    /// A Bundle.
    Bundle(Box<Open<Bundle>>),
    /// A Patient.
    Patient(Open<Patient>),
    /// An Observation.
    Observation(Box<Open<Observation>>),
    /// A RiskAssessment.
    RiskAssessment(Box<Open<RiskAssessment>>),
    /// A ServiceRequest.
    ServiceRequest(Box<Open<ServiceRequest>>),
    /// Any other resource type (its name, and every member kept as text).
    Other(String, Open<Empty>),
}

/// No typed members: everything is kept as text.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Empty {}

impl Resource {
    /// The `resourceType`.
    pub fn resource_type(&self) -> &str {
        match self {
            Resource::Bundle(_) => "Bundle",
            Resource::Patient(_) => "Patient",
            Resource::Observation(_) => "Observation",
            Resource::RiskAssessment(_) => "RiskAssessment",
            Resource::ServiceRequest(_) => "ServiceRequest",
            Resource::Other(t, _) => t,
        }
    }

    /// Reads a resource from JSON text, keeping every member.
    ///
    /// # Errors
    /// A [`FhirError`] naming the member path and the value.
    pub fn from_json(bytes: &[u8]) -> Result<Self, FhirError> {
        serde_json::from_slice(bytes).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                FhirError {
                    path: "$".to_owned(),
                    message: format!(
                        "not valid JSON (line {}, column {}): {}",
                        e.line(),
                        e.column(),
                        bare(&e)
                    ),
                }
            } else {
                fhir_error(&e)
            }
        })
    }

    /// Writes the resource as compact JSON text: what was read comes back member for member,
    /// decimals digit for digit.
    ///
    /// # Errors
    /// Only if a member kept as text is not JSON, which reading never lets happen.
    pub fn to_json(&self) -> Result<String, FhirError> {
        serde_json::to_string(self).map_err(|e| fhir_error(&e))
    }

    fn from_members(members: Members) -> Result<Self, String> {
        let Some((_, rt)) = members.iter().find(|(k, _)| k == "resourceType") else {
            return Err("at `resourceType`: missing".to_owned());
        };
        let rt: String = serde_json::from_str(rt.get()).map_err(|e| at("resourceType", &e))?;
        Ok(match rt.as_str() {
            "Bundle" => Resource::Bundle(Box::new(Open::from_members(members)?)),
            "Patient" => Resource::Patient(Open::from_members(members)?),
            "Observation" => Resource::Observation(Box::new(Open::from_members(members)?)),
            "RiskAssessment" => Resource::RiskAssessment(Box::new(Open::from_members(members)?)),
            "ServiceRequest" => Resource::ServiceRequest(Box::new(Open::from_members(members)?)),
            _ => Resource::Other(rt, Open::from_members(members)?),
        })
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let members = read_members(d)?;
        Resource::from_members(members).map_err(de::Error::custom)
    }
}

/// `resourceType` first, then the resource's members (for a resource made in code).
#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "resourceType")]
    resource_type: &'a str,
    #[serde(flatten)]
    inner: &'a T,
}

fn tagged<S: Serializer, T: Serialize>(s: S, rt: &str, r: &Open<T>) -> Result<S::Ok, S::Error> {
    if r.has_unknown("resourceType") {
        // Read: `resourceType` is written where it was.
        r.serialize(s)
    } else {
        Tagged {
            resource_type: rt,
            inner: r,
        }
        .serialize(s)
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let rt = self.resource_type();
        match self {
            Resource::Bundle(r) => tagged(s, rt, r),
            Resource::Patient(r) => tagged(s, rt, r),
            Resource::Observation(r) => tagged(s, rt, r),
            Resource::RiskAssessment(r) => tagged(s, rt, r),
            Resource::ServiceRequest(r) => tagged(s, rt, r),
            Resource::Other(_, r) => tagged(s, rt, r),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data types. Scalars are `Option`s and lists `Vec`s (absent when empty), so a member that is
// absent stays absent; members leuko does not use are kept by the surrounding `Open`.

/// Coding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coding {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// CodeableConcept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeableConcept {
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub coding: Vec<Open<Coding>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Quantity (also SimpleQuantity).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quantity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Annotation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Identifier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identifier {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Extension (typed: `url` and `valueCodeableConcept`; any other `value[x]` is kept as text).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<Open<CodeableConcept>>,
}

/// Observation.referenceRange.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceRange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<Open<Quantity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<Open<Quantity>>,
}

/// Patient.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
}

/// Observation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub identifier: Vec<Open<Identifier>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub category: Vec<Open<CodeableConcept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Open<CodeableConcept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Open<Reference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Open<Quantity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_integer: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub note: Vec<Open<Annotation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Open<CodeableConcept>>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub reference_range: Vec<Open<ReferenceRange>>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub derived_from: Vec<Open<Reference>>,
}

/// RiskAssessment.prediction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Open<CodeableConcept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability_decimal: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
}

/// RiskAssessment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskAssessment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub extension: Vec<Open<Extension>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Open<CodeableConcept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Open<CodeableConcept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Open<Reference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrence_date_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub basis: Vec<Open<Reference>>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub prediction: Vec<Open<Prediction>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitigation: Option<String>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub note: Vec<Open<Annotation>>,
}

/// ServiceRequest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Open<CodeableConcept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Open<Reference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authored_on: Option<String>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub reason_code: Vec<Open<CodeableConcept>>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub note: Vec<Open<Annotation>>,
}

/// Bundle.entry (`search`, `request`, `response` are kept as text).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
}

/// Bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(
        default,
        deserialize_with = "seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entry: Vec<Open<Entry>>,
}
