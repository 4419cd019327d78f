//! mqward-decide-loop: makes one benchmark case's decision many times, for instruction counts
//! under callgrind, which stay exact on a noisy machine where criterion's times do not.
//!
//! `mqward-decide-loop STATEMENTS fleet|flat indexed|linear OPERATION CASE ITERATIONS`; see
//! `benches/instructions.sh`, which counts only inside [`decide_loop`].

use std::hint::black_box;
use std::sync::Arc;

use mqward_benches::Workload;
use mqward_core::{Builder, Principal, Request, Strategy};

/// The measured loop; callgrind collects inside this function only.
#[inline(never)]
fn decide_loop(principal: &Principal, request: &Request<'_>, iterations: u64) -> u64 {
    let mut allowed = 0;
    for _ in 0..iterations {
        allowed += u64::from(black_box(principal.decide(black_box(request))).is_allowed());
    }
    allowed
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [size, doc, strategy, operation, case, iterations] = &args[..] else {
        eprintln!("usage: mqward-decide-loop STATEMENTS fleet|flat indexed|linear OPERATION CASE ITERATIONS");
        std::process::exit(2);
    };
    let (Ok(size), Ok(iterations)) = (size.parse::<usize>(), iterations.parse::<u64>()) else {
        eprintln!("STATEMENTS and ITERATIONS are counts");
        std::process::exit(2);
    };
    let workload = Workload::new(size);
    let document = if doc == "flat" {
        workload.flat()
    } else {
        workload.fleet()
    };
    let strategy = if strategy == "linear" {
        Strategy::Linear
    } else {
        Strategy::Indexed
    };
    let snapshot = match Builder::new().strategy(strategy).build(&document) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("build failed: {e}");
            std::process::exit(1);
        }
    };
    drop(document);
    let principal = snapshot.bind(workload.identity());
    let cases = workload.cases();
    let Some(case) = cases
        .iter()
        .find(|c| c.operation.as_str() == operation && c.name == case)
    else {
        eprintln!("no case `{operation} {case}`");
        std::process::exit(2);
    };
    let request = case.request();
    if let Err(e) = case.check(&principal.decide(&request)) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let allowed = decide_loop(&principal, &request, iterations);
    println!("{allowed} of {iterations} allowed");
}
