//! Decision benchmarks: publish, subscribe and receive at 10, 1,000 and 100,000 statements, for
//! the fleet document (a policy per device family) and the flat one (every statement in one
//! policy, as an acl_file full of pattern lines), each with the indexed and the linear strategy.
//!
//! The principal is bound once, as a session is; each iteration is one `Principal::decide`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use mqward_benches::{Workload, SIZES};
use mqward_core::{Builder, Operation, Strategy};

fn decide(c: &mut Criterion) {
    for size in SIZES {
        let workload = Workload::new(size);
        let cases = workload.cases();
        for (doc_name, doc) in [("fleet", workload.fleet()), ("flat", workload.flat())] {
            for (strategy_name, strategy) in
                [("indexed", Strategy::Indexed), ("linear", Strategy::Linear)]
            {
                let snapshot = match Builder::new().strategy(strategy).build(&doc) {
                    Ok(s) => Arc::new(s),
                    // Reported and skipped, so that one failing variant leaves the rest.
                    Err(e) => {
                        eprintln!("skipped {doc_name}/{strategy_name}/{size}: build failed: {e}");
                        continue;
                    }
                };
                let principal = snapshot.bind(workload.identity());
                // A linear scan of 100,000 statements takes milliseconds per decision.
                let slow = strategy == Strategy::Linear && doc_name == "flat" && size >= 100_000;
                for op in [Operation::Publish, Operation::Subscribe, Operation::Receive] {
                    let mut group = c.benchmark_group(format!("decide-{op}"));
                    if slow {
                        group.sample_size(10).sampling_mode(SamplingMode::Flat);
                    }
                    for case in cases.iter().filter(|case| case.operation == op) {
                        let request = case.request();
                        if let Err(e) = case.check(&principal.decide(&request)) {
                            panic!("{doc_name} {strategy_name} {size}: {e}");
                        }
                        let id = BenchmarkId::new(
                            format!("{}/{doc_name}/{strategy_name}", case.name),
                            size,
                        );
                        group.bench_with_input(id, &request, |b, request| {
                            b.iter(|| principal.decide(black_box(request)))
                        });
                    }
                    group.finish();
                }
            }
        }
    }
}

criterion_group!(benches, decide);
criterion_main!(benches);
