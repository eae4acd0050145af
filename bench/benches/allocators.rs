//! The criterion suite: every row of the catalog (an allocator and a workload), its steady
//! trace recorded once and replayed on a fresh pool per iteration.
//!
//! Ids are `alloc/<allocator>/<workload>`; criterion writes each estimate to
//! `target/criterion/alloc/<allocator>/<workload>/new/estimates.json`, which the `report`
//! binary turns into the table (`cargo xtask bench` runs both).
//!
//! Measurement times are short (0.3 s warm-up, 1 s measurement, 20 samples) so the whole
//! suite takes a couple of minutes; criterion's command-line options override them, for
//! example
//! `cargo bench -p memplay-bench --features criterion -- --measurement-time 5 tlsf`.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use memplay_bench::catalog::{dispatch, rows, Row, Visitor};
use memplay_bench::replay;
use memplay_bench::subject::Subject;

struct Bench<'a, 'b> {
    group: &'a mut BenchmarkGroup<'b, WallTime>,
}

impl Visitor for Bench<'_, '_> {
    fn visit<S: Subject>(&mut self, row: &Row, make: &dyn Fn() -> S) {
        let trace = row.workload.steady();
        self.group
            .throughput(Throughput::Elements(trace.len() as u64));
        let id = BenchmarkId::new(row.kind.name(), row.workload.name);
        self.group.bench_function(id, |b| {
            b.iter_batched_ref(make, |s| replay(s, &trace), BatchSize::LargeInput)
        });
    }
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
        .configure_from_args();
    let mut group = criterion.benchmark_group("alloc");
    for row in rows() {
        dispatch(&row, &mut Bench { group: &mut group });
    }
    group.finish();
    criterion.final_summary();
}
