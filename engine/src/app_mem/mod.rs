//! ASM, MTK's app-shared memory (app_mem.c and AppMemMgr.c), over ADM pools.
//!
//! app_mem.c keeps two memory pools (seeds 000 and 001). The first is shared by the
//! applications: each app registers an id, a name, an icon and a stop callback
//! (`applib_mem_ap_register`), then allocates with `applib_mem_ap_alloc(app_id, size)`,
//! which rounds the size to 4, takes the block from an ADM created by `applib_mem_ap_init`,
//! wraps it with a header and a footer guard pattern and pushes it on the head of a
//! singly linked list. `applib_mem_ap_free` checks both guards, unlinks the chunk,
//! rewrites both guards with a second pattern and gives the block back to ADM. One app
//! may take the whole pool (`applib_mem_ap_alloc_full_pool`): the ADM is deleted, and
//! created again when that app frees the pool. `applib_mem_ap_get_current_usage` sums,
//! per app, each chunk plus the per-chunk overhead and says whether the app is stopping.
//!
//! When an allocation fails, AppMemMgr.c asks the user to stop a background app: see
//! [`OomState`] for that protocol. The second pool, screen memory, serves the GUI's
//! layers (`applib_mem_screen_alloc`): [`ScreenMem`].
//!
//! Everything is in the simulated RAM: the context (`g_applib_mem_cntx`) and the app
//! registry at the start of the ASM range, the ADM right after it, the chunk headers,
//! footers and list links in the ADM's blocks. See [`AppMem`] for the layout and
//! [`chunk`] for the chunk format. The Rust struct holds the configuration, the apps'
//! simulated stop behaviour ([`StopPlan`], their code) and the prompt's protocol state.
//!
//! Differences from the real code, on purpose: app ids start at 0 (the real enum
//! reserves 0 for `APPLIB_MEM_AP_ID_DUMMY`; here "no app" is `0xffffffff`), and a
//! request of 0 bytes is refused with `ZeroSize` like every engine allocator (the real
//! call hands out a 4-byte chunk).

pub mod chunk;
mod event;
mod oom;
mod screen;

pub use event::{AsmEvent, PopupMsg};
pub use oom::{AsmError, OomState, Outcome, Request};
pub use screen::ScreenMem;

use crate::adm::{Adm, MAX_SUBPOOLS};
use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field, Op};

use chunk::{Chunks, CHUNK_FOOTER, CHUNK_HEADER};

/// How many apps the registry holds (`APPLIB_MEM_AP_ID_TOTAL`).
pub const MAX_APPS: u16 = 8;
/// Marks the ASM context; reads "ASM!" in a hex view.
pub const ASM_MAGIC: u32 = u32::from_le_bytes(*b"ASM!");
/// "No app" in the context's `full_pool_app` word.
pub const NO_APP: u32 = 0xffff_ffff;
/// Bytes of one registry entry.
pub const ENTRY_LEN: u32 = 32;
/// Bytes of the ASM context: six words and the registry.
pub const CONTEXT_LEN: u32 = X_REGISTRY + ENTRY_LEN * MAX_APPS as u32;

// Context words, as offsets from the ASM base.
const X_MAGIC: u32 = 0;
const X_POOL_ID: u32 = 4;
const X_HEAD: u32 = 8;
const X_COUNT: u32 = 12;
const X_FULL_APP: u32 = 16;
const X_POOL_SIZE: u32 = 20;
const X_REGISTRY: u32 = 24;

// Registry entry words.
const E_FLAGS: u32 = 0;
const E_ID: u32 = 4;
const E_NAME: u32 = 8;
const E_ICON: u32 = 24;
const E_HANDLER: u32 = 28;
const NAME_LEN: u32 = 16;

/// Entry flag: the slot holds a registered app.
const REGISTERED: u32 = 1;
/// Entry flag: the app was asked to stop and has not reported back (`app_is_stopping`).
const STOPPING: u32 = 2;

/// The name of the app pool's ADM.
pub const APP_ADM_NAME: Name = Name::lit("asm_adm");
/// The name of the screen pool and of its ADM.
pub const SCREEN_NAME: Name = Name::lit("scr");
pub const SCREEN_ADM_NAME: Name = Name::lit("scr_adm");

fn rd<S: Storage>(ram: &Ram<S>, addr: Addr) -> Result<u32, AllocError> {
    Ok(ram.read_u32(addr)?)
}

/// How an app behaves when asked to stop: the simulated body of its stop callback.
///
/// On confirm the handler frees `frees_per_tick` of the app's chunks (newest first);
/// each later tick frees as many again. After `ticks` ticks (at once when 0) the app
/// calls `applib_mem_ap_notify_stop_finished(app, result)`; with `result` true it first
/// frees every chunk it still has, as a stopped app must.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopPlan {
    pub frees_per_tick: u16,
    pub ticks: u16,
    pub result: bool,
}

impl StopPlan {
    /// Stops inside the callback, freeing everything.
    pub const IMMEDIATE: StopPlan = StopPlan {
        frees_per_tick: 0,
        ticks: 0,
        result: true,
    };
}

impl Default for StopPlan {
    fn default() -> StopPlan {
        StopPlan::IMMEDIATE
    }
}

/// One row of `applib_mem_ap_get_current_usage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppUsage {
    pub app: u16,
    pub name: Name,
    pub icon: u32,
    /// Chunk sizes plus the per-chunk overhead, or the whole pool in full-pool mode.
    pub size: u32,
    pub stopping: bool,
}

/// A registry entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppInfo {
    pub app: u16,
    pub name: Name,
    pub icon: u32,
    pub handler: u32,
    pub stopping: bool,
}

/// Where the pools go.
#[derive(Clone, Copy, Debug)]
pub struct AsmConfig<'a> {
    /// The name of the ASM's events (`asm`).
    pub name: Name,
    /// The ASM range: the context, then the app pool's ADM.
    pub base: Addr,
    pub size: u32,
    /// The app pool ADM's subpool sizes (`g_applib_mem_pool_chunk_size`), zero-terminated
    /// or not.
    pub subpools: &'a [u32],
    /// The screen pool's range, if there is one.
    pub screen: Option<(Addr, u32)>,
}

/// The app-based ASM: context and registry, the app pool's ADM, the out-of-memory
/// protocol, and the screen pool.
///
/// RAM layout at `base`, little-endian words:
///
/// ```text
/// +0   magic          ASM_MAGIC ("ASM!")
/// +4   pool_id        the ADM's base in normal mode, 0 in full-pool mode (app_pool_id)
/// +8   app_head       the newest chunk header, 0 if none (app_head.next)
/// +12  alloc_count    live chunks; 1 in full-pool mode (app_alloc_count)
/// +16  full_pool_app  the app holding the whole pool, NO_APP otherwise
/// +20  pool_size      bytes of the app pool (APPLIB_MEM_AP_POOL_SIZE)
/// +24  registry       MAX_APPS entries of 32 bytes, entry i for app id i:
///        +0  flags    bit 0 registered, bit 1 stopping
///        +4  id       the app id
///        +8  name     16 bytes, the name's characters then NULs
///        +24 icon     icon id
///        +28 handler  stop handler id (the app's StopPlan slot)
/// +CONTEXT_LEN        the app pool: an ADM (see `Adm`) holding the chunks
/// ```
///
/// Invariants: normal mode iff `pool_id` is the ADM's base; in full-pool mode the ADM is
/// deleted, `alloc_count` is 1, `app_head` 0 and `full_pool_app` a registered app, which
/// owns `[pool, pool + pool_size)`. An app is stopping iff the prompt's state is
/// `Stopping` with that app as the victim.
#[derive(Clone, Debug)]
pub struct AppMem {
    name: Name,
    base: Addr,
    size: u32,
    pool: Adm,
    subpools: [u32; MAX_SUBPOOLS as usize],
    subpool_count: usize,
    plans: [StopPlan; MAX_APPS as usize],
    oom: OomState,
    screen: Option<ScreenMem>,
}

impl AppMem {
    /// `applib_mem_ap_init` (and `applib_mem_screen_init` when a screen range is
    /// given): creates the ADM, writes the context and an empty registry, emits `init`.
    pub fn init<S: Storage>(
        cx: &mut Ctx<'_, S>,
        config: &AsmConfig<'_>,
    ) -> Result<AppMem, AllocError> {
        let result = AppMem::init_inner(cx, config);
        if let Err(error) = result {
            let op = Op::Init;
            cx.emit(config.name, EventKind::Fault { op, error });
        }
        result
    }

    fn init_inner<S: Storage>(
        cx: &mut Ctx<'_, S>,
        config: &AsmConfig<'_>,
    ) -> Result<AppMem, AllocError> {
        let (name, base, size) = (config.name, config.base, config.size);
        if !cx.ram.contains(base, size) {
            return Err(ConfigError::NotInRam { addr: base, size }.into());
        }
        if !base.is_multiple_of(4) {
            return Err(ConfigError::BadAlignment { align: 4 }.into());
        }
        if size <= CONTEXT_LEN {
            return Err(ConfigError::TooSmall {
                needed: CONTEXT_LEN + 1,
                available: size,
            }
            .into());
        }
        let given = config.subpools.iter().take_while(|&&s| s != 0).count();
        if given > MAX_SUBPOOLS as usize {
            return Err(ConfigError::TooMany { max: MAX_SUBPOOLS }.into());
        }
        let mut subpools = [0; MAX_SUBPOOLS as usize];
        subpools[..given].copy_from_slice(&config.subpools[..given]);
        let pool_base = base + CONTEXT_LEN;
        let pool_size = size - CONTEXT_LEN;
        let pool = Adm::create(
            cx,
            APP_ADM_NAME,
            pool_base,
            pool_size,
            &subpools[..given],
            false,
        )?;
        cx.set_word(name, base + X_MAGIC, Field::Magic, ASM_MAGIC)?;
        cx.set_word(name, base + X_POOL_ID, Field::Pool, pool_base)?;
        cx.set_word(name, base + X_HEAD, Field::Head, 0)?;
        cx.set_word(name, base + X_COUNT, Field::Count, 0)?;
        cx.set_word(name, base + X_FULL_APP, Field::Owner, NO_APP)?;
        cx.set_word(name, base + X_POOL_SIZE, Field::Size, pool_size)?;
        let registry = ENTRY_LEN * MAX_APPS as u32;
        cx.fill(name, base + X_REGISTRY, registry, 0, Field::Data)?;
        let screen = match config.screen {
            Some((screen_base, screen_size)) => {
                Some(ScreenMem::init(cx, SCREEN_NAME, screen_base, screen_size)?)
            }
            None => None,
        };
        cx.emit(name, EventKind::Init { base, size });
        Ok(AppMem {
            name,
            base,
            size,
            pool,
            subpools,
            subpool_count: given,
            plans: [StopPlan::IMMEDIATE; MAX_APPS as usize],
            oom: OomState::Idle,
            screen,
        })
    }

    pub fn base(&self) -> Addr {
        self.base
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// The app pool's ADM (deleted while one app holds the whole pool).
    pub fn pool(&self) -> &Adm {
        &self.pool
    }

    /// The app pool's range, `g_applib_mem_ap_pool` and `APPLIB_MEM_AP_POOL_SIZE`.
    pub fn pool_range(&self) -> (Addr, u32) {
        (self.base + CONTEXT_LEN, self.size - CONTEXT_LEN)
    }

    /// The screen pool, if configured.
    pub fn screen(&self) -> Option<&ScreenMem> {
        self.screen.as_ref()
    }

    /// Bytes each chunk costs besides its rounded size, as usage counts them
    /// (`APPLIB_MEM_CHUNK_EXTRA_SIZE`: ADM header and gaps, chunk header and footer).
    pub fn chunk_extra(&self) -> u32 {
        self.pool.block_overhead() + CHUNK_HEADER + CHUNK_FOOTER
    }

    fn chunks(&self) -> Chunks {
        Chunks {
            source: self.name,
            head: self.base + X_HEAD,
            count: self.base + X_COUNT,
        }
    }

    fn entry(&self, app: u16) -> Addr {
        self.base + X_REGISTRY + ENTRY_LEN * app as u32
    }

    fn ensure_context<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        let at = self.base + X_MAGIC;
        let found = rd(ram, at)?;
        if found != ASM_MAGIC {
            return Err(AllocError::Corrupted {
                at,
                field: Field::Magic,
                expected: ASM_MAGIC,
                found,
            });
        }
        Ok(())
    }

    /// True in full-pool mode (`app_pool_id` is 0).
    pub fn is_full_pool<S: Storage>(&self, ram: &Ram<S>) -> Result<bool, AllocError> {
        Ok(rd(ram, self.base + X_POOL_ID)? == 0)
    }

    /// Live chunks (`applib_mem_ap_get_alloc_count`).
    pub fn alloc_count<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, AllocError> {
        rd(ram, self.base + X_COUNT)
    }

    /// The largest request `alloc` can serve now (`applib_mem_ap_get_max_alloc_size`).
    pub fn max_alloc_size<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, AllocError> {
        if self.is_full_pool(ram)? {
            return Ok(0);
        }
        let adm = self.pool.max_alloc_size(ram)?;
        Ok(adm.saturating_sub(CHUNK_HEADER + CHUNK_FOOTER) & !3)
    }

    fn flags<S: Storage>(&self, ram: &Ram<S>, app: u16) -> Result<u32, AllocError> {
        if app >= MAX_APPS {
            return Ok(0);
        }
        rd(ram, self.entry(app) + E_FLAGS)
    }

    /// True iff `app` is registered.
    pub fn is_registered<S: Storage>(&self, ram: &Ram<S>, app: u16) -> Result<bool, AllocError> {
        Ok(self.flags(ram, app)? & REGISTERED != 0)
    }

    /// The registry entry of `app`, if registered.
    pub fn app_info<S: Storage>(
        &self,
        ram: &Ram<S>,
        app: u16,
    ) -> Result<Option<AppInfo>, AllocError> {
        let flags = self.flags(ram, app)?;
        if flags & REGISTERED == 0 {
            return Ok(None);
        }
        let e = self.entry(app);
        let bytes = ram.slice(e + E_NAME, NAME_LEN)?;
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let name = core::str::from_utf8(&bytes[..len])
            .ok()
            .and_then(|text| Name::new(text).ok())
            .ok_or(AllocError::Inconsistent {
                at: e + E_NAME,
                rule: "an app name in the registry is not a valid name",
            })?;
        Ok(Some(AppInfo {
            app,
            name,
            icon: rd(ram, e + E_ICON)?,
            handler: rd(ram, e + E_HANDLER)?,
            stopping: flags & STOPPING != 0,
        }))
    }

    /// `applib_mem_ap_register(app_id, string_id, icon_id, stop_callback)`: writes the
    /// registry entry; `stop` is how the app's stop callback behaves. Registering again
    /// overwrites the entry, as the real call does.
    pub fn register<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        app: u16,
        name: Name,
        icon: u32,
        stop: StopPlan,
    ) -> Result<(), AsmError> {
        if app >= MAX_APPS {
            return Err(AsmError::NoSuchApp { app });
        }
        self.ensure_context(cx.ram)?;
        let e = self.entry(app);
        let s = self.name;
        let stopping = self.flags(cx.ram, app)? & STOPPING;
        cx.set_word(s, e + E_FLAGS, Field::Flags, REGISTERED | stopping)?;
        cx.set_word(s, e + E_ID, Field::Owner, app as u32)?;
        let mut text = [0u8; NAME_LEN as usize];
        let chars = name.as_str().as_bytes();
        let len = chars.len().min(text.len());
        text[..len].copy_from_slice(&chars[..len]);
        for (i, word) in text.chunks_exact(4).enumerate() {
            let value = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            cx.set_word(s, e + E_NAME + 4 * i as u32, Field::Data, value)?;
        }
        cx.set_word(s, e + E_ICON, Field::Data, icon)?;
        let handler = app as u32;
        cx.set_word(s, e + E_HANDLER, Field::Data, handler)?;
        self.plans[app as usize] = stop;
        cx.emit(
            s,
            EventKind::Asm(AsmEvent::Register {
                app,
                name,
                icon,
                handler,
            }),
        );
        Ok(())
    }

    /// Changes how `app` stops from now on.
    pub fn set_stop_plan(&mut self, app: u16, stop: StopPlan) -> Result<(), AsmError> {
        let slot = self
            .plans
            .get_mut(app as usize)
            .ok_or(AsmError::NoSuchApp { app })?;
        *slot = stop;
        Ok(())
    }

    /// The stop plan behind `app`'s handler id.
    fn plan<S: Storage>(&self, ram: &Ram<S>, app: u16) -> Result<StopPlan, AllocError> {
        let handler = rd(ram, self.entry(app) + E_HANDLER)?;
        self.plans
            .get(handler as usize)
            .copied()
            .ok_or(AllocError::Inconsistent {
                at: self.entry(app) + E_HANDLER,
                rule: "a stop handler id names no handler",
            })
    }

    fn set_stopping<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        app: u16,
        on: bool,
    ) -> Result<(), AllocError> {
        let flags = self.flags(cx.ram, app)?;
        let value = if on {
            flags | STOPPING
        } else {
            flags & !STOPPING
        };
        cx.set_word(self.name, self.entry(app) + E_FLAGS, Field::Flags, value)
    }

    /// `applib_mem_ap_alloc_full_pool`: `app` takes the whole pool. Only when no chunk is
    /// live: the ADM is deleted and the pool's first byte handed out. Emits the ADM's
    /// `delete`, the context writes, then `full_pool`.
    pub fn alloc_full_pool<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        app: u16,
    ) -> Result<Addr, AllocError> {
        let result = self.alloc_full_pool_inner(cx, app);
        if let Err(error) = result {
            let op = Op::Alloc {
                size: self.pool_range().1,
            };
            cx.emit(self.name, EventKind::Fault { op, error });
        }
        result
    }

    fn alloc_full_pool_inner<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        app: u16,
    ) -> Result<Addr, AllocError> {
        self.ensure_context(cx.ram)?;
        self.require_registered(cx.ram, app)?;
        let (pool, pool_size) = self.pool_range();
        if self.alloc_count(cx.ram)? != 0 || self.is_full_pool(cx.ram)? {
            return Err(AllocError::OutOfMemory {
                requested: pool_size,
                largest_free: self.max_alloc_size(cx.ram)?,
            });
        }
        self.pool.delete(cx).map_err(|e| match e {
            crate::adm::DeleteError::Alloc(e) => e,
            crate::adm::DeleteError::LiveBlocks { .. } => AllocError::Inconsistent {
                at: self.base + X_COUNT,
                rule: "the ADM has live blocks while the chunk count is 0",
            },
        })?;
        let s = self.name;
        cx.set_word(s, self.base + X_POOL_ID, Field::Pool, 0)?;
        cx.set_word(s, self.base + X_FULL_APP, Field::Owner, app as u32)?;
        cx.set_word(s, self.base + X_COUNT, Field::Count, 1)?;
        cx.emit(
            s,
            EventKind::Asm(AsmEvent::FullPool {
                app,
                addr: pool,
                size: pool_size,
            }),
        );
        Ok(pool)
    }

    fn require_registered<S: Storage>(&self, ram: &Ram<S>, app: u16) -> Result<(), AllocError> {
        if self.is_registered(ram, app)? {
            Ok(())
        } else {
            Err(AllocError::Inconsistent {
                at: self.entry(app.min(MAX_APPS - 1)),
                rule: "the app is not registered with ASM",
            })
        }
    }

    /// The full-pool free: recreates the ADM with the same subpools.
    fn free_full_pool<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
    ) -> Result<(), AllocError> {
        let (pool, pool_size) = self.pool_range();
        if addr != pool || self.alloc_count(cx.ram)? != 1 {
            return Err(AllocError::InvalidPointer { addr });
        }
        let owner = rd(cx.ram, self.base + X_FULL_APP)?;
        let s = self.name;
        cx.set_word(s, self.base + X_COUNT, Field::Count, 0)?;
        cx.set_word(s, self.base + X_FULL_APP, Field::Owner, NO_APP)?;
        let subpools = self.subpools;
        self.pool = Adm::create(
            cx,
            APP_ADM_NAME,
            pool,
            pool_size,
            &subpools[..self.subpool_count],
            false,
        )?;
        cx.set_word(s, self.base + X_POOL_ID, Field::Pool, pool)?;
        cx.emit(
            s,
            EventKind::Free {
                addr,
                block: pool_size,
                owner: Owner(owner as u16),
            },
        );
        Ok(())
    }

    /// `applib_mem_ap_get_current_usage`: one row per app owning chunks, in the order
    /// the list first meets them (newest chunk first); returns how many rows were
    /// written (at most `out.len()`).
    pub fn current_usage<S: Storage>(
        &self,
        ram: &Ram<S>,
        out: &mut [AppUsage],
    ) -> Result<usize, AllocError> {
        let mut sizes = [0u32; MAX_APPS as usize];
        let mut order = [0u16; MAX_APPS as usize];
        let mut seen = 0usize;
        if self.is_full_pool(ram)? {
            if self.alloc_count(ram)? != 0 {
                let app = rd(ram, self.base + X_FULL_APP)?;
                let app = u16::try_from(app).ok().filter(|&a| a < MAX_APPS).ok_or(
                    AllocError::Inconsistent {
                        at: self.base + X_FULL_APP,
                        rule: "the full-pool owner is not an app id",
                    },
                )?;
                sizes[app as usize] = self.pool_range().1;
                order[0] = app;
                seen = 1;
            }
        } else {
            let extra = self.chunk_extra();
            self.chunks().each(ram, &self.pool, &mut |chunk| {
                let app = u16::try_from(chunk.owner)
                    .ok()
                    .filter(|&a| a < MAX_APPS)
                    .ok_or(AllocError::Inconsistent {
                        at: chunk.header,
                        rule: "a chunk's owner is not an app id",
                    })?;
                if !order[..seen].contains(&app) {
                    if let Some(slot) = order.get_mut(seen) {
                        *slot = app;
                        seen += 1;
                    }
                }
                let size = &mut sizes[app as usize];
                *size = size.saturating_add(chunk.chunk_size.saturating_add(extra));
                Ok(())
            })?;
        }
        let mut rows = 0;
        for (&app, row) in order[..seen].iter().zip(out.iter_mut()) {
            let info = self.app_info(ram, app)?.ok_or(AllocError::Inconsistent {
                at: self.entry(app),
                rule: "an app owning memory is not registered",
            })?;
            *row = AppUsage {
                app,
                name: info.name,
                icon: info.icon,
                size: sizes[app as usize],
                stopping: info.stopping,
            };
            rows += 1;
        }
        Ok(rows)
    }

    /// `applib_mem_screen_alloc` for the layer of screen `screen`.
    pub fn screen_alloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        screen: u16,
    ) -> Result<Addr, AllocError> {
        match self.screen.as_mut() {
            Some(pool) => pool.alloc(cx, size, Owner(screen)),
            None => {
                let (op, error) = (Op::Alloc { size }, AllocError::Unsupported);
                cx.emit(self.name, EventKind::Fault { op, error });
                Err(error)
            }
        }
    }

    /// `applib_mem_screen_free`.
    pub fn screen_free<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
    ) -> Result<(), AllocError> {
        match self.screen.as_mut() {
            Some(pool) => pool.free(cx, addr),
            None => {
                let (op, error) = (Op::Free { addr }, AllocError::Unsupported);
                cx.emit(self.name, EventKind::Fault { op, error });
                Err(error)
            }
        }
    }

    /// The chunk payload addresses `app` owns, newest first, into `out`; returns how
    /// many there are (may exceed `out.len()`).
    pub fn blocks_of<S: Storage>(
        &self,
        ram: &Ram<S>,
        app: u16,
        out: &mut [Addr],
    ) -> Result<usize, AllocError> {
        if self.is_full_pool(ram)? {
            let owner = rd(ram, self.base + X_FULL_APP)?;
            if owner == app as u32 && self.alloc_count(ram)? == 1 {
                if let Some(slot) = out.first_mut() {
                    *slot = self.pool_range().0;
                }
                return Ok(1);
            }
            return Ok(0);
        }
        let mut n = 0usize;
        self.chunks().each(ram, &self.pool, &mut |chunk| {
            if chunk.owner == app as u32 {
                if let Some(slot) = out.get_mut(n) {
                    *slot = chunk.payload();
                }
                n += 1;
            }
            Ok(())
        })?;
        Ok(n)
    }

    fn check_registry<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        for app in 0..MAX_APPS {
            let e = self.entry(app);
            let flags = rd(ram, e + E_FLAGS)?;
            if flags & !(REGISTERED | STOPPING) != 0
                || (flags & STOPPING != 0 && flags & REGISTERED == 0)
            {
                return Err(AllocError::Inconsistent {
                    at: e + E_FLAGS,
                    rule:
                        "registry flags hold unknown bits or a stopping app that is not registered",
                });
            }
            if flags & REGISTERED == 0 {
                continue;
            }
            let id = rd(ram, e + E_ID)?;
            if id != app as u32 {
                return Err(AllocError::Corrupted {
                    at: e + E_ID,
                    field: Field::Owner,
                    expected: app as u32,
                    found: id,
                });
            }
            self.app_info(ram, app)?;
            self.plan(ram, app)?;
            let victim = match self.oom {
                OomState::Stopping { victim, .. } => Some(victim),
                _ => None,
            };
            if (flags & STOPPING != 0) != (victim == Some(app)) {
                return Err(AllocError::Inconsistent {
                    at: e + E_FLAGS,
                    rule: "an app is stopping iff the prompt waits for its stop",
                });
            }
        }
        Ok(())
    }
}

impl Allocator for AppMem {
    fn name(&self) -> Name {
        self.name
    }

    /// `applib_mem_ap_alloc(owner, size)`: the owner is the app id.
    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        self.ensure_context(cx.ram)?;
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        self.require_registered(cx.ram, owner.0)?;
        if self.is_full_pool(cx.ram)? {
            return Err(AllocError::OutOfMemory {
                requested: size,
                largest_free: 0,
            });
        }
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

    /// `applib_mem_ap_free`.
    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        self.ensure_context(cx.ram)?;
        if self.is_full_pool(cx.ram)? {
            return self.free_full_pool(cx, addr);
        }
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
        let (pool, pool_size) = self.pool_range();
        visit(Block {
            addr: self.base,
            len: CONTEXT_LEN,
            kind: BlockKind::Header,
            block: self.base,
            owner: Owner::NONE,
        });
        if self.is_full_pool(ram)? {
            let owner = rd(ram, self.base + X_FULL_APP)?;
            visit(Block {
                addr: pool,
                len: pool_size,
                kind: BlockKind::Payload,
                block: pool,
                owner: Owner(owner as u16),
            });
            return Ok(());
        }
        self.chunks().walk(ram, &self.pool, visit)
    }

    /// The context, the registry (and its stopping flags against the prompt's state),
    /// then per mode: the ADM and the chunk list (see `chunk`), or the full-pool words.
    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        self.ensure_context(ram)?;
        let (pool, pool_size) = self.pool_range();
        let size_at = self.base + X_POOL_SIZE;
        let found = rd(ram, size_at)?;
        if found != pool_size {
            return Err(AllocError::Corrupted {
                at: size_at,
                field: Field::Size,
                expected: pool_size,
                found,
            });
        }
        self.check_registry(ram)?;
        let pool_id = rd(ram, self.base + X_POOL_ID)?;
        let full_app = rd(ram, self.base + X_FULL_APP)?;
        let count = rd(ram, self.base + X_COUNT)?;
        let head = rd(ram, self.base + X_HEAD)?;
        if pool_id == 0 {
            let owner_ok = u16::try_from(full_app)
                .ok()
                .filter(|&a| a < MAX_APPS)
                .map_or(Ok(false), |a| self.is_registered(ram, a))?;
            if count != 1 || head != 0 || !owner_ok {
                return Err(AllocError::Inconsistent {
                    at: self.base + X_POOL_ID,
                    rule: "full-pool mode needs count 1, an empty list and a registered owner",
                });
            }
            return Ok(());
        }
        if pool_id != pool {
            return Err(AllocError::Corrupted {
                at: self.base + X_POOL_ID,
                field: Field::Pool,
                expected: pool,
                found: pool_id,
            });
        }
        if full_app != NO_APP {
            return Err(AllocError::Corrupted {
                at: self.base + X_FULL_APP,
                field: Field::Owner,
                expected: NO_APP,
                found: full_app,
            });
        }
        let registered = |owner: u32| {
            u16::try_from(owner)
                .ok()
                .filter(|&a| a < MAX_APPS)
                .is_some_and(|a| self.is_registered(ram, a).unwrap_or(false))
        };
        self.chunks().check(ram, &self.pool, &registered)
    }
}
