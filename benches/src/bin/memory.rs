//! mqward-memory: bytes a compiled snapshot keeps per statement, and how long it took to compile,
//! for the fleet and flat documents with both strategies. Criterion cannot measure memory, so a
//! counting allocator wraps the system one.
//!
//! `cargo run --release -p mqward-benches --bin mqward-memory [-- [--breakdown] STATEMENTS...]`
//! (default 100000). Retained bytes are the bytes requested from the allocator and still live
//! once the document is dropped; the allocator's own per-block overhead is estimated separately.
//! `--breakdown` also builds fleet documents that keep one kind of per-device statement only, to
//! show what one more statement of each kind costs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mqward_benches::Workload;
use mqward_core::policy::pattern::{GlobTok, Level, Pattern, Piece, Resource};
use mqward_core::{Builder, Document, Strategy};

/// The system allocator, counting live bytes, live blocks and the peak of live bytes.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);
/// Live bytes as glibc's malloc rounds them: 8 bytes of header, 16-byte chunks, 32 at least.
static LIVE_CHUNK_BYTES: AtomicUsize = AtomicUsize::new(0);

fn chunk(size: usize) -> usize {
    ((size + 8 + 15) & !15).max(32)
}

fn added(size: usize) {
    let live = LIVE_BYTES.fetch_add(size, Ordering::Relaxed) + size;
    PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
    LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
    LIVE_CHUNK_BYTES.fetch_add(chunk(size), Ordering::Relaxed);
}

fn removed(size: usize) {
    LIVE_BYTES.fetch_sub(size, Ordering::Relaxed);
    LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
    LIVE_CHUNK_BYTES.fetch_sub(chunk(size), Ordering::Relaxed);
}

// SAFETY: every method forwards to `System`, which upholds the `GlobalAlloc` contract, with the
// caller's arguments unchanged; the counters are plain atomics and never allocate or panic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller guarantees `layout` has a non-zero size, as `System.alloc` requires.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            added(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`, the caller guarantees a non-zero size.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            added(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller guarantees `ptr` came from this allocator with `layout`, and this
        // allocator got every block from `System` with the same layout.
        unsafe { System.dealloc(ptr, layout) };
        removed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `ptr` came from this allocator (so from `System`) with
        // `layout`, and that `new_size` is non-zero and does not overflow when aligned.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            removed(layout.size());
            added(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What one build cost.
struct Figures {
    document_bytes: usize,
    retained_bytes: usize,
    retained_blocks: usize,
    retained_chunk_bytes: usize,
    peak_bytes: usize,
    compile: Duration,
}

fn measure(make: impl Fn() -> Document, strategy: Strategy) -> Result<Figures, String> {
    let builder = Builder::new().strategy(strategy);
    let (bytes, blocks, chunks) = (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_BLOCKS.load(Ordering::Relaxed),
        LIVE_CHUNK_BYTES.load(Ordering::Relaxed),
    );
    let doc = make();
    let document_bytes = LIVE_BYTES.load(Ordering::Relaxed) - bytes;
    PEAK_BYTES.store(LIVE_BYTES.load(Ordering::Relaxed), Ordering::Relaxed);
    let started = Instant::now();
    let snapshot = builder.build(&doc).map_err(|e| e.to_string())?;
    let mut compile = started.elapsed();
    let peak_bytes = PEAK_BYTES.load(Ordering::Relaxed) - bytes;
    drop(doc);
    let figures = Figures {
        document_bytes,
        retained_bytes: LIVE_BYTES.load(Ordering::Relaxed) - bytes,
        retained_blocks: LIVE_BLOCKS.load(Ordering::Relaxed) - blocks,
        retained_chunk_bytes: LIVE_CHUNK_BYTES.load(Ordering::Relaxed) - chunks,
        peak_bytes,
        compile,
    };
    drop(snapshot);
    // Two more builds for the time: the best of three is the least disturbed by other work.
    let doc = make();
    for _ in 0..2 {
        let started = Instant::now();
        let snapshot = builder.build(&doc).map_err(|e| e.to_string())?;
        compile = compile.min(started.elapsed());
        drop(snapshot);
    }
    Ok(Figures { compile, ..figures })
}

/// The fleet document with the fixed statements and only the per-device statements whose id
/// ends with `suffix`.
fn only_kind(workload: &Workload, suffix: &str) -> Document {
    let mut doc = workload.fleet();
    for list in doc.policies.values_mut() {
        list.retain(|s| !s.id.contains("-dev-") || s.id.ends_with(suffix));
    }
    doc
}

fn breakdown(workload: &Workload) -> Result<(), String> {
    println!();
    println!(
        "| fleet of {} keeping one per-device kind | statements | indexed bytes/statement | \
         linear bytes/statement | indexed bytes per added statement | linear bytes per added \
         statement | indexed compile | linear compile |",
        workload.statements()
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let fixed = only_kind(workload, "-none");
    let base_count: usize = fixed.policies.values().map(Vec::len).sum();
    let base_indexed = measure(|| fixed.clone(), Strategy::Indexed)?;
    let base_linear = measure(|| fixed.clone(), Strategy::Linear)?;
    for (name, suffix) in [
        ("fixed statements only", "-none"),
        ("+ exact `dev/config`", "-config"),
        ("+ glob `dev/ota/*`", "-ota"),
        (
            "+ mqtt `dev/attributes/+` (topic and filter)",
            "-attributes",
        ),
    ] {
        let doc = only_kind(workload, suffix);
        let count: usize = doc.policies.values().map(Vec::len).sum();
        let indexed = measure(|| doc.clone(), Strategy::Indexed)?;
        let linear = measure(|| doc.clone(), Strategy::Linear)?;
        let added = count - base_count;
        // What one more statement of this kind costs: its record and text, and its share of
        // the index (indexed) or its parsed patterns (linear).
        let per_added = |f: &Figures, base: &Figures| {
            if added == 0 {
                "-".to_string()
            } else {
                format!(
                    "{:.0}",
                    (f.retained_bytes as f64 - base.retained_bytes as f64) / added as f64
                )
            }
        };
        println!(
            "| {name} | {count} | {:.0} | {:.0} | {} | {} | {:.1} ms | {:.1} ms |",
            indexed.retained_bytes as f64 / count as f64,
            linear.retained_bytes as f64 / count as f64,
            per_added(&indexed, &base_indexed),
            per_added(&linear, &base_linear),
            indexed.compile.as_secs_f64() * 1e3,
            linear.compile.as_secs_f64() * 1e3,
        );
    }
    Ok(())
}

fn main() {
    let mut sizes: Vec<usize> = Vec::new();
    let mut want_breakdown = false;
    for arg in std::env::args().skip(1) {
        if arg == "--breakdown" {
            want_breakdown = true;
            continue;
        }
        match arg.replace(['_', ','], "").parse() {
            Ok(n) => sizes.push(n),
            Err(_) => {
                eprintln!("usage: mqward-memory [STATEMENTS...]: `{arg}` is not a count");
                std::process::exit(2);
            }
        }
    }
    if sizes.is_empty() {
        sizes.push(100_000);
    }
    println!(
        "| statements | document | strategy | retained bytes/statement | with malloc overhead \
         (est.) | blocks/statement | peak during build, bytes/statement | document \
         bytes/statement | compile (best of 3) |"
    );
    println!("|---:|---|---|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let workload = Workload::new(n);
        let count = workload.statements() as f64;
        let docs: [(&str, &dyn Fn() -> Document); 2] = [
            ("fleet", &|| workload.fleet()),
            ("flat", &|| workload.flat()),
        ];
        for (doc_name, make) in docs {
            for (strategy_name, strategy) in
                [("indexed", Strategy::Indexed), ("linear", Strategy::Linear)]
            {
                match measure(make, strategy) {
                    Ok(f) => println!(
                        "| {} | {doc_name} | {strategy_name} | {:.0} | {:.0} | {:.1} | {:.0} | \
                         {:.0} | {:.1} ms |",
                        workload.statements(),
                        f.retained_bytes as f64 / count,
                        f.retained_chunk_bytes as f64 / count,
                        f.retained_blocks as f64 / count,
                        f.peak_bytes as f64 / count,
                        f.document_bytes as f64 / count,
                        f.compile.as_secs_f64() * 1e3,
                    ),
                    Err(e) => println!(
                        "| {} | {doc_name} | {strategy_name} | build failed: {e} | | | | | |",
                        workload.statements()
                    ),
                }
            }
        }
        if want_breakdown {
            println!();
            println!(
                "inline sizes: statement {} B, resource {} B, pattern {} B, mqtt level {} B, \
                 glob token {} B, text piece {} B",
                size_of::<mqward_core::StatementInfo>(),
                size_of::<Resource>(),
                size_of::<Pattern>(),
                size_of::<Level>(),
                size_of::<GlobTok>(),
                size_of::<Piece>(),
            );
            if let Err(e) = breakdown(&workload) {
                eprintln!("breakdown {n}: {e}");
                std::process::exit(1);
            }
        }
    }
}
