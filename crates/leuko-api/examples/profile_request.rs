//! The work of one `POST /v1/assess`, repeated, for a profiler:
//! `valgrind --tool=callgrind target/release/examples/profile_request 200`.
fn main() {
    let kb = leuko_kb::Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
    let body = include_bytes!("../../../examples/clozapine-week-10.json");
    let as_of = time::macros::datetime!(2026-04-15 10:00 UTC);
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let mut bytes = 0;
    for _ in 0..n {
        let (record, _) =
            leuko_api::record::read_input(&kb, body, as_of).unwrap_or_else(|e| panic!("{e}"));
        let a = leuko_core::assess(&kb, &record, as_of, &leuko_core::Options::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let out = leuko_api::AssessmentJson::from_assessment(&kb, &a);
        bytes += serde_json::to_vec(&out).map(|v| v.len()).unwrap_or(0);
    }
    std::hint::black_box(bytes);
}
