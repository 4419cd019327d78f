//! mqward-bench-table: prints the medians of the last criterion run as markdown tables.
//!
//! `cargo run -p mqward-benches --bin mqward-bench-table [-- CRITERION_DIR]`; the directory
//! defaults to the workspace's `target/criterion`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One benchmark's median, in nanoseconds per iteration.
struct Median {
    group: String,
    function: String,
    value: String,
    nanos: f64,
}

/// Operation, case and statement count.
type DecideRow = (String, String, u64);

fn collect(dir: &Path, out: &mut Vec<Median>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some(m) = read(&path) {
                out.push(m);
            }
        } else {
            collect(&path, out)?;
        }
    }
    Ok(())
}

fn read(new: &Path) -> Option<Median> {
    let json = |name: &str| -> Option<Value> {
        serde_json::from_slice(&std::fs::read(new.join(name)).ok()?).ok()
    };
    let bench = json("benchmark.json")?;
    let estimates = json("estimates.json")?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Some(Median {
        group: text(&bench["group_id"]),
        function: text(&bench["function_id"]),
        value: text(&bench["value_str"]),
        nanos: estimates["median"]["point_estimate"].as_f64()?,
    })
}

fn human(nanos: f64) -> String {
    if nanos < 1e3 {
        format!("{nanos:.1} ns")
    } else if nanos < 1e6 {
        format!("{:.2} µs", nanos / 1e3)
    } else if nanos < 1e9 {
        format!("{:.2} ms", nanos / 1e6)
    } else {
        format!("{:.2} s", nanos / 1e9)
    }
}

fn size(value: &str) -> u64 {
    value.parse().unwrap_or(u64::MAX)
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"));
    let mut medians = Vec::new();
    if let Err(e) = collect(&dir, &mut medians) {
        eprintln!("cannot read `{}`: {e}", dir.display());
        std::process::exit(1);
    }

    // Decisions: rows (operation, case, statements), columns (document, strategy).
    let columns = [
        ("fleet", "indexed"),
        ("fleet", "linear"),
        ("flat", "indexed"),
        ("flat", "linear"),
    ];
    let mut decide: BTreeMap<DecideRow, BTreeMap<(String, String), f64>> = BTreeMap::new();
    let mut compile: BTreeMap<(String, u64), BTreeMap<String, f64>> = BTreeMap::new();
    let mut other = Vec::new();
    for m in &medians {
        let parts: Vec<&str> = m.function.split('/').collect();
        if let (Some(op), [case, doc, strategy]) = (m.group.strip_prefix("decide-"), &parts[..]) {
            decide
                .entry((op.to_string(), case.to_string(), size(&m.value)))
                .or_default()
                .insert((doc.to_string(), strategy.to_string()), m.nanos);
        } else if let ("compile", [doc, strategy]) = (m.group.as_str(), &parts[..]) {
            compile
                .entry((doc.to_string(), size(&m.value)))
                .or_default()
                .insert(strategy.to_string(), m.nanos);
        } else {
            other.push(m);
        }
    }
    let cell = |row: &BTreeMap<(String, String), f64>, (doc, strategy): (&str, &str)| {
        row.get(&(doc.to_string(), strategy.to_string()))
            .map_or_else(|| "-".to_string(), |n| human(*n))
    };
    if !decide.is_empty() {
        println!("| operation | case | statements | fleet indexed | fleet linear | flat indexed | flat linear |");
        println!("|---|---|---:|---:|---:|---:|---:|");
        for ((op, case, n), row) in &decide {
            let cells: Vec<String> = columns.iter().map(|c| cell(row, *c)).collect();
            println!("| {op} | {case} | {n} | {} |", cells.join(" | "));
        }
        println!();
    }
    if !compile.is_empty() {
        println!("| compile | statements | indexed | linear |");
        println!("|---|---:|---:|---:|");
        for ((doc, n), row) in &compile {
            let get = |s: &str| row.get(s).map_or_else(|| "-".to_string(), |n| human(*n));
            println!("| {doc} | {n} | {} | {} |", get("indexed"), get("linear"));
        }
        println!();
    }
    if !other.is_empty() {
        other.sort_by(|a, b| {
            (&a.group, size(&a.value), &a.function).cmp(&(&b.group, size(&b.value), &b.function))
        });
        println!("| benchmark | statements | median |");
        println!("|---|---:|---:|");
        for m in other {
            println!(
                "| {}/{} | {} | {} |",
                m.group,
                m.function,
                m.value,
                human(m.nanos)
            );
        }
    }
}
