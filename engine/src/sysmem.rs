//! MTK KAL system memory: the semi-static boot allocator (`kal_system_alloc`).
//!
//! On a MediaTek feature phone, Nucleus calls `Application_Initialize` with the first free
//! address, and KAL sets up *system memory* over `System_Mem_Pool`, a static array whose
//! size is `GLOBAL_MEM_SIZE` (configured in `custom_config.c` by `custom_configmem`). To be
//! fast where it matters, system memory comes in two parts: *internal* system memory,
//! linked into internal SRAM, and system memory proper, linked into external SRAM (seed
//! 000). `kal_system_alloc` is "simple addition" on a pointer (`sys_mem_ptr`), and
//! `sys_mem_left_size` is what remains (seed 002). Task control blocks, task stacks,
//! queues, and the control-buffer pools themselves are carved from it at boot, and nothing
//! carved is ever given back.
//!
//! [`SystemMemory`] models exactly that over one or more *areas* (at most [`MAX_AREAS`]),
//! each a range inside one RAM region. A carve takes the first area of an internal region
//! that has room, then falls back to the external areas, in the order they were given;
//! [`SystemMemory::alloc_in`] carves "by request" from a named region only. Every carve is
//! 4-byte aligned and rounded up to a multiple of 4 bytes. [`Allocator::free`] always fails
//! with [`AllocError::NotFreeable`].
//!
//! Debug builds of KAL also have a debug pool (`Debug_Mem_Pool`, `GLOBAL_DEBUG_MEM_SIZE`,
//! reached through `debug_mem_ptr`). The engine's stand-in for that bookkeeping is the
//! *record table* in the control block: one record (address, requested size, owner) per
//! carve, so a learner can see what each carve was. When the table is full, carves still
//! succeed (allocation never depends on the debug data); their bytes are then shown as one
//! unrecorded span per area.
//!
//! # RAM layout
//!
//! The control block sits at the first 4-aligned address of the first area (all words
//! little-endian `u32`):
//!
//! ```text
//! +0               magic      SYSMEM_MAGIC (0x5359534d, "SYSM")
//! +4               areas      number of areas, 1..=4
//! +8               records    capacity of the record table
//! +12              recorded   records in use (<= records)
//! +16              carves     carves made, recorded or not (>= recorded)
//! +20 + 8*i        top[i]     next free address of area i   (= sys_mem_ptr)
//! +24 + 8*i        left[i]    bytes left in area i          (= sys_mem_left_size)
//! +20 + 8*areas + 12*j        record j: addr, size (as requested), owner
//! ```
//!
//! Invariants (checked by [`Allocator::check`]):
//! - `top[i] + left[i]` is the 4-aligned end of area `i`, and `top[i]` is 4-aligned and not
//!   below the area's first carvable address.
//! - Within each area, the recorded carves tile the area from its first carvable address
//!   upwards, each taking its size rounded up to 4; bytes between the last recorded carve
//!   and `top[i]` exist iff the record table is full and carves were made after that.
//! - `carves > recorded` iff some area has unrecorded carved bytes.

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner, Stats};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, RegionKind, Storage};
use crate::trace::{EventKind, Field, Op};

/// The most areas one system memory can have.
pub const MAX_AREAS: usize = 4;
/// Record-table slots [`SystemMemory::new`] reserves.
pub const DEFAULT_RECORDS: u32 = 32;
/// The largest record table [`SystemMemory::with_records`] accepts.
pub const MAX_RECORDS: u32 = 4096;
/// The control block's magic word: "SYSM" in ASCII, read as a big-endian number.
pub const SYSMEM_MAGIC: u32 = 0x5359_534d;
/// Carves are aligned to, and rounded up to a multiple of, this many bytes.
pub const CARVE_ALIGN: u32 = 4;

const CB_MAGIC: u32 = 0;
const CB_AREAS: u32 = 4;
const CB_RECORDS: u32 = 8;
const CB_RECORDED: u32 = 12;
const CB_CARVES: u32 = 16;
const CB_AREA_TABLE: u32 = 20;
/// An area entry: `top`, then `left`.
const AREA_ENTRY: u32 = 8;
/// A record: `addr`, `size`, `owner`.
const RECORD_ENTRY: u32 = 12;

/// A range given to system memory: `size` bytes at `base`, inside one RAM region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Area {
    pub base: Addr,
    pub size: u32,
}

impl Area {
    pub const fn new(base: Addr, size: u32) -> Area {
        Area { base, size }
    }
}

/// One area as configured: where carves may go and which region it is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AreaInfo {
    /// The range as given.
    pub base: Addr,
    pub size: u32,
    /// The first address a carve may take: the 4-aligned base, after the control block
    /// for the first area.
    pub start: Addr,
    /// One past the last address a carve may take: the area's end rounded down to 4 (and
    /// kept below 4 GiB, so an area ending there loses its last 4 bytes to padding).
    pub end: Addr,
    /// The RAM region holding the area, and its kind.
    pub region: Name,
    pub kind: RegionKind,
}

impl AreaInfo {
    /// One past the area's last byte as given.
    pub fn limit(&self) -> u64 {
        self.base as u64 + self.size as u64
    }

    fn holds(&self, addr: Addr) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// What `sys_mem_left_size` says: bytes left, in all and per area (in configuration order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeftSize {
    pub total: u32,
    pub per_area: [u32; MAX_AREAS],
    /// How many entries of `per_area` are areas.
    pub areas: usize,
}

impl LeftSize {
    /// The left sizes of the configured areas.
    pub fn as_slice(&self) -> &[u32] {
        &self.per_area[..self.areas.min(MAX_AREAS)]
    }
}

/// One record of the record table: a carve and what it was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarveRecord {
    pub addr: Addr,
    /// The size asked for; the carve took it rounded up to 4.
    pub size: u32,
    pub owner: Owner,
}

/// KAL system memory over up to [`MAX_AREAS`] areas. See the module documentation.
///
/// The struct holds configuration only; `top`, `left`, the counts and the records are in
/// the control block in RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemMemory {
    name: Name,
    /// `areas[..count]` are `Some`, in configuration order; area 0 holds the control block.
    areas: [Option<AreaInfo>; MAX_AREAS],
    count: usize,
    /// Area indices in carve preference: internal regions first, each group in
    /// configuration order.
    order: [usize; MAX_AREAS],
    /// The control block's address.
    cb: Addr,
    /// Record-table capacity.
    records: u32,
}

/// The control block's counts, validated against the configuration.
struct Header {
    recorded: u32,
    carves: u32,
}

fn round4(size: u32) -> Option<u32> {
    size.checked_add(CARVE_ALIGN - 1)
        .map(|s| s & !(CARVE_ALIGN - 1))
}

fn align_up4(addr: Addr) -> Option<Addr> {
    round4(addr)
}

impl SystemMemory {
    /// Creates system memory over `areas` with a record table of [`DEFAULT_RECORDS`].
    pub fn new<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        areas: &[Area],
    ) -> Result<SystemMemory, AllocError> {
        SystemMemory::with_records(cx, name, areas, DEFAULT_RECORDS)
    }

    /// Creates system memory over `areas` (at most [`MAX_AREAS`], not overlapping, each
    /// inside one RAM region) with `records` record-table slots (0 to [`MAX_RECORDS`]).
    /// The control block is written at the start of the first area.
    pub fn with_records<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        areas: &[Area],
        records: u32,
    ) -> Result<SystemMemory, AllocError> {
        let result = SystemMemory::configure(cx.ram, name, areas, records);
        let result = match result {
            Ok(sys) => sys.format(cx).map(|()| sys),
            Err(e) => Err(e),
        };
        if let Err(error) = result {
            cx.emit(
                name,
                EventKind::Fault {
                    op: Op::Init,
                    error,
                },
            );
        }
        result
    }

    /// Validates the configuration and lays out the areas, touching no RAM.
    fn configure<S: Storage>(
        ram: &Ram<S>,
        name: Name,
        given: &[Area],
        records: u32,
    ) -> Result<SystemMemory, AllocError> {
        if given.is_empty() {
            return Err(ConfigError::NoBlocks.into());
        }
        if given.len() > MAX_AREAS {
            return Err(ConfigError::TooMany {
                max: MAX_AREAS as u32,
            }
            .into());
        }
        if records > MAX_RECORDS {
            return Err(ConfigError::TooMany { max: MAX_RECORDS }.into());
        }
        let cb_size = CB_AREA_TABLE + AREA_ENTRY * given.len() as u32 + RECORD_ENTRY * records;
        let mut areas = [None; MAX_AREAS];
        let mut cb = 0;
        for (i, area) in given.iter().enumerate() {
            let not_in_ram = ConfigError::NotInRam {
                addr: area.base,
                size: area.size,
            };
            let region = ram.region_of(area.base).ok_or(not_in_ram)?;
            let limit = area.base as u64 + area.size as u64;
            if area.size == 0 || limit > region.end() {
                return Err(not_in_ram.into());
            }
            for other in areas[..i].iter().flatten() {
                let other: &AreaInfo = other;
                if (area.base as u64) < other.limit() && (other.base as u64) < limit {
                    return Err(AllocError::Inconsistent {
                        at: area.base,
                        rule: "system-memory areas must not overlap",
                    });
                }
            }
            let too_small = |needed: u64| ConfigError::TooSmall {
                needed: needed.min(u32::MAX as u64) as u32,
                available: area.size,
            };
            let aligned = align_up4(area.base).ok_or(too_small(CARVE_ALIGN as u64))?;
            // The last aligned word below 4 GiB is the highest end a u32 `top` can reach.
            const HIGHEST_END: u64 = (u32::MAX - (CARVE_ALIGN - 1)) as u64;
            let end = (limit & !(CARVE_ALIGN as u64 - 1)).min(HIGHEST_END);
            let mut start = aligned as u64;
            if i == 0 {
                cb = aligned;
                start += cb_size as u64;
            }
            if start > end {
                let needed = start - area.base as u64;
                return Err(too_small(needed).into());
            }
            areas[i] = Some(AreaInfo {
                base: area.base,
                size: area.size,
                start: start as Addr,
                end: end as Addr,
                region: region.name,
                kind: region.kind,
            });
        }
        let mut order = [0; MAX_AREAS];
        let mut n = 0;
        for kind in [RegionKind::Internal, RegionKind::External] {
            for (i, area) in areas[..given.len()].iter().enumerate() {
                if area.is_some_and(|a| a.kind == kind) {
                    order[n] = i;
                    n += 1;
                }
            }
        }
        Ok(SystemMemory {
            name,
            areas,
            count: given.len(),
            order,
            cb,
            records,
        })
    }

    /// Writes the control block: zeroes it, then sets the header and each area's top and
    /// left size. Emits `grow` for every area after the first, then `init`.
    fn format<S: Storage>(&self, cx: &mut Ctx<'_, S>) -> Result<(), AllocError> {
        let name = self.name;
        let cb_size = self.cb_size();
        cx.fill(name, self.cb, cb_size, 0, Field::Data)?;
        cx.set_word(name, self.cb + CB_MAGIC, Field::Magic, SYSMEM_MAGIC)?;
        cx.set_word(name, self.cb + CB_AREAS, Field::Count, self.count as u32)?;
        cx.set_word(name, self.cb + CB_RECORDS, Field::Count, self.records)?;
        cx.set_word(name, self.cb + CB_RECORDED, Field::Count, 0)?;
        cx.set_word(name, self.cb + CB_CARVES, Field::Count, 0)?;
        for (i, area) in self.areas() {
            let entry = self.area_entry(i);
            let left = area.end - area.start;
            cx.set_word(name, entry, Field::Top, area.start)?;
            cx.set_word(name, entry + 4, Field::Size, left)?;
        }
        for (_, area) in self.areas().skip(1) {
            let grow = EventKind::Grow {
                addr: area.base,
                size: area.size,
            };
            cx.emit(name, grow);
        }
        if let Some(first) = self.area(0) {
            let init = EventKind::Init {
                base: first.base,
                size: first.size,
            };
            cx.emit(name, init);
        }
        Ok(())
    }

    /// The address of the control block.
    pub fn control_block(&self) -> Addr {
        self.cb
    }

    /// The size of the control block: header, area table and record table.
    pub fn cb_size(&self) -> u32 {
        CB_AREA_TABLE + AREA_ENTRY * self.count as u32 + RECORD_ENTRY * self.records
    }

    /// Record-table capacity.
    pub fn record_capacity(&self) -> u32 {
        self.records
    }

    /// The number of areas.
    pub fn area_count(&self) -> usize {
        self.count
    }

    /// Area `i` in configuration order.
    pub fn area(&self, i: usize) -> Option<AreaInfo> {
        self.areas.get(i).copied().flatten()
    }

    /// The areas with their indices, in configuration order.
    pub fn areas(&self) -> impl Iterator<Item = (usize, AreaInfo)> + '_ {
        self.areas[..self.count.min(MAX_AREAS)]
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.map(|a| (i, a)))
    }

    fn area_entry(&self, i: usize) -> Addr {
        self.cb + CB_AREA_TABLE + AREA_ENTRY * i as u32
    }

    fn record_entry(&self, j: u32) -> Addr {
        self.cb + CB_AREA_TABLE + AREA_ENTRY * self.count as u32 + RECORD_ENTRY * j
    }

    /// Bytes left, in all and per area (`sys_mem_left_size`).
    pub fn left_size<S: Storage>(&self, ram: &Ram<S>) -> Result<LeftSize, AllocError> {
        self.header(ram)?;
        let mut left = LeftSize {
            areas: self.count,
            ..LeftSize::default()
        };
        for (i, _) in self.areas() {
            let (_, area_left) = self.area_state(ram, i)?;
            left.per_area[i] = area_left;
            left.total = left.total.saturating_add(area_left);
        }
        Ok(left)
    }

    /// Carves made so far, recorded or not.
    pub fn carve_count<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, AllocError> {
        Ok(self.header(ram)?.carves)
    }

    /// Record `j` of the record table, if `j` is below the number of records in use.
    pub fn record<S: Storage>(
        &self,
        ram: &Ram<S>,
        j: u32,
    ) -> Result<Option<CarveRecord>, AllocError> {
        let header = self.header(ram)?;
        if j >= header.recorded {
            return Ok(None);
        }
        let (record, _) = self.read_record(ram, j)?;
        Ok(Some(record))
    }

    /// Carves `size` bytes for `owner` from the areas of the RAM region named `region`
    /// only ("by request"), in configuration order.
    pub fn alloc_in<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        region: Name,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        let result = self.carve(cx, size, owner, Some(region));
        if let Err(error) = result {
            let op = Op::Alloc { size };
            cx.emit(self.name, EventKind::Fault { op, error });
        }
        result
    }

    /// Reads and validates the control block's header.
    fn header<S: Storage>(&self, ram: &Ram<S>) -> Result<Header, AllocError> {
        let word = |off: u32| ram.read_u32(self.cb + off);
        let magic = word(CB_MAGIC)?;
        if magic != SYSMEM_MAGIC {
            return Err(AllocError::Corrupted {
                at: self.cb + CB_MAGIC,
                field: Field::Magic,
                expected: SYSMEM_MAGIC,
                found: magic,
            });
        }
        for (off, expected) in [(CB_AREAS, self.count as u32), (CB_RECORDS, self.records)] {
            let found = word(off)?;
            if found != expected {
                return Err(AllocError::Corrupted {
                    at: self.cb + off,
                    field: Field::Count,
                    expected,
                    found,
                });
            }
        }
        let recorded = word(CB_RECORDED)?;
        if recorded > self.records {
            return Err(AllocError::Inconsistent {
                at: self.cb + CB_RECORDED,
                rule: "more records in use than the record table holds",
            });
        }
        let carves = word(CB_CARVES)?;
        if carves < recorded {
            return Err(AllocError::Inconsistent {
                at: self.cb + CB_CARVES,
                rule: "fewer carves counted than records in use",
            });
        }
        Ok(Header { recorded, carves })
    }

    /// Reads and validates area `i`'s `top` and `left`.
    fn area_state<S: Storage>(&self, ram: &Ram<S>, i: usize) -> Result<(Addr, u32), AllocError> {
        let entry = self.area_entry(i);
        let area = self.area(i).ok_or(AllocError::Inconsistent {
            at: entry,
            rule: "no such area",
        })?;
        let top = ram.read_u32(entry)?;
        let left = ram.read_u32(entry + 4)?;
        if !(area.start <= top && top <= area.end && top % CARVE_ALIGN == 0) {
            return Err(AllocError::Inconsistent {
                at: entry,
                rule: "an area's top is not an aligned address inside the area",
            });
        }
        let expected = area.end - top;
        if left != expected {
            return Err(AllocError::Corrupted {
                at: entry + 4,
                field: Field::Size,
                expected,
                found: left,
            });
        }
        Ok((top, left))
    }

    /// Reads record `j` (below `recorded`) and finds its area.
    fn read_record<S: Storage>(
        &self,
        ram: &Ram<S>,
        j: u32,
    ) -> Result<(CarveRecord, usize), AllocError> {
        let entry = self.record_entry(j);
        let addr = ram.read_u32(entry)?;
        let size = ram.read_u32(entry + 4)?;
        let owner = ram.read_u32(entry + 8)?;
        let bad = |rule| AllocError::Inconsistent { at: entry, rule };
        if size == 0 {
            return Err(bad("a carve record has size 0"));
        }
        if owner > u16::MAX as u32 {
            return Err(bad("a carve record's owner is not a 16-bit id"));
        }
        let area = self
            .areas()
            .find(|(_, a)| a.holds(addr))
            .map(|(i, _)| i)
            .ok_or(bad("a carve record points outside every area"))?;
        let record = CarveRecord {
            addr,
            size,
            owner: Owner(owner as u16),
        };
        Ok((record, area))
    }

    /// `kal_system_alloc`: bumps the first area (internal first, or in `only`'s region)
    /// with room for `size` rounded up to 4.
    fn carve<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
        only: Option<Name>,
    ) -> Result<Addr, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        if let Some(region) = only {
            if cx.ram.region_named(region).is_none() {
                return Err(ConfigError::NoSuchRegion { name: region }.into());
            }
        }
        let header = self.header(cx.ram)?;
        let needed = round4(size);
        let mut visited = 0;
        let mut largest_free = 0;
        let mut chosen = None;
        for &i in &self.order[..self.count] {
            let Some(area) = self.area(i) else { continue };
            if only.is_some_and(|region| region != area.region) {
                continue;
            }
            visited += 1;
            let (top, left) = self.area_state(cx.ram, i)?;
            largest_free = largest_free.max(left);
            if let Some(n) = needed.filter(|&n| n <= left) {
                chosen = Some((i, area, top, left, n));
                break;
            }
        }
        let Some((i, area, top, left, n)) = chosen else {
            return Err(AllocError::OutOfMemory {
                requested: size,
                largest_free,
            });
        };
        let carves = header
            .carves
            .checked_add(1)
            .ok_or(AllocError::Inconsistent {
                at: self.cb + CB_CARVES,
                rule: "the carve count overflows",
            })?;

        let name = self.name;
        if visited > 1 {
            // The preferred area could not serve: show how far the search went.
            cx.emit(name, EventKind::Search { size: n, visited });
        }
        let entry = self.area_entry(i);
        cx.set_word(name, entry, Field::Top, top + n)?;
        cx.set_word(name, entry + 4, Field::Size, left - n)?;
        if header.recorded < self.records {
            let rec = self.record_entry(header.recorded);
            cx.set_word(name, rec, Field::Data, top)?;
            cx.set_word(name, rec + 4, Field::Size, size)?;
            cx.set_word(name, rec + 8, Field::Owner, owner.0 as u32)?;
            let recorded = header.recorded + 1;
            cx.set_word(name, self.cb + CB_RECORDED, Field::Count, recorded)?;
        }
        cx.set_word(name, self.cb + CB_CARVES, Field::Count, carves)?;
        let carve = EventKind::Carve {
            addr: top,
            size: n,
            region: area.region,
        };
        cx.emit(name, carve);
        Ok(top)
    }

    /// Validates the whole control block and reports every span, area by area.
    fn scan<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        let header = self.header(ram)?;
        // Every record must lie in some area; the per-area pass below relies on it.
        for j in 0..header.recorded {
            self.read_record(ram, j)?;
        }
        let pool = self.area(0).map_or(self.cb, |a| a.base);
        let mut span = |addr: Addr, len: u64, kind: BlockKind, block: Addr, owner: Owner| {
            if len > 0 {
                let len = len.min(u32::MAX as u64) as u32;
                visit(Block {
                    addr,
                    len,
                    kind,
                    block,
                    owner,
                });
            }
        };
        let none = Owner::NONE;
        let mut unrecorded_bytes = 0u64;
        for (i, area) in self.areas() {
            let (top, left) = self.area_state(ram, i)?;
            if i == 0 {
                span(
                    area.base,
                    (self.cb - area.base) as u64,
                    BlockKind::Padding,
                    pool,
                    none,
                );
                span(
                    self.cb,
                    self.cb_size() as u64,
                    BlockKind::Header,
                    pool,
                    none,
                );
            } else {
                let lead = (area.start - area.base) as u64;
                span(area.base, lead, BlockKind::Padding, area.base, none);
            }
            let mut next = area.start as u64;
            for j in 0..header.recorded {
                let (rec, in_area) = self.read_record(ram, j)?;
                if in_area != i {
                    continue;
                }
                let at = self.record_entry(j);
                if rec.addr as u64 != next {
                    return Err(AllocError::Inconsistent {
                        at,
                        rule: "an area's carve records do not follow one another from its start",
                    });
                }
                let taken = round4(rec.size).map_or(u64::MAX, |n| n as u64);
                let end = next.saturating_add(taken);
                if end > top as u64 {
                    return Err(AllocError::Inconsistent {
                        at,
                        rule: "a carve record runs past its area's top",
                    });
                }
                span(
                    rec.addr,
                    rec.size as u64,
                    BlockKind::Payload,
                    rec.addr,
                    rec.owner,
                );
                let pad_at = rec.addr.wrapping_add(rec.size);
                span(
                    pad_at,
                    taken - rec.size as u64,
                    BlockKind::Padding,
                    rec.addr,
                    rec.owner,
                );
                next = end;
            }
            if next < top as u64 {
                if header.recorded < self.records {
                    return Err(AllocError::Inconsistent {
                        at: self.area_entry(i),
                        rule: "carved bytes have no record though the record table has room",
                    });
                }
                let from = next as Addr;
                span(from, top as u64 - next, BlockKind::Payload, from, none);
                unrecorded_bytes += top as u64 - next;
            }
            span(top, left as u64, BlockKind::Free, top, none);
            let tail = area.limit() - area.end as u64;
            span(area.end, tail, BlockKind::Padding, area.base, none);
        }
        let unrecorded_carves = (header.carves - header.recorded) as u64;
        let consistent = (unrecorded_carves > 0) == (unrecorded_bytes > 0)
            && unrecorded_carves * CARVE_ALIGN as u64 <= unrecorded_bytes;
        if !consistent {
            return Err(AllocError::Inconsistent {
                at: self.cb + CB_CARVES,
                rule: "the carve count does not match the carved bytes",
            });
        }
        Ok(())
    }
}

impl Allocator for SystemMemory {
    fn name(&self) -> Name {
        self.name
    }

    /// `kal_system_alloc`: internal areas first, then external. Emits `search` (only when
    /// the first area tried could not serve), the `meta` writes of top, left, record and
    /// counts, then `carve`.
    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        self.carve(cx, size, owner, None)
    }

    /// System memory is never freed.
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
        self.scan(ram, visit)
    }

    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        self.scan(ram, &mut |_| {})
    }

    /// As [`Stats::from_walk`], except that `blocks` counts carves, including the ones
    /// the record table had no room for.
    fn stats<S: Storage>(&self, ram: &Ram<S>) -> Result<Stats, AllocError> {
        let mut stats = Stats::from_walk(self, ram)?;
        stats.blocks = self.header(ram)?.carves;
        Ok(stats)
    }
}
