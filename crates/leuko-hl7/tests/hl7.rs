//! Fixtures for the real-world quirks of ORU^R01 feeds, ACK structure, MLLP framing, and
//! properties over arbitrary bytes.

use leuko_core::{Comparator, Sex};
use leuko_hl7::{
    AckCode, ErrorKind, Hl7Error, LocalCodes, MllpDecoder, MllpError, ResultStatus,
    ack_for_unparseable, ack_with_time, frame, oru_to_record, parse, parse_ts,
};
use leuko_kb::{AnalyteId, Knowledge};
use proptest::prelude::*;
use time::macros::datetime;

fn kb() -> &'static Knowledge {
    static KB: std::sync::OnceLock<Knowledge> = std::sync::OnceLock::new();
    KB.get_or_init(|| match Knowledge::embedded() {
        Ok(k) => k,
        Err(e) => panic!("embedded knowledge: {e}"),
    })
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

const MSH: &str = "MSH|^~\\&|WINPATH|LAB|LEUKO|CLINIC|20260301120000+0000||ORU^R01|MSG001|P|2.5.1";
const PID: &str = "PID|1||P123^^^HOSP^MR||Doe^Jane||19800215|F";
const OBR: &str = "OBR|1|ORD1|FIL1|FBC^Full blood count^LOCAL|||202603011000+0000";

fn msg(lines: &[&str]) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push('\r');
    }
    s
}

fn read(text: &str) -> leuko_hl7::OruResult {
    let m = ok(parse(text.as_bytes()));
    ok(oru_to_record(kb(), &m, &LocalCodes::new()))
}

fn read_err(text: &str) -> Hl7Error {
    let m = ok(parse(text.as_bytes()));
    match oru_to_record(kb(), &m, &LocalCodes::new()) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn loinc_nm_with_patient_and_range() {
    let r = read(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|NM|6690-2^WBC^LN||3.2|10*9/L|4.0-11.0|L|||F",
        "OBX|2|NM|751-8^Neutrophils^LN||0.4|10*9/L|1.5-7.0|LL|||F",
    ]));
    assert_eq!(r.control_id, "MSG001");
    assert_eq!(r.patient_id.as_deref(), Some("P123"));
    assert_eq!(r.patient.sex, Sex::Female);
    assert_eq!(
        r.patient.birth_date,
        Some(time::macros::date!(1980 - 02 - 15))
    );
    assert_eq!(r.observations.len(), 2);
    let wbc = &r.observations[0];
    assert_eq!(wbc.id, "MSG001-1");
    assert_eq!(wbc.observation.analyte, AnalyteId::Wbc);
    assert_eq!(wbc.observation.value, 3.2);
    assert_eq!(wbc.observation.at, datetime!(2026-03-01 10:00 UTC));
    assert_eq!(wbc.flags, vec!["L".to_owned()]);
    let range = wbc.observation.reference_range;
    assert_eq!(range.and_then(|r| r.low), Some(4.0));
    assert_eq!(range.and_then(|r| r.high), Some(11.0));
    assert_eq!(r.observations[1].observation.analyte, AnalyteId::Anc);
    assert_eq!(r.to_record().observations.len(), 2);
}

#[test]
fn escaped_units_are_unescaped() {
    let r = read(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|NM|6690-2^WBC^LN||3.2|x10\\S\\9/L|4.0-11.0|L|||F",
        "OBX|2|NM|6690-2^WBC^LN||3200|/uL|||||F|||202603011100+0000",
        "OBX|3|NM|6690-2^WBC^LN||3.3|K/uL|||||F|||202603011200+0000",
    ]));
    assert_eq!(r.observations.len(), 3);
    for o in &r.observations {
        assert!(
            (o.observation.value - 3.2).abs() < 0.11,
            "{}",
            o.observation.value
        );
    }
}

#[test]
fn sn_values() {
    let r = read(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|SN|751-8^ANC^LN||<^0.5|10*9/L|||||F",
    ]));
    let o = &r.observations[0].observation;
    assert_eq!((o.value, o.comparator), (0.5, Comparator::Less));
    let r = read(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|SN|751-8^ANC^LN||^1.2|10*9/L|||||F",
    ]));
    assert_eq!(r.observations[0].observation.comparator, Comparator::Equal);
    let e = read_err(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|SN|751-8^ANC^LN||^1^-^2|10*9/L|||||F",
    ]));
    assert_eq!(e.location.to_string(), "OBX-5.3");
    let e = read_err(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|SN|751-8^ANC^LN||<>^1|10*9/L|||||F",
    ]));
    assert_eq!(e.location.to_string(), "OBX-5.1");
}

#[test]
fn comparators_and_units_in_st() {
    let r = read(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|ST|751-8^ANC^LN||<0.5|10*9/L|<0.5||||F",
        "OBX|2|ST|6690-2^WBC^LN||4x10\\S\\9/L|||||F",
    ]));
    let anc = &r.observations[0].observation;
    assert_eq!((anc.value, anc.comparator), (0.5, Comparator::Less));
    assert_eq!(anc.reference_range.and_then(|r| r.high), Some(0.5));
    assert_eq!(r.observations[1].observation.value, 4.0);
}

#[test]
fn ranges_open_and_unreadable() {
    let r = read(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|NM|751-8^ANC^LN||2.5|10*9/L|>2||||F",
        "OBX|2|NM|6690-2^WBC^LN||5|10*9/L|0-2-7.2||||F",
    ]));
    let r0 = r.observations[0].observation.reference_range;
    assert_eq!(r0.and_then(|r| r.low), Some(2.0));
    assert_eq!(r.observations[1].observation.reference_range, None);
    assert!(r.notes.iter().any(|n| n.field == "OBX-7 (segment OBX #2)"));
}

#[test]
fn corrected_results_supersede() {
    let r = read(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|NM|751-8^ANC^LN||0.4|10*9/L|||||F",
        "OBX|2|NM|751-8^ANC^LN||1.4|10*9/L|||||C",
    ]));
    assert_eq!(r.observations.len(), 1);
    assert_eq!(r.observations[0].observation.value, 1.4);
    assert_eq!(r.observations[0].status, ResultStatus::Corrected);
    assert_eq!(r.observations[0].id, "MSG001-2");
}

#[test]
fn statuses_preliminary_cancelled_deleted() {
    let r = read(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|NM|751-8^ANC^LN||0.4|10*9/L|||||P",
        "OBX|2|NM|6690-2^WBC^LN||3|10*9/L|||||X",
        "OBX|3|NM|6690-2^WBC^LN||3|10*9/L|||||W",
        "OBX|4|NM|6690-2^WBC^LN||3|10*9/L|||||F|||202603011100+0000",
        "OBX|5|NM|6690-2^WBC^LN||3|10*9/L|||||D|||202603011100+0000",
    ]));
    assert_eq!(r.observations.len(), 1);
    assert_eq!(r.observations[0].status, ResultStatus::Preliminary);
}

#[test]
fn missing_time_zone_is_utc_and_noted() {
    let r = read(&msg(&[
        MSH,
        PID,
        "OBR|1|||FBC|||20260301100000",
        "OBX|1|NM|751-8^ANC^LN||0.4|10*9/L|||||F",
        "OBX|2|NM|751-8^ANC^LN||0.4|10*9/L|||||F|||202603011230-0500",
    ]));
    assert_eq!(
        r.observations[0].observation.at,
        datetime!(2026-03-01 10:00 UTC)
    );
    assert_eq!(
        r.observations[1].observation.at,
        datetime!(2026-03-01 17:30 UTC)
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.field == "OBR-7.1" && n.message.contains("UTC"))
    );
}

#[test]
fn timestamps() {
    assert_eq!(ok(parse_ts("2026")).0, datetime!(2026-01-01 0:00 UTC));
    assert_eq!(
        ok(parse_ts("20260301101530.25+0100")),
        (datetime!(2026-03-01 09:15:30.25 UTC), true)
    );
    for bad in ["", "20261301", "2026030", "20260301+01", "abcd", "20260230"] {
        assert!(parse_ts(bad).is_err(), "{bad}");
    }
}

#[test]
fn lf_and_crlf_line_endings() {
    let lines = [MSH, PID, OBR, "OBX|1|NM|751-8^ANC^LN||0.4|10*9/L|||||F"];
    for sep in ["\n", "\r\n", "\r"] {
        let text = lines.join(sep);
        let r = read(&text);
        assert_eq!(r.observations.len(), 1, "{sep:?}");
    }
}

#[test]
fn repeated_fields_and_flags() {
    let r = read(&msg(&[
        MSH,
        "PID|1||P9^^^A^MR~NHS1^^^NHS^NH||Doe^J||19800215|M",
        OBR,
        "OBX|1|NM|6690-2^WBC^LN||0.01|10*9/L|4.00-10.00|L~A|||F",
    ]));
    assert_eq!(r.patient_id.as_deref(), Some("P9"));
    assert_eq!(r.patient.sex, Sex::Male);
    assert_eq!(
        r.observations[0].flags,
        vec!["L".to_owned(), "A".to_owned()]
    );
    let m = ok(parse(msg(&[MSH, "PID|1||A~B~C"]).as_bytes()));
    let pid = m.segment("PID");
    assert_eq!(pid.map(|p| p.repetitions(3).len()), Some(3));
}

#[test]
fn local_codes_and_text_and_unmapped() {
    let m = ok(parse(
        msg(&[
            MSH,
            PID,
            OBR,
            "OBX|1|NM|WCC^White cell count^Winpath||3.1|x10\\S\\9/L|||||F",
            "OBX|2|NM|NEUT^Neutrophils^Winpath||0.9|x10\\S\\9/L|||||F",
            "OBX|3|NM|XYZ^Sodium^Winpath||140|mmol/L|||||F",
        ])
        .as_bytes(),
    ));
    let mut local = LocalCodes::new();
    local.insert("WCC".into(), AnalyteId::Wbc);
    let r = ok(oru_to_record(kb(), &m, &local));
    let ids: Vec<_> = r
        .observations
        .iter()
        .map(|o| o.observation.analyte)
        .collect();
    assert_eq!(ids, vec![AnalyteId::Wbc, AnalyteId::Anc]);
    assert!(
        r.notes
            .iter()
            .any(|n| n.field.starts_with("OBX-3") && n.message.contains("XYZ"))
    );
}

#[test]
fn z_segments_and_nte_are_ignored() {
    let r = read(&msg(&[
        MSH,
        PID,
        "PV1|1|O",
        OBR,
        "NTE|1||WBC adjusted for NRBC.",
        "OBX|1|NM|751-8^ANC^LN||0.4|10*9/L|||||F",
        "ZXY|1|anything^goes|\\X00\\",
    ]));
    assert_eq!(r.observations.len(), 1);
}

#[test]
fn implausible_value_names_obx5() {
    let e = read_err(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|NM|751-8^ANC^LN||0.4|10*9/L|||||F",
        "OBX|2|NM|6690-2^WBC^LN||4000|10*9/L|||||F",
    ]));
    assert_eq!(e.location.to_string(), "OBX-5.1 (segment OBX #2)");
    assert_eq!(e.location.erl(), "OBX^2^5^1^1");
    assert_eq!(e.value, "4000");
    assert_eq!(e.kind, ErrorKind::DataType);
    let e = read_err(&msg(&[
        MSH,
        PID,
        OBR,
        "OBX|1|NM|751-8^ANC^LN||0.4|furlongs|||||F",
    ]));
    assert_eq!(e.location.to_string(), "OBX-6.1");
    let e = read_err(&msg(&[
        MSH,
        PID,
        "OBR|1",
        "OBX|1|NM|751-8^ANC^LN||0.4|10*9/L|||||F",
    ]));
    assert_eq!(e.location.to_string(), "OBX-14");
}

#[test]
fn delimiters_come_from_msh() {
    let text = "MSH#*@!$#A#B#C#D#20260301##ORU*R01#X1#P#2.4\rPID#1##Q7\rOBR#1######202603011000+0000\rOBX#1#NM#751-8*ANC*LN##0.4#10!S!9/L#####F\r";
    let m = ok(parse(text.as_bytes()));
    assert_eq!(m.delimiters.field, '#');
    assert_eq!(m.message_type(), "ORU^R01");
    let r = ok(oru_to_record(kb(), &m, &LocalCodes::new()));
    assert_eq!(r.patient_id.as_deref(), Some("Q7"));
    assert_eq!(r.observations.len(), 1);
}

#[test]
fn escapes() {
    let m = ok(parse(
        msg(&[
            MSH,
            "NTE|1||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X41C3A9\\g\\H\\h\\N\\\\Q\\\\.br\\",
        ])
        .as_bytes(),
    ));
    let nte = m.segment("NTE").map(|s| s.get(3, 1).to_owned());
    assert_eq!(nte.as_deref(), Some("a|b^c&d~e\\fAégh\\Q\\\n"));
    let e = leuko_hl7::escape("a|b^c\\", &m.delimiters);
    assert_eq!(e, "a\\F\\b\\S\\c\\E\\");
}

#[test]
fn parse_errors_name_fields() {
    let e = |t: &str| match parse(t.as_bytes()) {
        Ok(_) => panic!("expected an error for {t:?}"),
        Err(e) => e,
    };
    assert_eq!(e("PID|1").location.to_string(), "MSH-1");
    assert_eq!(e("MSH|^~|").location.to_string(), "MSH-2");
    let v = e("MSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.2");
    assert_eq!(
        (v.location.to_string(), v.value.as_str()),
        ("MSH-12.1".into(), "2.2")
    );
    assert_eq!(v.kind, ErrorKind::UnsupportedVersion);
    assert!(e(&msg(&[MSH, "pid|1"])).message.contains("segment 2"));
    let m = ok(parse(
        msg(&["MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.3"]).as_bytes(),
    ));
    let t = match oru_to_record(kb(), &m, &LocalCodes::new()) {
        Ok(_) => panic!("ADT read as ORU"),
        Err(e) => e,
    };
    assert_eq!(t.location.to_string(), "MSH-9");
    for v in [
        "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8",
    ] {
        let text = format!("MSH|^~\\&|A|B|C|D|||ORU^R01|1|P|{v}");
        assert!(parse(text.as_bytes()).is_ok(), "{v}");
    }
}

fn segments(ack: &str) -> Vec<Vec<String>> {
    ack.split('\r')
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}

#[test]
fn ack_accept() {
    let m = ok(parse(msg(&[MSH, PID]).as_bytes()));
    let a = ack_with_time(&m, AckCode::AA, None, datetime!(2026-03-01 12:00:05 UTC));
    assert_eq!(
        a,
        "MSH|^~\\&|LEUKO|CLINIC|WINPATH|LAB|20260301120005+0000||ACK^R01^ACK|MSG001-ACK|P|2.5.1\rMSA|AA|MSG001\r"
    );
    assert!(ok(parse(a.as_bytes())).segment("MSA").is_some());
}

#[test]
fn ack_error_has_err_segment() {
    let text = msg(&[MSH, PID, OBR, "OBX|1|NM|6690-2^WBC^LN||4000|10*9/L|||||F"]);
    let m = ok(parse(text.as_bytes()));
    let e = read_err(&text);
    let a = ack_with_time(&m, AckCode::AE, Some(&e), datetime!(2026-03-01 12:00 UTC));
    let s = segments(&a);
    assert_eq!(s.len(), 3);
    assert_eq!(s[1][0], "MSA");
    assert_eq!(s[1][1], "AE");
    assert_eq!(s[1][2], "MSG001");
    assert_eq!(s[2][0], "ERR");
    assert_eq!(s[2][2], "OBX^1^5^1^1");
    assert_eq!(s[2][3], "102^Data type error^HL70357");
    assert_eq!(s[2][4], "E");
    assert!(s[2][8].contains("implausible"));
    // The ACK itself parses, and its ERR text unescapes to the message.
    let back = ok(parse(a.as_bytes()));
    let err8 = back.segment("ERR").map(|x| x.get(8, 1).to_owned());
    assert_eq!(err8, Some(e.to_string()));
}

#[test]
fn ack_for_garbage() {
    let a = ack_for_unparseable(b"MSH|^~\\&|A|B|C|D|||ORU^R01|CTRL9|P|2.1\rPID|1");
    let s = segments(&a);
    assert_eq!(s[0][2], "C");
    assert_eq!(s[0][4], "A");
    assert_eq!(s[0][9], "CTRL9-ACK");
    assert_eq!(s[1][1], "AR");
    assert_eq!(s[1][2], "CTRL9");
    assert!(s[2][3].starts_with("203^"));
    // Before v2.5 ERR-1 carries the location and the code.
    let m = ok(parse(b"MSH|^~\\&|A|B|C|D|||ORU^R01|C1|P|2.3\r"));
    let e = Hl7Error {
        location: leuko_hl7::Location::new("OBX", 2, 5, Some(1)),
        value: "x".into(),
        message: "bad".into(),
        kind: ErrorKind::DataType,
    };
    let a = ack_with_time(&m, AckCode::AE, Some(&e), datetime!(2026-03-01 12:00 UTC));
    let s = segments(&a);
    assert_eq!(s[2][1], "OBX^2^5^102&Data type error&HL70357");
    let a = ack_for_unparseable(b"\x00\xff junk");
    assert!(a.starts_with("MSH|^~\\&|"));
    assert!(a.contains("MSA|AR|"));
    assert!(a.contains("ERR||MSH^1^1^1|100^"));
}

#[test]
fn mllp_split_and_merged_frames() {
    let a = msg(&[MSH, PID]);
    let b = msg(&[MSH, OBR]);
    let mut stream = b"junk".to_vec();
    stream.extend(frame(&a));
    stream.extend(frame(&b));
    // All at once.
    let mut d = MllpDecoder::default();
    let got: Vec<_> = d.push(&stream).into_iter().map(ok).collect();
    assert_eq!(got, vec![a.as_bytes().to_vec(), b.as_bytes().to_vec()]);
    assert_eq!(d.skipped_bytes(), 4);
    // A byte at a time.
    let mut d = MllpDecoder::default();
    let got: Vec<_> = stream
        .iter()
        .flat_map(|byte| d.push(std::slice::from_ref(byte)))
        .map(ok)
        .collect();
    assert_eq!(got.len(), 2);
    assert!(!d.in_frame());
}

#[test]
fn mllp_too_large_then_resync() {
    let mut d = MllpDecoder::new(10);
    let mut stream = frame(vec![b'x'; 50]);
    stream.extend(frame(b"short"));
    let got = d.push(&stream);
    assert_eq!(
        got,
        vec![
            Err(MllpError::FrameTooLarge { max: 10 }),
            Ok(b"short".to_vec())
        ]
    );
    // A start block inside a frame drops the unfinished one.
    let mut d = MllpDecoder::default();
    let got = d.push(b"\x0babc\x0bdef\x1c\x0d");
    assert_eq!(
        got,
        vec![
            Err(MllpError::Unterminated { dropped: 3 }),
            Ok(b"def".to_vec())
        ]
    );
    // A missing CR after the end block still ends the frame.
    let got = d.push(b"\x0bghi\x1c\x0bjkl\x1c\r");
    assert_eq!(got, vec![Ok(b"ghi".to_vec()), Ok(b"jkl".to_vec())]);
}

proptest! {
    #[test]
    fn parse_and_read_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(m) = parse(&bytes) {
            let _ = oru_to_record(kb(), &m, &LocalCodes::new());
            let _ = ack_with_time(&m, AckCode::AA, None, datetime!(2026-01-01 0:00 UTC));
        }
        let _ = ack_for_unparseable(&bytes);
    }

    #[test]
    fn acks_parse_back(
        control in "[ -~]{1,20}",
        app in "[ -~]{0,10}",
        message in "\\PC{0,40}",
        version in prop_oneof![Just("2.3"), Just("2.4"), Just("2.5.1"), Just("2.8")],
    ) {
        let d = leuko_hl7::Delimiters::default();
        let text = format!(
            "MSH|^~\\&|{}|F|R|G|||ORU^R01|{}|P|{version}\r",
            leuko_hl7::escape(&app, &d),
            leuko_hl7::escape(&control, &d),
        );
        let m = parse(text.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let e = Hl7Error {
            location: leuko_hl7::Location::new("OBX", 1, 5, Some(1)),
            value: String::new(),
            message,
            kind: ErrorKind::DataType,
        };
        let a = ack_with_time(&m, AckCode::AE, Some(&e), datetime!(2026-01-01 0:00 UTC));
        let back = parse(a.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.control_id(), format!("{control}-ACK"));
        let msa = back.segment("MSA").map(|s| s.get(2, 1).to_owned());
        prop_assert_eq!(msa, Some(control));
        let msh5 = back.msh().map(|s| s.get(5, 1).to_owned());
        prop_assert_eq!(msh5, Some(app));
        let err8 = back.segment("ERR").map(|s| s.get(8, 1).to_owned());
        prop_assert_eq!(err8, Some(e.to_string()));
    }

    #[test]
    fn hl7_shaped_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("|".to_owned()), Just("^".to_owned()), Just("~".to_owned()),
                Just("\\".to_owned()), Just("&".to_owned()), Just("\r".to_owned()),
                Just("OBX".to_owned()), Just("NM".to_owned()), Just("SN".to_owned()),
                Just("6690-2".to_owned()), Just("LN".to_owned()), Just("<".to_owned()),
                Just("0.5".to_owned()), Just("10*9/L".to_owned()), Just("F".to_owned()),
                Just("C".to_owned()), Just("D".to_owned()), Just("2026030110".to_owned()),
                Just("\\X".to_owned()), Just("PID".to_owned()), Just("OBR".to_owned()),
                "[0-9A-Za-z.+-]{0,6}",
            ],
            0..60,
        )
    ) {
        let text = format!("MSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.5\r{}", parts.concat());
        if let Ok(m) = parse(text.as_bytes()) {
            let _ = oru_to_record(kb(), &m, &LocalCodes::new());
        }
    }

    #[test]
    fn mllp_decoder_never_panics(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..20),
        max in 0usize..40,
    ) {
        let mut d = MllpDecoder::new(max);
        for c in &chunks {
            for f in d.push(c).into_iter().flatten() {
                prop_assert!(f.len() <= max);
            }
        }
    }

    #[test]
    fn framing_round_trips(
        messages in proptest::collection::vec(
            proptest::collection::vec(any::<u8>().prop_filter("no block bytes", |b| *b != 0x0b && *b != 0x1c), 0..100),
            0..6,
        ),
        cuts in proptest::collection::vec(1usize..50, 0..20),
    ) {
        let stream: Vec<u8> = messages.iter().flat_map(frame).collect();
        let mut d = MllpDecoder::default();
        let mut got = Vec::new();
        let mut rest = stream.as_slice();
        for c in cuts {
            let (a, b) = rest.split_at(c.min(rest.len()));
            got.extend(d.push(a));
            rest = b;
        }
        got.extend(d.push(rest));
        let got: Vec<Vec<u8>> = got.into_iter().collect::<Result<_, _>>().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got, messages);
    }
}
