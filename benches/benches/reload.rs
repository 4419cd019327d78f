//! Decisions through `Engine::authorize` while another thread reloads the policy back to back,
//! against the same decision with no reload, a bare `Principal::decide`, and the worst case
//! right after a swap (a rebind, then the decision).
//!
//! On a 2-core machine the reloading thread takes the other core, so the figures include
//! contention for caches and memory bandwidth, not only the cost of the swap itself.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mqward_benches::Workload;
use mqward_core::{Builder, Engine, Operation};

fn reload(c: &mut Criterion) {
    let mut group = c.benchmark_group("reload");
    for size in [1_000, 100_000] {
        let workload = Workload::new(size);
        let doc = workload.fleet();
        let builder = Builder::new();
        let snapshot = match builder.build(&doc) {
            Ok(s) => s,
            Err(e) => panic!("{size}: {e}"),
        };
        let engine = Engine::new(builder, snapshot);
        let Some(case) = workload
            .cases()
            .into_iter()
            .find(|case| case.operation == Operation::Publish && case.allowed)
        else {
            panic!("no allowed publish case");
        };
        let request = case.request();
        let mut principal = engine.bind(workload.identity());
        if let Err(e) = case.check(&engine.authorize(&mut principal, &request)) {
            panic!("{size}: {e}");
        }

        group.bench_function(BenchmarkId::new("decide", size), |b| {
            b.iter(|| principal.decide(black_box(&request)).is_allowed())
        });
        group.bench_function(BenchmarkId::new("authorize-no-reload", size), |b| {
            b.iter(|| {
                engine
                    .authorize(&mut principal, black_box(&request))
                    .is_allowed()
            })
        });
        let current = engine.snapshot();
        group.bench_function(BenchmarkId::new("rebind-then-decide", size), |b| {
            b.iter(|| {
                principal.rebind(current.clone());
                principal.decide(black_box(&request)).is_allowed()
            })
        });

        let stop = AtomicBool::new(false);
        let reloads = AtomicU64::new(0);
        let started = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    if let Err(e) = engine.reload(&doc) {
                        panic!("reload: {e}");
                    }
                    reloads.fetch_add(1, Ordering::Relaxed);
                }
            });
            group.bench_function(BenchmarkId::new("authorize-during-reloads", size), |b| {
                b.iter(|| {
                    engine
                        .authorize(&mut principal, black_box(&request))
                        .is_allowed()
                })
            });
            stop.store(true, Ordering::Relaxed);
        });
        let seconds = started.elapsed().as_secs_f64();
        let count = reloads.load(Ordering::Relaxed);
        eprintln!(
            "reload/{size}: {count} reloads in {seconds:.1} s ({:.0} per second) during the run",
            count as f64 / seconds
        );
        if let Err(e) = case.check(&engine.authorize(&mut principal, &request)) {
            panic!("{size} after reloads: {e}");
        }
    }
    group.finish();
}

criterion_group!(benches, reload);
criterion_main!(benches);
