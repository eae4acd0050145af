//! A chain of AWTK decorators over a base allocator, configured at run time: what
//! `tk_mem_init` builds by hand, in any order a script names (`awtk stack oom debug pool
//! lock simple`).
//!
//! # Design
//!
//! A [`DecoratorStack`] is a base allocator `B` and a fixed-capacity list of up to
//! [`MAX_LAYERS`] [`Layer`]s, outermost first. A call enters at layer 0; each layer does its
//! part and calls the layer below (index + 1) as AWTK's decorators call `impl`; the last
//! layer calls the base. Because every layer's state is in RAM, the Rust value holds only the
//! list, each layer's object address and the root address of each pool, so a layer can call
//! back into the top of the stack in the middle of a call: the oom layer's release callback
//! does, through [`Reenter`], exactly as AWTK's callback calls `tk_free`.
//!
//! Order matters, as in AWTK:
//! - `lock` outside `oom` deadlocks when the release callback frees through the stack; here
//!   the re-entrant call is refused with [`AllocError::Deadlock`](crate::AllocError::Deadlock);
//! - `debug` outside `pool` logs every block; `debug` inside `pool` logs only what the pools
//!   pass down, plus the pools' own memory (`mem_pool_create`);
//! - `lock` inside `pool` counts only the requests that reach the heap.
//!
//! # RAM layout
//!
//! The decorator objects are static variables in AWTK (`static mem_allocator_pool_t pool;`
//! in `tk_mem_init`, `static mem_entry_t s_mem_log[]`), so they live in a separate *statics*
//! range the caller gives, one after another in stack order, outermost first. Every object
//! starts like a C `mem_allocator_t` subclass: `+0 vt` (a magic word naming the decorator),
//! `+4 impl` (the object of the layer below, or the base's). The rest is per layer: see
//! [`lock`], [`pool`], [`debug`], [`oom`]. The pools' memory itself comes from the layers below at creation,
//! as `mem_pool_create` takes it from `impl`.
//!
//! # Trace
//!
//! A call emits, in order, what each layer does as it happens (`lock.lock`, `pool.hit`, the
//! base's `search`/`split`/`alloc`, `lock.unlock`, `debug.record`, `oom.release`...), then one
//! summary from the stack's own name: `alloc` (with the block size of the layer that served
//! it), `free`, `realloc`, or `fault`.

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::awtk::oom::{self, NoRelease, OnOutOfMemory, Reenter};
use crate::awtk::pool::{self, Found, PoolConfig, POOLS};
use crate::awtk::{debug, lock};
use crate::awtk::{
    fault, AwtkEvent, CallSite, DebugFigures, Grant, LockFigures, MemAllocator, OomFigures,
    PoolFigures, FORCE_OOM_SIZE,
};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field, Op};

/// The most decorators one stack can have.
pub const MAX_LAYERS: usize = 8;

/// Offsets common to every decorator object.
pub const OFF_VT: u32 = 0;
pub const OFF_IMPL: u32 = 4;

/// Where the pools' memory is taken from in `mem_allocator_pool_init`.
const SITE_POOL_CREATE: CallSite = CallSite::lit("mem_pool_create", 0);

const RULE_ARENA_LIVE: &str = "each pool of mem_allocator_pool sits in one live block below";

/// One of AWTK's four decorators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// `mem_allocator_lock`.
    Lock,
    /// `mem_allocator_pool`.
    Pool,
    /// `mem_allocator_debug`.
    Debug,
    /// `mem_allocator_oom`.
    Oom,
}

impl Layer {
    pub const ALL: [Layer; 4] = [Layer::Lock, Layer::Pool, Layer::Debug, Layer::Oom];

    /// The word scripts use and the name its events carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Lock => "lock",
            Layer::Pool => "pool",
            Layer::Debug => "debug",
            Layer::Oom => "oom",
        }
    }

    /// The layer a script word names.
    pub fn from_word(word: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.as_str() == word)
    }

    /// The object's first word.
    pub fn vt(self) -> u32 {
        match self {
            Layer::Lock => lock::VT,
            Layer::Pool => pool::VT,
            Layer::Debug => debug::VT,
            Layer::Oom => oom::VT,
        }
    }

    /// The decorator object's size in the statics.
    pub fn object_size(self, config: &StackConfig) -> u32 {
        match self {
            Layer::Lock => lock::OBJECT_SIZE,
            Layer::Pool => pool::OBJECT_SIZE,
            Layer::Debug => debug::object_size(config.debug_entries),
            Layer::Oom => oom::OBJECT_SIZE,
        }
    }

    fn name(self) -> Name {
        const NAMES: [Name; 4] = [
            Name::lit("lock"),
            Name::lit("pool"),
            Name::lit("debug"),
            Name::lit("oom"),
        ];
        match self {
            Layer::Lock => NAMES[0],
            Layer::Pool => NAMES[1],
            Layer::Debug => NAMES[2],
            Layer::Oom => NAMES[3],
        }
    }

    /// The name of the `nth` layer of this kind: `pool`, then `pool2`, `pool3`...
    fn nth_name(self, nth: usize) -> Name {
        if nth <= 1 {
            return self.name();
        }
        let word = self.as_str().as_bytes();
        let mut buf = [0u8; Name::CAPACITY];
        let digit = b'0' + (nth % 10) as u8;
        let len = word.len() + 1;
        if let Some(dst) = buf.get_mut(..word.len()) {
            dst.copy_from_slice(word);
        }
        if let Some(d) = buf.get_mut(word.len()) {
            *d = digit;
        }
        buf.get(..len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .and_then(|s| Name::new(s).ok())
            .unwrap_or(self.name())
    }
}

/// How the decorators are configured (only those in the stack matter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackConfig {
    /// The pools' block counts.
    pub pool: PoolConfig,
    /// How many entries the debug log has (AWTK: 10240).
    pub debug_entries: u32,
}

impl Default for StackConfig {
    fn default() -> StackConfig {
        StackConfig {
            pool: PoolConfig::AWTK_SMALL,
            debug_entries: 64,
        }
    }
}

/// One decorator of a stack: its kind, the name its events carry, where its object is, and
/// (for a pool) the root address of each pool.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub kind: Layer,
    pub name: Name,
    pub object: Addr,
    pub arenas: [Addr; POOLS],
}

impl Slot {
    const EMPTY: Slot = Slot {
        kind: Layer::Lock,
        name: Name::lit("none"),
        object: 0,
        arenas: [0; POOLS],
    };
}

/// A decorator's figures, for the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figures {
    Lock(LockFigures),
    Pool(PoolFigures),
    Debug(DebugFigures),
    Oom(OomFigures),
}

/// AWTK decorators stacked over a base allocator.
///
/// Invariants: `slots[..count]` are the layers, outermost first; their objects tile
/// `[statics, statics + statics_size)` in that order; `slots[i].arenas` are the addresses
/// pool `i` took from the layers below (zero for other kinds).
#[derive(Clone, Debug)]
pub struct DecoratorStack<B> {
    name: Name,
    base: B,
    slots: [Slot; MAX_LAYERS],
    count: usize,
    statics: Addr,
    statics_size: u32,
    config: StackConfig,
}

/// The release callback's way back in: frees go through the whole stack from the top.
struct Reentry<'a, 'c, B, S> {
    stack: &'a mut DecoratorStack<B>,
    cx: &'a mut Ctx<'c, S>,
}

impl<B: MemAllocator, S: Storage> Reenter for Reentry<'_, '_, B, S> {
    fn free(&mut self, addr: Addr) -> Result<(), AllocError> {
        self.stack.tk_free(self.cx, addr)
    }
}

impl<B: MemAllocator> DecoratorStack<B> {
    /// The statics a stack of `layers` needs.
    pub fn statics_size(layers: &[Layer], config: &StackConfig) -> u32 {
        layers
            .iter()
            .fold(0u32, |sum, l| sum.saturating_add(l.object_size(config)))
    }

    /// Builds the stack over `base`, `layers` outermost first, with the decorator objects at
    /// `statics`. Layers are set up innermost first, as `tk_mem_init` does; each pool takes
    /// its memory from the layers below it. On error the RAM may hold a partly built stack.
    pub fn new<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        base: B,
        layers: &[Layer],
        statics: Addr,
        config: StackConfig,
    ) -> Result<DecoratorStack<B>, AllocError> {
        if layers.len() > MAX_LAYERS {
            return Err(ConfigError::TooMany {
                max: MAX_LAYERS as u32,
            }
            .into());
        }
        if layers.contains(&Layer::Pool) {
            config.pool.validate()?;
        }
        if layers.contains(&Layer::Debug) {
            if config.debug_entries == 0 {
                return Err(ConfigError::NoBlocks.into());
            }
            if config.debug_entries > debug::MAX_ENTRIES {
                return Err(ConfigError::TooMany {
                    max: debug::MAX_ENTRIES,
                }
                .into());
            }
        }
        let size = Self::statics_size(layers, &config);
        if size > 0 && !cx.ram.contains(statics, size) {
            return Err(ConfigError::NotInRam {
                addr: statics,
                size,
            }
            .into());
        }
        let mut overlaps = false;
        base.walk(cx.ram, &mut |span| {
            let (a, b) = (span.addr as u64, span.addr as u64 + span.len as u64);
            overlaps |= (statics as u64) < b && a < statics as u64 + size as u64;
        })?;
        if overlaps {
            return Err(ConfigError::Overlaps {
                addr: statics,
                size,
            }
            .into());
        }

        let mut slots = [Slot::EMPTY; MAX_LAYERS];
        let mut at = statics;
        for (i, (&kind, slot)) in layers.iter().zip(slots.iter_mut()).enumerate() {
            let nth = layers.iter().take(i + 1).filter(|&&l| l == kind).count();
            *slot = Slot {
                kind,
                name: kind.nth_name(nth),
                object: at,
                arenas: [0; POOLS],
            };
            at = at.wrapping_add(kind.object_size(&config));
        }
        let mut stack = DecoratorStack {
            name,
            base,
            slots,
            count: layers.len(),
            statics,
            statics_size: size,
            config,
        };
        for i in (0..stack.count).rev() {
            stack.init_layer(cx, i)?;
        }
        cx.emit(
            name,
            EventKind::Init {
                base: statics,
                size,
            },
        );
        Ok(stack)
    }

    /// `mem_allocator_<layer>_init`: the object, and for a pool its five pools.
    fn init_layer<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, i: usize) -> Result<(), AllocError> {
        let Some(slot) = self.slot(i) else {
            return Ok(());
        };
        cx.set_word(
            slot.name,
            slot.object + OFF_VT,
            Field::Magic,
            slot.kind.vt(),
        )?;
        cx.set_word(
            slot.name,
            slot.object + OFF_IMPL,
            Field::Next,
            self.impl_of(i),
        )?;
        match slot.kind {
            Layer::Lock => lock::init(cx, &slot),
            Layer::Oom => oom::init(cx, &slot),
            Layer::Debug => debug::init(cx, &slot, self.config.debug_entries),
            Layer::Pool => {
                pool::init_object(cx, &slot)?;
                let config = self.config.pool;
                for k in 0..POOLS {
                    let size = config.arena_size(k);
                    let grant = self.alloc_at(i + 1, cx, size, SITE_POOL_CREATE, &mut NoRelease)?;
                    if let Some(root) = self.slots.get_mut(i).and_then(|s| s.arenas.get_mut(k)) {
                        *root = grant.addr;
                    }
                    if let Some(slot) = self.slot(i) {
                        pool::init_arena(cx, &slot, &config, k, grant.addr)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Layer `i`, if the stack has that many.
    fn slot(&self, i: usize) -> Option<Slot> {
        self.slots.get(..self.count)?.get(i).copied()
    }

    /// What layer `i`'s `impl` points at: the next layer's object, or the base's.
    fn impl_of(&self, i: usize) -> Addr {
        match self.slot(i + 1) {
            Some(below) => below.object,
            None => self.base.object(),
        }
    }

    pub fn base(&self) -> &B {
        &self.base
    }

    pub fn base_mut(&mut self) -> &mut B {
        &mut self.base
    }

    /// The decorator objects' range.
    pub fn statics(&self) -> (Addr, u32) {
        (self.statics, self.statics_size)
    }

    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    pub fn layer_count(&self) -> usize {
        self.count
    }

    /// Layer `i` (0 is the outermost): its kind, its name and its object's address.
    pub fn layer(&self, i: usize) -> Option<(Layer, Name, Addr)> {
        self.slot(i).map(|s| (s.kind, s.name, s.object))
    }

    /// The index of the outermost layer of a kind.
    pub fn find(&self, kind: Layer) -> Option<usize> {
        (0..self.count).find(|&i| self.slot(i).map(|s| s.kind) == Some(kind))
    }

    /// Layer `i`'s figures; `None` past the last layer.
    pub fn figures<S: Storage>(
        &self,
        ram: &Ram<S>,
        i: usize,
    ) -> Result<Option<Figures>, AllocError> {
        let Some(slot) = self.slot(i) else {
            return Ok(None);
        };
        Ok(Some(match slot.kind {
            Layer::Lock => Figures::Lock(lock::figures(ram, &slot)?),
            Layer::Pool => Figures::Pool(pool::figures(ram, &slot, &self.config.pool)?),
            Layer::Debug => Figures::Debug(debug::figures(ram, &slot, self.config.debug_entries)?),
            Layer::Oom => Figures::Oom(oom::figures(ram, &slot)?),
        }))
    }

    /// The leak report: every block in the outermost debug log, with who asked for it.
    /// [`AllocError::Unsupported`] when the stack has no debug layer.
    pub fn leaks<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(debug::Leak),
    ) -> Result<(), AllocError> {
        let slot = self
            .find(Layer::Debug)
            .and_then(|i| self.slot(i))
            .ok_or(AllocError::Unsupported)?;
        debug::leaks(ram, &slot, self.config.debug_entries, visit)
    }

    /// `tk_alloc`: `size` bytes for the code at `site`; `on_oom` is the registered release
    /// callback (`tk_mem_set_on_out_of_memory`).
    pub fn tk_alloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        site: CallSite,
        on_oom: &mut dyn OnOutOfMemory,
    ) -> Result<Addr, AllocError> {
        match self.top_alloc(cx, size, site, on_oom) {
            Ok(grant) => Ok(grant.addr),
            Err(e) => Err(fault(cx, self.name, Op::Alloc { size }, e)),
        }
    }

    /// `tk_realloc`.
    pub fn tk_realloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        site: CallSite,
        on_oom: &mut dyn OnOutOfMemory,
    ) -> Result<Addr, AllocError> {
        match self.top_realloc(cx, addr, size, site, on_oom) {
            Ok(to) => Ok(to),
            Err(e) => Err(fault(cx, self.name, Op::Realloc { addr, size }, e)),
        }
    }

    /// `tk_free`.
    pub fn tk_free<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
    ) -> Result<(), AllocError> {
        match self.top_free(cx, addr) {
            Ok(_) => Ok(()),
            Err(e) => Err(fault(cx, self.name, Op::Free { addr }, e)),
        }
    }

    /// `tk_mem_dump`: every layer's `dump_*` events in AWTK's order, then `dump`.
    pub fn tk_mem_dump<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<(), AllocError> {
        self.dump_at(0, cx)?;
        cx.emit(
            self.name,
            EventKind::Awtk(AwtkEvent::Dump {
                layers: self.count as u32,
            }),
        );
        Ok(())
    }

    fn top_alloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        site: CallSite,
        on_oom: &mut dyn OnOutOfMemory,
    ) -> Result<Grant, AllocError> {
        let grant = self.alloc_at(0, cx, size, site, on_oom)?;
        cx.emit(
            self.name,
            EventKind::Alloc {
                addr: grant.addr,
                size,
                block: grant.block,
                owner: Owner::NONE,
            },
        );
        Ok(grant)
    }

    fn top_realloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        site: CallSite,
        on_oom: &mut dyn OnOutOfMemory,
    ) -> Result<Addr, AllocError> {
        let to = self.realloc_at(0, cx, addr, size, site, on_oom)?;
        cx.emit(
            self.name,
            EventKind::Realloc {
                from: addr,
                to,
                size,
            },
        );
        Ok(to)
    }

    fn top_free<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<u32, AllocError> {
        let block = self.free_at(0, cx, addr)?;
        cx.emit(
            self.name,
            EventKind::Free {
                addr,
                block,
                owner: Owner::NONE,
            },
        );
        Ok(block)
    }

    /// `mem_allocator_alloc` on layer `i`.
    fn alloc_at<S: Storage>(
        &mut self,
        i: usize,
        cx: &mut Ctx<'_, S>,
        size: u32,
        site: CallSite,
        on_oom: &mut dyn OnOutOfMemory,
    ) -> Result<Grant, AllocError> {
        let Some(slot) = self.slot(i) else {
            return self.base.mem_alloc(cx, size, site);
        };
        match slot.kind {
            Layer::Lock => {
                lock::acquire(cx, &slot)?;
                let result = self.alloc_at(i + 1, cx, size, site, on_oom);
                let unlocked = lock::release(cx, &slot);
                result.and_then(|grant| unlocked.map(|()| grant))
            }
            Layer::Pool => self.pool_alloc(i, &slot, cx, size, site, on_oom),
            Layer::Debug => {
                let grant = self.alloc_at(i + 1, cx, size, site, on_oom)?;
                debug::record(cx, &slot, self.config.debug_entries, grant.addr, size, site)?;
                Ok(grant)
            }
            Layer::Oom => {
                let mut tried = 0;
                loop {
                    let attempt = if size == FORCE_OOM_SIZE {
                        cx.emit(slot.name, EventKind::Awtk(AwtkEvent::Forced { size }));
                        Err(AllocError::OutOfMemory {
                            requested: size,
                            largest_free: 0,
                        })
                    } else {
                        self.alloc_at(i + 1, cx, size, site, on_oom)
                    };
                    match attempt {
                        Ok(grant) => {
                            if tried > 0 {
                                oom::bump(cx, &slot, oom::OFF_RESCUED)?;
                            }
                            return Ok(grant);
                        }
                        Err(e) if oom::retryable(&e) => {
                            tried += 1;
                            if !self.release(&slot, cx, tried, size, site, on_oom)? {
                                return Err(e);
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// `mem_allocator_pool_alloc`: the matching pool, else the layer below.
    fn pool_alloc<S: Storage>(
        &mut self,
        i: usize,
        slot: &Slot,
        cx: &mut Ctx<'_, S>,
        size: u32,
        site: CallSite,
        on_oom: &mut dyn OnOutOfMemory,
    ) -> Result<Grant, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        let config = self.config.pool;
        match pool::match_size(size) {
            Some(k) => {
                let block = pool::BLOCK_SIZES.get(k).copied().unwrap_or(0);
                if let Some((addr, used)) = pool::get(cx, slot, &config, k)? {
                    pool::count_hit(cx, slot, k)?;
                    let hit = AwtkEvent::PoolHit {
                        size,
                        pool: block,
                        addr,
                        used,
                    };
                    cx.emit(slot.name, EventKind::Awtk(hit));
                    return Ok(Grant { addr, block });
                }
                pool::count_miss(cx, slot, true)?;
                let miss = AwtkEvent::PoolMiss { size, pool: block };
                cx.emit(slot.name, EventKind::Awtk(miss));
            }
            None => {
                pool::count_miss(cx, slot, false)?;
                let miss = AwtkEvent::PoolMiss { size, pool: 0 };
                cx.emit(slot.name, EventKind::Awtk(miss));
            }
        }
        self.alloc_at(i + 1, cx, size, site, on_oom)
    }

    /// `tk_mem_on_out_of_memory` after failed try `tried`: counts, calls the callback, then
    /// says whether to try again.
    fn release<S: Storage>(
        &mut self,
        slot: &Slot,
        cx: &mut Ctx<'_, S>,
        tried: u32,
        size: u32,
        site: CallSite,
        on_oom: &mut dyn OnOutOfMemory,
    ) -> Result<bool, AllocError> {
        oom::bump(cx, slot, oom::OFF_CALLS)?;
        let release = AwtkEvent::Release { tried, size, site };
        cx.emit(slot.name, EventKind::Awtk(release));
        on_oom.on_out_of_memory(&mut Reentry { stack: self, cx }, tried, size)?;
        if tried >= oom::TRY_MAX_TIMES {
            oom::bump(cx, slot, oom::OFF_GIVEN_UP)?;
            cx.emit(
                slot.name,
                EventKind::Awtk(AwtkEvent::GiveUp { tried, size }),
            );
            return Ok(false);
        }
        oom::bump(cx, slot, oom::OFF_RETRIES)?;
        cx.emit(slot.name, EventKind::Awtk(AwtkEvent::Retry { tried, size }));
        Ok(true)
    }

    /// `mem_allocator_realloc` on layer `i`.
    fn realloc_at<S: Storage>(
        &mut self,
        i: usize,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        site: CallSite,
        on_oom: &mut dyn OnOutOfMemory,
    ) -> Result<Addr, AllocError> {
        let Some(slot) = self.slot(i) else {
            return self.base.mem_realloc(cx, addr, size, site);
        };
        match slot.kind {
            Layer::Lock => {
                lock::acquire(cx, &slot)?;
                let result = self.realloc_at(i + 1, cx, addr, size, site, on_oom);
                let unlocked = lock::release(cx, &slot);
                result.and_then(|to| unlocked.map(|()| to))
            }
            Layer::Pool => {
                if size == 0 {
                    return Err(AllocError::ZeroSize);
                }
                let config = self.config.pool;
                match pool::find(cx.ram, &slot, &config, addr)? {
                    Found::Block { k, index } => {
                        let block = pool::BLOCK_SIZES.get(k).copied().unwrap_or(0);
                        if size <= block {
                            return Ok(addr);
                        }
                        let grant = self.pool_alloc(i, &slot, cx, size, site, on_oom)?;
                        cx.ram.copy_within(addr, grant.addr, block)?;
                        pool::put(cx, &slot, &config, k, index)?;
                        Ok(grant.addr)
                    }
                    Found::Elsewhere => self.realloc_at(i + 1, cx, addr, size, site, on_oom),
                }
            }
            Layer::Debug => {
                let to = self.realloc_at(i + 1, cx, addr, size, site, on_oom)?;
                let entries = self.config.debug_entries;
                debug::unrecord(cx, &slot, entries, addr)?;
                debug::record(cx, &slot, entries, to, size, site)?;
                Ok(to)
            }
            Layer::Oom => {
                let mut tried = 0;
                loop {
                    match self.realloc_at(i + 1, cx, addr, size, site, on_oom) {
                        Ok(to) => {
                            if tried > 0 {
                                oom::bump(cx, &slot, oom::OFF_RESCUED)?;
                            }
                            return Ok(to);
                        }
                        Err(e) if oom::retryable(&e) => {
                            tried += 1;
                            if !self.release(&slot, cx, tried, size, site, on_oom)? {
                                return Err(e);
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// `mem_allocator_free` on layer `i`; returns the block's size in all.
    fn free_at<S: Storage>(
        &mut self,
        i: usize,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
    ) -> Result<u32, AllocError> {
        let Some(slot) = self.slot(i) else {
            return self.base.mem_free(cx, addr);
        };
        match slot.kind {
            Layer::Lock => {
                lock::acquire(cx, &slot)?;
                let result = self.free_at(i + 1, cx, addr);
                let unlocked = lock::release(cx, &slot);
                result.and_then(|block| unlocked.map(|()| block))
            }
            Layer::Pool => {
                let config = self.config.pool;
                match pool::find(cx.ram, &slot, &config, addr)? {
                    Found::Block { k, index } => pool::put(cx, &slot, &config, k, index),
                    Found::Elsewhere => self.free_at(i + 1, cx, addr),
                }
            }
            Layer::Debug => {
                let block = self.free_at(i + 1, cx, addr)?;
                debug::unrecord(cx, &slot, self.config.debug_entries, addr)?;
                Ok(block)
            }
            Layer::Oom => self.free_at(i + 1, cx, addr),
        }
    }

    /// `mem_allocator_dump` on layer `i`.
    fn dump_at<S: Storage>(&mut self, i: usize, cx: &mut Ctx<'_, S>) -> Result<(), AllocError> {
        let Some(slot) = self.slot(i) else {
            return self.base.mem_dump(cx);
        };
        match slot.kind {
            Layer::Lock => {
                lock::acquire(cx, &slot)?;
                let result = self.dump_at(i + 1, cx);
                let unlocked = lock::release(cx, &slot);
                result.and(unlocked)
            }
            Layer::Pool => {
                self.dump_at(i + 1, cx)?;
                let figures = pool::figures(cx.ram, &slot, &self.config.pool)?;
                for p in figures.pools {
                    let line = AwtkEvent::DumpPool {
                        pool: p.block_size,
                        block_nr: p.block_nr,
                        used: p.used,
                        hits: p.hits,
                    };
                    cx.emit(slot.name, EventKind::Awtk(line));
                }
                Ok(())
            }
            Layer::Debug => {
                debug::dump(cx, &slot, self.config.debug_entries)?;
                self.dump_at(i + 1, cx)
            }
            Layer::Oom => self.dump_at(i + 1, cx),
        }
    }

    /// The pool layer and pool whose memory starts at `addr`.
    fn arena_at(&self, addr: Addr) -> Option<(usize, usize)> {
        (0..self.count).find_map(|i| {
            let slot = self.slot(i)?;
            if slot.kind != Layer::Pool {
                return None;
            }
            slot.arenas.iter().position(|&a| a == addr).map(|k| (i, k))
        })
    }

    /// Passes a span of the allocator below on, replacing the payload of a block that holds
    /// a pool by the pool's header, bitmap and blocks (which may hold a pool in turn).
    fn expand<S: Storage>(
        &self,
        ram: &Ram<S>,
        span: Block,
        visit: &mut dyn FnMut(Block) -> Result<(), AllocError>,
        seen: &mut u64,
        depth: usize,
    ) -> Result<(), AllocError> {
        let arena = match span.kind {
            BlockKind::Payload if span.addr == span.block && span.addr != 0 => {
                self.arena_at(span.addr)
            }
            _ => None,
        };
        let Some((i, k)) = arena else {
            return visit(span);
        };
        let bit = 1u64 << (i * POOLS + k);
        let size = self.config.pool.arena_size(k);
        if *seen & bit != 0 || depth > MAX_LAYERS || span.len < size {
            return Err(AllocError::Inconsistent {
                at: span.addr,
                rule: RULE_ARENA_LIVE,
            });
        }
        *seen |= bit;
        let Some(slot) = self.slot(i) else {
            return visit(span);
        };
        pool::walk_arena(ram, &slot, &self.config.pool, k, &mut |sub| {
            self.expand(ram, sub, &mut *visit, &mut *seen, depth + 1)
        })?;
        if span.len > size {
            visit(Block {
                addr: span.addr.wrapping_add(size),
                len: span.len - size,
                kind: BlockKind::Padding,
                block: span.addr,
                owner: Owner::NONE,
            })?;
        }
        Ok(())
    }
}

impl<B: MemAllocator> Allocator for DecoratorStack<B> {
    fn name(&self) -> Name {
        self.name
    }

    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        _owner: Owner,
    ) -> Result<Addr, AllocError> {
        self.top_alloc(cx, size, CallSite::NONE, &mut NoRelease)
            .map(|grant| grant.addr)
    }

    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        self.top_free(cx, addr).map(|_| ())
    }

    fn realloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        _owner: Owner,
    ) -> Result<Addr, AllocError> {
        self.top_realloc(cx, addr, size, CallSite::NONE, &mut NoRelease)
    }

    /// The decorator objects (as header spans of the statics), then the base's spans with
    /// each pool's block replaced by the pool's own spans.
    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        for i in 0..self.count {
            if let Some(slot) = self.slot(i) {
                visit(Block {
                    addr: slot.object,
                    len: slot.kind.object_size(&self.config),
                    kind: BlockKind::Header,
                    block: self.statics,
                    owner: Owner::NONE,
                });
            }
        }
        let mut seen = 0u64;
        let mut failure = None;
        self.base.walk(ram, &mut |span| {
            if failure.is_none() {
                let mut pass = |b| {
                    visit(b);
                    Ok(())
                };
                if let Err(e) = self.expand(ram, span, &mut pass, &mut seen, 0) {
                    failure = Some(e);
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        for i in 0..self.count {
            let Some(slot) = self.slot(i) else { continue };
            if slot.kind != Layer::Pool {
                continue;
            }
            for (k, &arena) in slot.arenas.iter().enumerate() {
                if seen & 1u64 << (i * POOLS + k) == 0 {
                    return Err(AllocError::Inconsistent {
                        at: arena,
                        rule: RULE_ARENA_LIVE,
                    });
                }
            }
        }
        Ok(())
    }

    /// The base's check, each decorator object, and (through a walk) that every pool still
    /// sits in a live block below.
    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        self.base.check(ram)?;
        for i in 0..self.count {
            let Some(slot) = self.slot(i) else { continue };
            let fixed = [
                (OFF_VT, Field::Magic, slot.kind.vt()),
                (OFF_IMPL, Field::Next, self.impl_of(i)),
            ];
            for (off, field, expected) in fixed {
                let at = slot.object.wrapping_add(off);
                let found = ram.read_u32(at)?;
                if found != expected {
                    return Err(AllocError::Corrupted {
                        at,
                        field,
                        expected,
                        found,
                    });
                }
            }
            match slot.kind {
                Layer::Lock => lock::check(ram, &slot)?,
                Layer::Pool => pool::check(ram, &slot, &self.config.pool)?,
                Layer::Debug => debug::check(ram, &slot, self.config.debug_entries)?,
                Layer::Oom => oom::check(ram, &slot)?,
            }
        }
        self.walk(ram, &mut |_| {})
    }
}

impl<B: MemAllocator> MemAllocator for DecoratorStack<B> {
    fn object(&self) -> Addr {
        match self.slot(0) {
            Some(top) => top.object,
            None => self.base.object(),
        }
    }

    fn mem_alloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        site: CallSite,
    ) -> Result<Grant, AllocError> {
        match self.top_alloc(cx, size, site, &mut NoRelease) {
            Ok(grant) => Ok(grant),
            Err(e) => Err(fault(cx, self.name, Op::Alloc { size }, e)),
        }
    }

    fn mem_realloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        site: CallSite,
    ) -> Result<Addr, AllocError> {
        self.tk_realloc(cx, addr, size, site, &mut NoRelease)
    }

    fn mem_free<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<u32, AllocError> {
        match self.top_free(cx, addr) {
            Ok(block) => Ok(block),
            Err(e) => Err(fault(cx, self.name, Op::Free { addr }, e)),
        }
    }

    fn mem_dump<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<(), AllocError> {
        self.tk_mem_dump(cx)
    }
}
