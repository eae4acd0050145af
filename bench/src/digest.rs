//! Trace digests: a fingerprint of the canonical trace an engine allocator writes on a
//! workload, to show that a change made for speed changed no behaviour.
//!
//! `report --digest` prints one line per engine allocator and workload: the number of
//! events and the FNV-1a hash of their canonical lines (init, every detail event, every
//! summary and every fault) over the steady trace and then the fill trace. Run it before
//! and after an engine change: the lines must not differ.

use std::fmt::Write;

use memplay_engine::trace::{Event, Sink};

use crate::catalog::{fixed_block, Kind, Row};
use crate::subject::{Engine, Subject};
use crate::workload::PAGE;
use crate::{efficiency, replay};

/// A sink that hashes canonical lines.
#[derive(Debug)]
pub struct Digest {
    pub events: u64,
    pub hash: u64,
    line: String,
}

impl Default for Digest {
    fn default() -> Digest {
        Digest {
            events: 0,
            hash: 0xcbf2_9ce4_8422_2325,
            line: String::new(),
        }
    }
}

impl Sink for Digest {
    fn event(&mut self, event: &Event) {
        self.line.clear();
        writeln!(self.line, "{event}").expect("writing to a String cannot fail");
        for &b in self.line.as_bytes() {
            self.hash = (self.hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        self.events += 1;
    }
}

/// The digest of `row`'s engine allocator over its steady trace, then over its fill
/// trace on a fresh pool; `None` for a peer.
pub fn trace_digest(row: &Row) -> Option<(u64, u64)> {
    let pool = row.workload.pool_size;
    let block = fixed_block(&row.workload);
    fn run<A: memplay_engine::Allocator>(
        row: &Row,
        make: &dyn Fn(Digest) -> Engine<A, Digest>,
    ) -> (u64, u64) {
        let mut steady = make(Digest::default());
        replay(&mut steady, &row.workload.steady());
        let mut fill = make(steady.sink);
        let trace = row.workload.fill(fill.capacity());
        efficiency(&mut fill, &trace);
        (fill.sink.events, fill.sink.hash)
    }
    Some(match row.kind {
        Kind::Tlsf => run(row, &|d| Engine::tlsf_with(pool, d)),
        Kind::BestFit => run(row, &|d| Engine::best_fit_with(pool, d)),
        Kind::Lab => run(row, &|d| Engine::lab_with(pool, d)),
        Kind::Partition => run(row, &|d| Engine::partition_with(pool, block, d)),
        Kind::Ctrl => run(row, &Engine::ctrl_with),
        Kind::Buddy => run(row, &|d| Engine::buddy_with(pool / PAGE, d)),
        _ => return None,
    })
}
