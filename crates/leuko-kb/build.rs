//! Converts the knowledge files from TOML (the authored form) to JSON at build time: the
//! runtime then parses JSON, several times faster, so `leuko assess` starts in a few
//! milliseconds. A TOML syntax error fails the build with the file and line.

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../knowledge");
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".to_owned());
    println!("cargo:rerun-if-changed={}", dir.display());
    for name in [
        "sources",
        "analytes",
        "units",
        "intervals",
        "grading",
        "clozapine",
        "concepts",
        "drugs",
        "causes",
        "workup",
        "rules",
    ] {
        let path = dir.join(format!("{name}.toml"));
        println!("cargo:rerun-if-changed={}", path.display());
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let value: toml::Value =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json =
            serde_json::to_string(&value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        std::fs::write(Path::new(&out).join(format!("{name}.json")), json)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
