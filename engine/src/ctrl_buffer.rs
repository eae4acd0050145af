//! The MTK control buffer: `get_ctrl_buffer` / `free_ctrl_buffer`, behind MMI's `OslMalloc`.
//!
//! KAL's control buffer is a set of Nucleus partition pools, one per size class, configured
//! in `custom_config.c` as a table of `{size, no_of_buff}` entries
//! (`custom_config_ctrl_buff_info`, seed 000). At boot every class's pool is carved from
//! system memory with `kal_system_alloc` and created with `NU_Create_Partition_Pool`
//! (seed 002). A request takes the smallest class whose size fits; when that class has no
//! free buffer it falls through to the next larger class. Nothing above the largest class
//! (2048 bytes by default) can be had at all: larger requests belong in ADM (seeds 000, 002).
//! The blocks are never split or merged, so there is no external fragmentation, but a
//! 100-byte request occupies a 128-byte buffer: internal fragmentation, which
//! [`CtrlBuffer::class_stats`] shows per class as bytes asked against bytes given.
//!
//! [`CtrlBuffer`] holds up to [`MAX_CLASSES`] classes, each a [`PartitionPool`] whose
//! metadata (control block, per-block headers, free list) is in RAM inside the bytes carved
//! from [`SystemMemory`]; see the partition module for the layout. Free finds the class by
//! address.
//!
//! Events: an allocation emits `fallback from=<class size> to=<class size>` for every
//! exhausted class it passes, then the chosen pool's `meta`/`unlink` events, then `alloc`;
//! a free emits the pool's `meta`/`link` events, then `free`. All carry the control
//! buffer's name; `list` in `link`/`unlink` is the class index.

use crate::allocator::{Allocator, Block, Ctx, Owner};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::partition::{PartitionPool, PoolUsage};
use crate::ram::{Addr, Ram, Storage};
use crate::sysmem::SystemMemory;
use crate::trace::{EventKind, Op};

/// The most size classes a control buffer can have.
pub const MAX_CLASSES: usize = 16;

/// One class's figures: a line of the usage bars.
pub type ClassStat = PoolUsage;

/// The figures of every class, smallest class first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassStats {
    stats: [ClassStat; MAX_CLASSES],
    len: usize,
}

impl ClassStats {
    pub fn as_slice(&self) -> &[ClassStat] {
        &self.stats[..self.len.min(MAX_CLASSES)]
    }
}

/// The control buffer. See the module documentation.
///
/// The struct holds the class pools' configuration and addresses; every count, link and
/// header is in RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtrlBuffer {
    name: Name,
    /// `pools[..classes]` are `Some`, with strictly ascending block sizes.
    pools: [Option<PartitionPool>; MAX_CLASSES],
    classes: usize,
}

impl CtrlBuffer {
    /// MTK's default classes, 32 to 2048 bytes doubling, with the numbers of buffers
    /// (`NUM_CTRL_BUFF_POOL_SIZE32` .. `NUM_CTRL_BUFF_POOL_SIZE2048`) of the GSM-only
    /// (`__CS_SERVICE__` without GPRS, not low-cost) branch of MediaTek's
    /// `ctrl_num_buff_pool_size`, commented there as the default for BASIC and UDVT loads,
    /// as published in the GitHub repository raspiduino/MT2503, file
    /// `config/include/hal/kal_user_mem.h`. Only the numbers are taken. That header also lists a 4096-byte class
    /// with 0 buffers, left out here, and lets a customer add buffers per class
    /// (`NUM_CUSTOM_CTRL_BUFF_POOL_SIZE*`, 3 more 2048-byte buffers there), not added here.
    pub const MTK_DEFAULT: &'static [(u32, u32)] = &[
        (32, 63),
        (64, 20),
        (128, 30),
        (256, 17),
        (512, 8),
        (1024, 8),
        (2048, 4),
    ];

    /// Checks `table` (`{size, no_of_buff}` entries, smallest first), then carves each
    /// class's pool from `sysmem` in table order and creates it. A class size must be a
    /// positive multiple of 4 and each class larger than the one before; every class needs
    /// at least one buffer.
    ///
    /// When system memory runs out part-way, the pools already carved stay carved (system
    /// memory is never freed) and the carve's error is returned.
    pub fn new<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        sysmem: &mut SystemMemory,
        table: &[(u32, u32)],
    ) -> Result<CtrlBuffer, AllocError> {
        let result = CtrlBuffer::build(cx, name, sysmem, table);
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

    fn build<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        sysmem: &mut SystemMemory,
        table: &[(u32, u32)],
    ) -> Result<CtrlBuffer, AllocError> {
        if table.is_empty() {
            return Err(ConfigError::NoBlocks.into());
        }
        if table.len() > MAX_CLASSES {
            let max = MAX_CLASSES as u32;
            return Err(ConfigError::TooMany { max }.into());
        }
        let mut previous = 0;
        for &(size, count) in table {
            if size == 0 || size % 4 != 0 {
                return Err(ConfigError::BadBlockSize { size }.into());
            }
            if size <= previous {
                return Err(ConfigError::ClassesNotAscending { size }.into());
            }
            PartitionPool::bytes_needed(size, count)?;
            previous = size;
        }
        let mut ctrl = CtrlBuffer {
            name,
            pools: [None; MAX_CLASSES],
            classes: 0,
        };
        for (i, &(size, count)) in table.iter().enumerate() {
            let needed = PartitionPool::bytes_needed(size, count)?;
            let base = sysmem.alloc(cx, needed, Owner::NONE)?;
            let mut pool = PartitionPool::with_count(cx, name, base, size, count)?;
            pool.set_list(i as u32);
            ctrl.pools[i] = Some(pool);
            ctrl.classes = i + 1;
        }
        Ok(ctrl)
    }

    /// The class pools, smallest first.
    pub fn pools(&self) -> impl Iterator<Item = &PartitionPool> + '_ {
        self.pools[..self.classes.min(MAX_CLASSES)].iter().flatten()
    }

    /// The pool of class `i`.
    pub fn pool(&self, i: usize) -> Option<&PartitionPool> {
        self.pools.get(i).and_then(|p| p.as_ref())
    }

    /// The number of classes.
    pub fn class_count(&self) -> usize {
        self.classes
    }

    /// The largest class size: requests above it get [`AllocError::TooLarge`].
    pub fn max_size(&self) -> u32 {
        self.pools().last().map_or(0, |p| p.block_size())
    }

    /// The index of the class a request of `size` bytes is served from first, if any.
    pub fn class_for(&self, size: u32) -> Option<usize> {
        self.pools().position(|p| p.block_size() >= size)
    }

    /// The figures of every class, read from RAM: size, count, free, in use, and bytes asked
    /// vs given.
    pub fn class_stats<S: Storage>(&self, ram: &Ram<S>) -> Result<ClassStats, AllocError> {
        let mut stats = ClassStats::default();
        for (i, pool) in self.pools().enumerate() {
            if let Some(slot) = stats.stats.get_mut(i) {
                *slot = pool.usage(ram)?;
                stats.len = i + 1;
            }
        }
        Ok(stats)
    }
}

impl Allocator for CtrlBuffer {
    fn name(&self) -> Name {
        self.name
    }

    /// `get_ctrl_buffer`: the smallest class that fits, falling through to larger classes
    /// while the chosen one is exhausted.
    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        let Some(first) = self.class_for(size) else {
            let max = self.max_size();
            return Err(AllocError::TooLarge {
                requested: size,
                max,
            });
        };
        let mut class = first;
        while let Some(pool) = self.pool(class) {
            if pool.free_count(cx.ram)? > 0 {
                let addr = pool.take(cx, size, owner)?;
                let block = pool.stride();
                cx.emit(
                    self.name,
                    EventKind::Alloc {
                        addr,
                        size,
                        block,
                        owner,
                    },
                );
                return Ok(addr);
            }
            if let Some(next) = self.pool(class + 1) {
                let fallback = EventKind::Fallback {
                    from: pool.block_size(),
                    to: next.block_size(),
                };
                cx.emit(self.name, fallback);
            }
            class += 1;
        }
        // Every class that fits is empty; a smaller class may still have buffers.
        let mut largest_free = 0;
        for pool in self.pools() {
            if pool.free_count(cx.ram)? > 0 {
                largest_free = pool.block_size();
            }
        }
        Err(AllocError::OutOfMemory {
            requested: size,
            largest_free,
        })
    }

    /// `free_ctrl_buffer`: finds the class by address and frees the buffer there.
    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        let Some(pool) = self.pools().find(|p| p.holds(addr)) else {
            return Err(AllocError::InvalidPointer { addr });
        };
        let owner = pool.release(cx, addr)?;
        let block = pool.stride();
        cx.emit(self.name, EventKind::Free { addr, block, owner });
        Ok(())
    }

    /// Every class pool's spans, smallest class first.
    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        for pool in self.pools() {
            pool.walk(ram, visit)?;
        }
        Ok(())
    }

    /// Checks every class pool.
    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        for pool in self.pools() {
            pool.check(ram)?;
        }
        Ok(())
    }
}
