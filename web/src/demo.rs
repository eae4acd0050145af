//! The front page's live demo: a small simulated RAM with an MTK-like internal SRAM and
//! external SRAM region, a short script run through the engine, and what the page draws
//! from it: one band per region and the canonical trace.
//!
//! The allocator here is a stand-in written against the engine's core API only (RAM,
//! trace, `Allocator`): a guarded bump pool, the simplest allocator that keeps all its
//! metadata in RAM. To show a real allocator instead, build it in [`Machine::boot`], call
//! it from [`Machine::step`] and walk it in [`Machine::bands`]; [`run`]'s result stays the
//! same shape.
//!
//! Every state is recomputed by replaying the script from the start ([`run`]): the
//! engine is deterministic, so replay is the simplest correct "step back".

use std::fmt;

use memplay_engine::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use memplay_engine::error::AllocError;
use memplay_engine::name::Name;
use memplay_engine::ram::{Addr, Ram, RegionKind, Storage};
use memplay_engine::trace::{Event, EventKind, Field, Op, Sink};

/// One statement of the demo script, with what it teaches.
pub struct Step {
    pub script: &'static str,
    pub note: &'static str,
}

/// The demo script, in the flavour of memplay's script language.
pub const STEPS: &[Step] = &[
    Step {
        script: "pool isram",
        note: "A pool over all of internal SRAM: its control block (top, count) is the first 8 bytes of the region itself.",
    },
    Step {
        script: "pool extsram",
        note: "A second pool over external SRAM, larger and slower on a real phone.",
    },
    Step {
        script: "a = isram.alloc 20 owner 1",
        note: "Each block gets a 12-byte header (size, owner, magic word) in RAM, then the payload, then a 4-byte guard of 0x5a.",
    },
    Step {
        script: "b = extsram.alloc 100 owner 2",
        note: "The top pointer moves on: a bump allocator never searches.",
    },
    Step {
        script: "c = isram.alloc 6 owner 3",
        note: "6 bytes are rounded up to 8: 2 bytes of padding, internal fragmentation.",
    },
    Step {
        script: "poke a+20 0xff",
        note: "A write one byte past the end of a: it lands in a's guard.",
    },
    Step {
        script: "isram.check",
        note: "The integrity check reads every guard and finds the damaged one.",
    },
    Step {
        script: "isram.free a",
        note: "Like system memory on MTK phones, this pool never frees: the call fails with a typed error.",
    },
];

/// A RAM region and the spans drawn in its band.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub name: String,
    pub kind: RegionKind,
    pub base: Addr,
    pub size: u32,
    /// What each byte is, in address order, covering the region once.
    pub spans: Vec<Block>,
}

/// One canonical trace line and the step that produced it (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    pub step: usize,
    pub text: String,
}

/// The machine after some steps: what the page shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub bands: Vec<Band>,
    pub lines: Vec<TraceLine>,
}

/// Runs the first `steps` steps of [`STEPS`] from a fresh machine.
pub fn run(steps: usize) -> Snapshot {
    let mut lines = Lines::default();
    let mut machine = Machine::boot();
    for index in 0..steps.min(STEPS.len()) {
        lines.step = index + 1;
        machine.step(index, &mut lines);
    }
    Snapshot {
        bands: machine.bands(),
        lines: lines.lines,
    }
}

/// A sink that keeps canonical lines, tagged with the current step.
#[derive(Default)]
struct Lines {
    step: usize,
    lines: Vec<TraceLine>,
}

impl Sink for Lines {
    fn event(&mut self, event: &Event) {
        self.lines.push(TraceLine {
            step: self.step,
            // The same form as the engine's TextSink: a four-digit step, then the event.
            text: format!("{:04} {event}", self.step),
        });
    }
}

const ISRAM: Name = Name::lit("isram");
const EXTSRAM: Name = Name::lit("extsram");
const ISRAM_BASE: Addr = 0x4000_0000;
const ISRAM_SIZE: u32 = 256;
const EXTSRAM_BASE: Addr = 0x0800_0000;
const EXTSRAM_SIZE: u32 = 512;

/// The simulated RAM and the pools over it.
struct Machine {
    ram: Ram<Vec<u8>>,
    isram: GuardedBump,
    extsram: GuardedBump,
    /// Addresses the script named (`a`, `b`, `c`).
    named: Vec<Addr>,
}

impl Machine {
    fn boot() -> Machine {
        let mut ram = Ram::new(vec![0u8; (ISRAM_SIZE + EXTSRAM_SIZE) as usize]);
        // Fixed, valid constants: these cannot fail; if they ever did, the page would show
        // the error through the panic hook rather than draw a wrong machine.
        ram.add_region(ISRAM, RegionKind::Internal, ISRAM_BASE, ISRAM_SIZE)
            .expect("isram region");
        ram.add_region(EXTSRAM, RegionKind::External, EXTSRAM_BASE, EXTSRAM_SIZE)
            .expect("extsram region");
        Machine {
            ram,
            isram: GuardedBump::new(ISRAM, ISRAM_BASE, ISRAM_SIZE),
            extsram: GuardedBump::new(EXTSRAM, EXTSRAM_BASE, EXTSRAM_SIZE),
            named: Vec::new(),
        }
    }

    /// Runs step `index` of [`STEPS`]. Failures are not returned: the allocator has put
    /// them in the trace as `fault` events, which is what the learner sees.
    fn step(&mut self, index: usize, sink: &mut dyn Sink) {
        let mut cx = Ctx::new(&mut self.ram, sink);
        let a = self.named.first().copied().unwrap_or(0);
        match index {
            0 => {
                let result = self.isram.init(&mut cx);
                fault_to_trace(&mut cx, ISRAM, Op::Init, result);
            }
            1 => {
                let result = self.extsram.init(&mut cx);
                fault_to_trace(&mut cx, EXTSRAM, Op::Init, result);
            }
            2 => {
                let a = self.isram.alloc(&mut cx, 20, Owner(1)).unwrap_or(0);
                self.named.push(a);
            }
            3 => {
                let b = self.extsram.alloc(&mut cx, 100, Owner(2)).unwrap_or(0);
                self.named.push(b);
            }
            4 => {
                let c = self.isram.alloc(&mut cx, 6, Owner(3)).unwrap_or(0);
                self.named.push(c);
            }
            5 => {
                // A plain write by a task, not an allocator operation; it is in RAM, so it
                // cannot fault.
                let _ = cx.fill(Name::lit("poke"), a.wrapping_add(20), 1, 0xff, Field::Data);
            }
            6 => {
                let result = self.isram.check(cx.ram);
                fault_to_trace(&mut cx, ISRAM, Op::Check, result);
            }
            7 => {
                let _ = self.isram.free(&mut cx, a);
            }
            _ => {}
        }
    }

    fn bands(&self) -> Vec<Band> {
        [&self.isram, &self.extsram]
            .into_iter()
            .filter_map(|pool| {
                let region = self.ram.region_named(pool.name)?;
                let mut spans = Vec::new();
                if pool.initialised {
                    // A walk that fails (corrupted metadata) still shows what it read.
                    let _ = pool.walk(&self.ram, &mut |block| spans.push(block));
                }
                Some(Band {
                    name: region.name.to_string(),
                    kind: region.kind,
                    base: region.base,
                    size: region.size,
                    spans,
                })
            })
            .collect()
    }
}

/// Reports a failed operation as a `fault` event, as `Allocator::alloc` does for its own.
fn fault_to_trace(cx: &mut Ctx<'_, Vec<u8>>, source: Name, op: Op, result: Result<(), AllocError>) {
    if let Err(error) = result {
        cx.emit(source, EventKind::Fault { op, error });
    }
}

/// A bump pool that guards every block: the stand-in allocator for the demo.
///
/// Layout, all in simulated RAM:
/// - control block at the pool base: `top` (next free address), `count` (blocks);
/// - each block: header (`size`, `owner`, magic word), payload rounded up to 4 bytes,
///   then a guard word of `0x5a5a5a5a`.
struct GuardedBump {
    name: Name,
    base: Addr,
    size: u32,
    initialised: bool,
}

const CONTROL: u32 = 8;
const HEADER: u32 = 12;
const GUARD: u32 = 4;
const MAGIC: u32 = 0xa110_c8ed;
const GUARD_BYTE: u8 = 0x5a;
const GUARD_WORD: u32 = 0x5a5a_5a5a;

impl GuardedBump {
    fn new(name: Name, base: Addr, size: u32) -> GuardedBump {
        GuardedBump {
            name,
            base,
            size,
            initialised: false,
        }
    }

    fn end(&self) -> u64 {
        self.base as u64 + self.size as u64
    }

    fn init(&mut self, cx: &mut Ctx<'_, Vec<u8>>) -> Result<(), AllocError> {
        cx.emit(
            self.name,
            EventKind::Init {
                base: self.base,
                size: self.size,
            },
        );
        cx.set_word(self.name, self.base, Field::Top, self.base + CONTROL)?;
        cx.set_word(self.name, self.base + 4, Field::Count, 0)?;
        self.initialised = true;
        Ok(())
    }

    /// Visits every block as (header address, requested size, owner), checking each
    /// header's magic word and that it lies below `top`.
    fn blocks<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Addr, u32, u32) -> Result<(), AllocError>,
    ) -> Result<Addr, AllocError> {
        let top = ram.read_u32(self.base)?;
        if (top as u64) < self.base as u64 + CONTROL as u64 || top as u64 > self.end() {
            return Err(AllocError::Inconsistent {
                at: self.base,
                rule: "top lies inside the pool",
            });
        }
        let mut at = self.base + CONTROL;
        while at < top {
            let size = ram.read_u32(at)?;
            let owner = ram.read_u32(at + 4)?;
            let magic = ram.read_u32(at + 8)?;
            if magic != MAGIC {
                return Err(AllocError::Corrupted {
                    at: at + 8,
                    field: Field::Magic,
                    expected: MAGIC,
                    found: magic,
                });
            }
            let span = block_span(size);
            if at as u64 + span as u64 > top as u64 {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: "every block ends at or below top",
                });
            }
            visit(at, size, owner)?;
            at += span;
        }
        Ok(top)
    }
}

/// Header, payload rounded up to 4 bytes, guard. Saturates instead of overflowing on a
/// corrupted size; the caller then finds the block runs past `top`.
fn block_span(size: u32) -> u32 {
    HEADER
        .saturating_add(size.saturating_add(3) & !3)
        .saturating_add(GUARD)
}

impl Allocator for GuardedBump {
    fn name(&self) -> Name {
        self.name
    }

    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        let top = cx.word(self.base)?;
        let span = block_span(size);
        let left = (self.end() - top as u64) as u32;
        let room = left.saturating_sub(HEADER + GUARD) & !3;
        if span > left {
            return Err(AllocError::OutOfMemory {
                requested: size,
                largest_free: room,
            });
        }
        let payload = top + HEADER;
        cx.set_word(self.name, top, Field::Size, size)?;
        cx.set_word(self.name, top + 4, Field::Owner, owner.0 as u32)?;
        cx.set_word(self.name, top + 8, Field::Magic, MAGIC)?;
        cx.fill(
            self.name,
            top + span - GUARD,
            GUARD,
            GUARD_BYTE,
            Field::Guard,
        )?;
        cx.set_word(self.name, self.base, Field::Top, top + span)?;
        let count = cx.word(self.base + 4)?;
        cx.set_word(
            self.name,
            self.base + 4,
            Field::Count,
            count.wrapping_add(1),
        )?;
        cx.emit(
            self.name,
            EventKind::Alloc {
                addr: payload,
                size,
                block: span,
                owner,
            },
        );
        Ok(payload)
    }

    fn free_impl<S: Storage>(
        &mut self,
        _cx: &mut Ctx<'_, S>,
        addr: Addr,
    ) -> Result<(), AllocError> {
        Err(AllocError::NotFreeable { addr })
    }

    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        let pool = |addr, len, kind| Block {
            addr,
            len,
            kind,
            block: self.base,
            owner: Owner::NONE,
        };
        visit(pool(self.base, CONTROL, BlockKind::Header));
        let top = self.blocks(ram, &mut |at, size, owner| {
            let payload = at + HEADER;
            let owner = Owner(owner as u16);
            let span = |addr, len, kind| Block {
                addr,
                len,
                kind,
                block: payload,
                owner,
            };
            let rounded = (size + 3) & !3;
            visit(span(at, HEADER, BlockKind::Header));
            visit(span(payload, size, BlockKind::Payload));
            if rounded > size {
                visit(span(payload + size, rounded - size, BlockKind::Padding));
            }
            visit(span(payload + rounded, GUARD, BlockKind::Guard));
            Ok(())
        })?;
        let free = (self.end() - top as u64) as u32;
        if free > 0 {
            visit(pool(top, free, BlockKind::Free));
        }
        Ok(())
    }

    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        let mut blocks = 0u32;
        self.blocks(ram, &mut |at, size, _owner| {
            blocks += 1;
            let guard = at + HEADER + ((size + 3) & !3);
            let found = ram.read_u32(guard)?;
            if found != GUARD_WORD {
                return Err(AllocError::Corrupted {
                    at: guard,
                    field: Field::Guard,
                    expected: GUARD_WORD,
                    found,
                });
            }
            Ok(())
        })?;
        let count = ram.read_u32(self.base + 4)?;
        if count != blocks {
            return Err(AllocError::Inconsistent {
                at: self.base + 4,
                rule: "count equals the number of blocks",
            });
        }
        Ok(())
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) {:#010x}..{:#010x}",
            self.name,
            self.kind.as_str(),
            self.base,
            self.base as u64 + self.size as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_script_gives_the_expected_trace() {
        let snap = run(STEPS.len());
        let text: Vec<&str> = snap.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(text[0], "0001 isram.init base=0x40000000 size=256");
        assert!(text.contains(&"0003 isram.alloc addr=0x40000014 size=20 block=36 owner=1"));
        assert!(text.contains(&"0006 poke.fill addr=0x40000028 len=1 byte=0xff field=data"));
        assert!(text.contains(
            &"0007 isram.fault op=check error=Corrupted at=0x40000028 field=guard expected=0x5a5a5a5a found=0x5a5a5aff"
        ));
        assert_eq!(
            *text.last().unwrap(),
            "0008 isram.fault op=free addr=0x40000014 error=NotFreeable addr=0x40000014"
        );
    }

    #[test]
    fn bands_cover_each_region_exactly_once_at_every_step() {
        for steps in 0..=STEPS.len() {
            let snap = run(steps);
            assert_eq!(snap.bands.len(), 2);
            for band in &snap.bands {
                if band.spans.is_empty() {
                    continue; // before the pool is created
                }
                let mut at = band.base as u64;
                for span in &band.spans {
                    assert_eq!(
                        span.addr as u64, at,
                        "step {steps}: gap or overlap in {band}"
                    );
                    at += span.len as u64;
                }
                assert_eq!(
                    at,
                    band.base as u64 + band.size as u64,
                    "step {steps}: {band}"
                );
            }
        }
    }

    #[test]
    fn padding_shows_internal_fragmentation() {
        let snap = run(5);
        let isram = &snap.bands[0];
        assert!(isram
            .spans
            .iter()
            .any(|s| s.kind == BlockKind::Padding && s.len == 2 && s.owner == Owner(3)));
    }

    #[test]
    fn replay_is_deterministic() {
        assert_eq!(run(6), run(6));
        assert!(run(3).lines.iter().all(|l| l.step <= 3));
    }
}
