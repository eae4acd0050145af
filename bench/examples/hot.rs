//! Replays one row of the catalog many times, for a profiler:
//!
//! ```text
//! cargo build --release -p memplay-bench --example hot
//! perf record -g target/release/examples/hot memplay-tlsf churn 300
//! valgrind --tool=callgrind target/release/examples/hot memplay-tlsf churn 5
//! ```
//!
//! Prints the mean ns/op of the replays (a rough figure; the criterion suite is the
//! measurement).

use std::time::Instant;

use memplay_bench::catalog::{dispatch, rows, Row, Visitor};
use memplay_bench::replay;
use memplay_bench::subject::Subject;

struct Hot {
    repeat: u32,
}

impl Visitor for Hot {
    fn visit<S: Subject>(&mut self, row: &Row, make: &dyn Fn() -> S) {
        let trace = row.workload.steady();
        let mut total = 0.0;
        for _ in 0..self.repeat {
            let mut subject = make();
            let start = Instant::now();
            std::hint::black_box(replay(&mut subject, &trace));
            total += start.elapsed().as_nanos() as f64;
        }
        let ns = total / self.repeat as f64 / trace.len() as f64;
        println!("{} {:.1} ns/op", row.id(), ns);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kind), Some(workload)) = (args.first(), args.get(1)) else {
        eprintln!("usage: hot <allocator> <workload> [repeat]");
        std::process::exit(2);
    };
    let repeat = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(100);
    let found = rows().into_iter().filter(|r| {
        (kind == "all" || r.kind.name() == kind)
            && (workload == "all" || r.workload.name == workload)
    });
    let mut any = false;
    for row in found {
        any = true;
        dispatch(&row, &mut Hot { repeat });
    }
    if !any {
        eprintln!("no such row");
        std::process::exit(2);
    }
}
