//! Compilation benchmarks: `Builder::build` for the fleet and flat documents at 1,000 and
//! 100,000 statements, both strategies. Dropping the snapshot is not timed.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use mqward_benches::Workload;
use mqward_core::{Builder, Strategy};

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    for size in [1_000, 100_000] {
        let workload = Workload::new(size);
        for (doc_name, doc) in [("fleet", workload.fleet()), ("flat", workload.flat())] {
            for (strategy_name, strategy) in
                [("indexed", Strategy::Indexed), ("linear", Strategy::Linear)]
            {
                let builder = Builder::new().strategy(strategy);
                if let Err(e) = builder.build(&doc) {
                    eprintln!("skipped {doc_name}/{strategy_name}/{size}: build failed: {e}");
                    continue;
                }
                let id = BenchmarkId::new(format!("{doc_name}/{strategy_name}"), size);
                group.bench_with_input(id, &doc, |b, doc| {
                    b.iter_with_large_drop(|| builder.build(black_box(doc)))
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, compile);
criterion_main!(benches);
