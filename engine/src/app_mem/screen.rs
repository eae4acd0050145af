//! Screen memory: app_mem.c's second pool, for the GUI's layers.
//!
//! From some MTK release on, a layer's buffer must come from `applib_mem_screen_alloc`
//! (seed 001). The pool is another ADM (`applib_mem_screen_init(screen_id_callback,
//! pool_size, pool_ptr)`) and every block carries the same chunk header, footer and list
//! as the app pool (see [`super::chunk`]); the owner is the id of the screen that
//! allocated it. There is no out-of-memory prompt: a screen that cannot get its layer
//! fails.
//!
//! RAM layout at `base`, then the ADM:
//!
//! ```text
//! +0   magic      SCREEN_MAGIC ("SCR!")
//! +4   pool_id    the ADM's base
//! +8   head       the newest chunk header, 0 if none
//! +12  count      live chunks
//! +16  the ADM (no subpools)
//! ```

use crate::adm::Adm;
use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field, Op};

use super::chunk::{Chunks, CHUNK_FOOTER, CHUNK_HEADER};
use super::SCREEN_ADM_NAME;

/// Marks the screen pool's context; reads "SCR!".
pub const SCREEN_MAGIC: u32 = u32::from_le_bytes(*b"SCR!");
/// Bytes of the screen pool's context.
pub const SCREEN_CONTEXT_LEN: u32 = 16;

const S_MAGIC: u32 = 0;
const S_POOL_ID: u32 = 4;
const S_HEAD: u32 = 8;
const S_COUNT: u32 = 12;

/// The screen-based ASM pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScreenMem {
    name: Name,
    base: Addr,
    size: u32,
    pool: Adm,
}

impl ScreenMem {
    /// `applib_mem_screen_init`: creates the ADM after a 16-byte context and emits
    /// `init`; a refused configuration emits `fault`.
    pub fn init<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        base: Addr,
        size: u32,
    ) -> Result<ScreenMem, AllocError> {
        let result = ScreenMem::init_inner(cx, name, base, size);
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

    fn init_inner<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        base: Addr,
        size: u32,
    ) -> Result<ScreenMem, AllocError> {
        if !cx.ram.contains(base, size) {
            return Err(ConfigError::NotInRam { addr: base, size }.into());
        }
        if !base.is_multiple_of(4) {
            return Err(ConfigError::BadAlignment { align: 4 }.into());
        }
        if size <= SCREEN_CONTEXT_LEN {
            return Err(ConfigError::TooSmall {
                needed: SCREEN_CONTEXT_LEN + 1,
                available: size,
            }
            .into());
        }
        let pool_base = base + SCREEN_CONTEXT_LEN;
        let pool = Adm::create(
            cx,
            SCREEN_ADM_NAME,
            pool_base,
            size - SCREEN_CONTEXT_LEN,
            &[],
            false,
        )?;
        cx.set_word(name, base + S_MAGIC, Field::Magic, SCREEN_MAGIC)?;
        cx.set_word(name, base + S_POOL_ID, Field::Pool, pool_base)?;
        cx.set_word(name, base + S_HEAD, Field::Head, 0)?;
        cx.set_word(name, base + S_COUNT, Field::Count, 0)?;
        cx.emit(name, EventKind::Init { base, size });
        Ok(ScreenMem {
            name,
            base,
            size,
            pool,
        })
    }

    pub fn base(&self) -> Addr {
        self.base
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// The screen pool's ADM.
    pub fn pool(&self) -> &Adm {
        &self.pool
    }

    fn chunks(&self) -> Chunks {
        Chunks {
            source: self.name,
            head: self.base + S_HEAD,
            count: self.base + S_COUNT,
        }
    }

    fn ensure_context<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        let at = self.base + S_MAGIC;
        let found = ram.read_u32(at)?;
        if found != SCREEN_MAGIC {
            return Err(AllocError::Corrupted {
                at,
                field: Field::Magic,
                expected: SCREEN_MAGIC,
                found,
            });
        }
        Ok(())
    }

    /// Live layer buffers (`applib_mem_screen_get_alloc_count`).
    pub fn alloc_count<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, AllocError> {
        Ok(ram.read_u32(self.base + S_COUNT)?)
    }
}

impl Allocator for ScreenMem {
    fn name(&self) -> Name {
        self.name
    }

    /// `applib_mem_screen_alloc(size)` for screen `owner`.
    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        self.ensure_context(cx.ram)?;
        let chunks = self.chunks();
        let (addr, chunk) = chunks.alloc(cx, &mut self.pool, size, owner)?;
        cx.emit(
            self.name,
            EventKind::Alloc {
                addr,
                size,
                block: chunk + CHUNK_HEADER + CHUNK_FOOTER,
                owner,
            },
        );
        Ok(addr)
    }

    /// `applib_mem_screen_free`.
    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        self.ensure_context(cx.ram)?;
        let chunks = self.chunks();
        let chunk = chunks.free(cx, &mut self.pool, addr)?;
        cx.emit(
            self.name,
            EventKind::Free {
                addr,
                block: chunk.chunk_size + CHUNK_HEADER + CHUNK_FOOTER,
                owner: Owner(chunk.owner as u16),
            },
        );
        Ok(())
    }

    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        self.ensure_context(ram)?;
        visit(Block {
            addr: self.base,
            len: SCREEN_CONTEXT_LEN,
            kind: BlockKind::Header,
            block: self.base,
            owner: Owner::NONE,
        });
        self.chunks().walk(ram, &self.pool, visit)
    }

    /// The context, the ADM and the chunk list (any owner id is a screen id).
    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        self.ensure_context(ram)?;
        let at = self.base + S_POOL_ID;
        let found = ram.read_u32(at)?;
        if found != self.pool.base() {
            return Err(AllocError::Corrupted {
                at,
                field: Field::Pool,
                expected: self.pool.base(),
                found,
            });
        }
        self.chunks()
            .check(ram, &self.pool, &|owner| owner <= u16::MAX as u32)
    }
}
