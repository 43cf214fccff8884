//! Lists the migrations found in `migrations/{sqlite,postgres}/` for `codec.rs`: every file
//! named `NNNN_words.sql`, by version number, embedded with `include_str!`. A migration
//! added by another change needs no edit here, and a gap in the numbers (a version not yet
//! merged) is no error: the runner applies each version it has not recorded, in ascending
//! order. Both back ends must have the same versions.

use std::fmt::Write as _;
use std::path::Path;

fn versions(dir: &Path) -> Result<Vec<(i64, String)>, String> {
    let mut out = Vec::new();
    let read = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in read {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".sql") else {
            continue;
        };
        let digits: String = stem.chars().take_while(char::is_ascii_digit).collect();
        let version: i64 = digits.parse().map_err(|_| {
            format!(
                "{}: {name:?} does not start with a version number",
                dir.display()
            )
        })?;
        if out.iter().any(|(v, _)| *v == version) {
            return Err(format!(
                "{}: two migrations with version {version}",
                dir.display()
            ));
        }
        let path = entry.path();
        out.push((version, path.to_string_lossy().into_owned()));
    }
    out.sort();
    Ok(out)
}

fn main() -> Result<(), String> {
    let root = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?;
    let out_dir = std::env::var("OUT_DIR").map_err(|e| e.to_string())?;
    println!("cargo::rerun-if-changed=migrations");
    let sqlite = versions(&Path::new(&root).join("migrations/sqlite"))?;
    let postgres = versions(&Path::new(&root).join("migrations/postgres"))?;
    let numbers = |m: &[(i64, String)]| m.iter().map(|(v, _)| *v).collect::<Vec<_>>();
    if numbers(&sqlite) != numbers(&postgres) {
        return Err(format!(
            "migrations differ: sqlite has {:?}, postgres {:?}",
            numbers(&sqlite),
            numbers(&postgres)
        ));
    }
    let mut code = String::new();
    for (name, list) in [("SQLITE", &sqlite), ("POSTGRES", &postgres)] {
        let _ = writeln!(code, "/// {name} migrations: (version, SQL), ascending.");
        let _ = writeln!(code, "pub(crate) const {name}_MIGRATIONS: Migrations = &[");
        for (v, path) in list {
            let _ = writeln!(code, "    ({v}, include_str!({path:?})),");
        }
        let _ = writeln!(code, "];");
    }
    std::fs::write(Path::new(&out_dir).join("migrations.rs"), code).map_err(|e| e.to_string())
}
