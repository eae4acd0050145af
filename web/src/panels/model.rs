//! View models: what each subsystem's panel shows, as plain data read from the machine.
//!
//! No Yew here: every function takes an engine object and the RAM it lives in and returns
//! plain, comparable data, so the figures are tested on the host. Everything is read
//! through the engine's public API; where the engine has no accessor for a structure its
//! module documents in RAM (the partition free list, the LiteOS best-fit lists, the TLSF
//! lists, ADM's subpool table, the page tables), the model follows those documented words
//! read-only, bounded so that corrupted metadata ends in an error, never a hang.
//!
//! [`panels`] turns a whole [`Machine`] into one [`Panel`] per configured subsystem.

use std::collections::BTreeMap;
use std::fmt::Display;

use memplay_engine::adm::{self, Adm};
use memplay_engine::allocator::{Owner, Stats};
use memplay_engine::app_mem::{AppMem, AppUsage, OomState, ScreenMem, MAX_APPS};
use memplay_engine::awtk::{DecoratorStack, Figures, MemAllocator};
use memplay_engine::ctrl_buffer::CtrlBuffer;
use memplay_engine::dynmem::{self, DynMem};
use memplay_engine::evshed::{HwState, L4_CALLBACK_TIMER};
use memplay_engine::machine::{Machine, Pool};
use memplay_engine::pages::{PhysMem, ORDERS};
use memplay_engine::partition::{self, PartitionPool};
use memplay_engine::policy_lab::PolicyLab;
use memplay_engine::ram::{Addr, Ram, Storage};
use memplay_engine::sysmem::SystemMemory;
use memplay_engine::task::{Kal, Message, QueueKind, Src, MSG_ID_TIMER_EXPIRY};
use memplay_engine::tlsf::{self, Tlsf};
use memplay_engine::vm::{self, l1, SpaceId, SpaceKind, Vm, MAX_SPACES};

/// The longest list a panel shows; longer lists are cut and say so.
pub const LIST_LIMIT: usize = 64;

/// Metadata the model could not read: the panel shows the message instead of figures.
pub type Unreadable = String;

fn text(error: impl Display) -> Unreadable {
    error.to_string()
}

fn owner_text(owner: Owner) -> String {
    owner.to_string()
}

// ---------------------------------------------------------------------------------------
// The machine as a list of panels
// ---------------------------------------------------------------------------------------

/// One configured subsystem's panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The pool's name in the script (`sys`, `ctrl`, `msg`...).
    pub name: String,
    /// The pool's figures from the allocator trait, when the subsystem is an allocator
    /// and its metadata is readable.
    pub stats: Option<Stats>,
    /// What the panel draws, or why the metadata could not be read.
    pub body: Result<Body, Unreadable>,
}

/// What a panel draws.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Sys(SysModel),
    Ctrl(CtrlModel),
    Part(PartModel),
    Lab(LabModel),
    Dyn(DynModel),
    Tlsf(TlsfModel),
    Adm(AdmModel),
    Asm(AsmModel),
    Screen(ScreenModel),
    Awtk(AwtkModel),
    Pages(PagesModel),
    Vm(VmModel),
    Tasks(TasksModel),
    Timers(TimersModel),
}

/// Every configured subsystem's panel: the pools in configuration order, then virtual
/// memory, the task table and the timers; empty when the script has configured nothing
/// (yet).
pub fn panels(machine: &Machine<Vec<u8>, String>) -> Vec<Panel> {
    let ram = machine.ram();
    let mut out = Vec::new();
    for pool in machine.pools() {
        let name = pool.name().as_str().to_string();
        let stats = pool.stats(ram).ok();
        let body = match pool {
            Pool::Sys(s) => sys(s, ram).map(Body::Sys),
            Pool::Ctrl(c) => ctrl(c, ram).map(Body::Ctrl),
            Pool::Part(p) => part(p, ram).map(Body::Part),
            Pool::Lab(l) => Ok(Body::Lab(lab(l))),
            Pool::Dyn(d) => dynmem(&d.mem, ram).map(Body::Dyn),
            Pool::Tlsf(t) => tlsf(t, ram).map(Body::Tlsf),
            Pool::Adm(a) => adm(a, ram).map(Body::Adm),
            Pool::Asm(a) => asm(&a.mem, ram).map(Body::Asm),
            Pool::Screen(s) => screen(s, ram).map(Body::Screen),
            Pool::Awtk(a) => awtk(&a.stack, ram).map(Body::Awtk),
            Pool::Pages(p) => pages(p, ram).map(Body::Pages),
        };
        out.push(Panel { name, stats, body });
    }
    // Virtual memory and the task system sit beside the pools.
    if let Some(v) = machine.vm() {
        out.push(Panel {
            name: v.name().as_str().to_string(),
            stats: None,
            body: vm_model(v, ram).map(Body::Vm),
        });
    }
    if let Some(k) = machine.kal() {
        out.push(Panel {
            name: k.name().as_str().to_string(),
            stats: None,
            body: tasks(k, ram).map(Body::Tasks),
        });
        let name = k
            .evshed()
            .map_or_else(|| "timers".to_string(), |e| e.name().as_str().to_string());
        match timers(k, ram) {
            Ok(None) => {}
            Ok(Some(t)) => out.push(Panel {
                name,
                stats: None,
                body: Ok(Body::Timers(t)),
            }),
            Err(why) => out.push(Panel {
                name,
                stats: None,
                body: Err(why),
            }),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// System memory
// ---------------------------------------------------------------------------------------

/// KAL system memory: what is left per area (`sys_mem_left_size`) and the carve records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysModel {
    pub areas: Vec<SysArea>,
    /// `sys_mem_left_size`.
    pub left: u32,
    /// Carves made so far (recorded or not).
    pub carves: u32,
    /// The record table, oldest first (at most its capacity).
    pub records: Vec<Carve>,
    pub record_capacity: u32,
    pub control_block: Addr,
    pub control_block_size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysArea {
    /// The RAM region holding the area and whether it is internal or external SRAM.
    pub region: String,
    pub kind: &'static str,
    /// Where carves may go: `[start, end)`.
    pub start: Addr,
    pub end: Addr,
    pub left: u32,
}

impl SysArea {
    /// Bytes carves may take in all.
    pub fn capacity(&self) -> u32 {
        self.end.saturating_sub(self.start)
    }

    pub fn carved(&self) -> u32 {
        self.capacity().saturating_sub(self.left)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Carve {
    pub addr: Addr,
    pub size: u32,
    pub owner: String,
    /// The region it came from.
    pub region: String,
}

pub fn sys<S: Storage>(s: &SystemMemory, ram: &Ram<S>) -> Result<SysModel, Unreadable> {
    let left = s.left_size(ram).map_err(text)?;
    let areas: Vec<SysArea> = s
        .areas()
        .map(|(i, a)| SysArea {
            region: a.region.as_str().to_string(),
            kind: a.kind.as_str(),
            start: a.start,
            end: a.end,
            left: left.per_area.get(i).copied().unwrap_or(0),
        })
        .collect();
    let mut records = Vec::new();
    for j in 0..s.record_capacity() {
        match s.record(ram, j).map_err(text)? {
            Some(r) => {
                let region = areas
                    .iter()
                    .find(|a| a.start <= r.addr && r.addr < a.end)
                    .map_or_else(String::new, |a| a.region.clone());
                records.push(Carve {
                    addr: r.addr,
                    size: r.size,
                    owner: owner_text(r.owner),
                    region,
                });
            }
            None => break,
        }
    }
    Ok(SysModel {
        areas,
        left: left.total,
        carves: s.carve_count(ram).map_err(text)?,
        records,
        record_capacity: s.record_capacity(),
        control_block: s.control_block(),
        control_block_size: s.cb_size(),
    })
}

// ---------------------------------------------------------------------------------------
// Control buffer and partition pools
// ---------------------------------------------------------------------------------------

/// The control buffer's classes: usage bars and internal fragmentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtrlModel {
    pub classes: Vec<CtrlClass>,
    /// The largest class: nothing above it is served.
    pub max_size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtrlClass {
    pub size: u32,
    pub count: u32,
    pub in_use: u32,
    pub free: u32,
    /// Bytes asked for by the buffers in use, and bytes given (`in_use * size`).
    pub asked: u32,
    pub given: u32,
}

impl CtrlClass {
    pub fn wasted(&self) -> u32 {
        self.given.saturating_sub(self.asked)
    }
}

impl CtrlModel {
    pub fn asked(&self) -> u32 {
        self.classes.iter().map(|c| c.asked).sum()
    }

    pub fn given(&self) -> u32 {
        self.classes.iter().map(|c| c.given).sum()
    }
}

pub fn ctrl<S: Storage>(c: &CtrlBuffer, ram: &Ram<S>) -> Result<CtrlModel, Unreadable> {
    let stats = c.class_stats(ram).map_err(text)?;
    Ok(CtrlModel {
        classes: stats
            .as_slice()
            .iter()
            .map(|u| CtrlClass {
                size: u.block_size,
                count: u.count,
                in_use: u.in_use,
                free: u.free,
                asked: u.asked,
                given: u.given,
            })
            .collect(),
        max_size: c.max_size(),
    })
}

/// A partition pool (membox): its usage and its free list as it runs through RAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartModel {
    pub control_block: Addr,
    pub block_size: u32,
    /// Header plus block: the distance between two blocks.
    pub stride: u32,
    pub count: u32,
    pub in_use: u32,
    pub free: u32,
    pub asked: u32,
    pub given: u32,
    /// The free list from its head: the header address of each free block.
    pub free_list: Vec<Addr>,
    /// The list is longer than [`LIST_LIMIT`].
    pub cut: bool,
}

pub fn part<S: Storage>(p: &PartitionPool, ram: &Ram<S>) -> Result<PartModel, Unreadable> {
    let usage = p.usage(ram).map_err(text)?;
    // The control block's head word and each free header's link (partition.rs, "RAM
    // layout"); `usage` has validated the list, the bound guards against a race with
    // nothing but keeps the loop finite whatever the words say.
    let head_at = p.control_block() + partition::PCB_SIZE - 4;
    let mut at = ram.read_u32(head_at).map_err(text)?;
    let mut free_list = Vec::new();
    let mut cut = false;
    let mut seen = 0;
    while at != 0 && seen < usage.count {
        if free_list.len() == LIST_LIMIT {
            cut = true;
            break;
        }
        free_list.push(at);
        at = ram.read_u32(at).map_err(text)?;
        seen += 1;
    }
    Ok(PartModel {
        control_block: p.control_block(),
        block_size: usage.block_size,
        stride: p.stride(),
        count: usage.count,
        in_use: usage.in_use,
        free: usage.free,
        asked: usage.asked,
        given: usage.given,
        free_list,
        cut,
    })
}

// ---------------------------------------------------------------------------------------
// Policy lab
// ---------------------------------------------------------------------------------------

/// The free-list policy lab: its policy, its free list in list order and how much the
/// searches cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabModel {
    pub fit: &'static str,
    pub order: &'static str,
    pub coalesce: bool,
    pub header: u32,
    pub align: u32,
    /// The tiled area.
    pub area: (Addr, u32),
    /// `(address, length)` in list order.
    pub free_list: Vec<(Addr, u32)>,
    pub cut: bool,
    /// Where next fit starts its next search.
    pub rover: Option<Addr>,
    pub live_blocks: u32,
    pub last_search: u32,
    pub total_searched: u64,
    pub searches: u32,
    pub largest_free: u32,
}

impl LabModel {
    /// Elements visited per search, in tenths (0 before any search).
    pub fn mean_searched_tenths(&self) -> u64 {
        (self.total_searched * 10)
            .checked_div(self.searches as u64)
            .unwrap_or(0)
    }
}

pub fn lab(l: &PolicyLab) -> LabModel {
    let config = l.config();
    let spans = l.free_spans();
    LabModel {
        fit: config.fit.as_str(),
        order: config.order.as_str(),
        coalesce: config.coalesce,
        header: config.header,
        align: config.align,
        area: l.area(),
        free_list: spans
            .iter()
            .take(LIST_LIMIT)
            .map(|s| (s.addr, s.len))
            .collect(),
        cut: spans.len() > LIST_LIMIT,
        rover: l.rover(),
        live_blocks: l.live_blocks().len() as u32,
        last_search: l.last_search(),
        total_searched: l.total_searched(),
        searches: l.searches(),
        largest_free: l.largest_free(),
    }
}

// ---------------------------------------------------------------------------------------
// LiteOS dynamic memory (best fit) and TLSF
// ---------------------------------------------------------------------------------------

/// A `(node, size)` on a free list.
pub type FreeNode = (Addr, u32);

/// LiteOS best fit: the size-class lists, each sorted small to large, and the use per task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynModel {
    pub base: Addr,
    pub size: u32,
    /// The areas the pool spans (the first, then those it grew by).
    pub areas: Vec<(Addr, u32)>,
    /// The non-empty lists.
    pub lists: Vec<DynList>,
    /// Lists in the control block.
    pub list_count: u32,
    /// `(task, bytes)`: whole node sizes per owning task.
    pub usage: Vec<(String, u32)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynList {
    pub index: u32,
    /// The node sizes the list holds: `min..=max`, `max` `None` on the last list
    /// (everything larger).
    pub min: u32,
    pub max: Option<u32>,
    pub nodes: Vec<FreeNode>,
    pub cut: bool,
}

/// Words of a LiteOS node header and list head (dynmem.rs, "RAM layout").
const DYN_NEXT: u32 = 4;
const DYN_SIZE: u32 = 12;
const DYN_SIZE_MASK: u32 = 0x3fff_ffff;

pub fn dynmem<S: Storage>(d: &DynMem, ram: &Ram<S>) -> Result<DynModel, Unreadable> {
    let mut areas = [(0, 0); dynmem::MAX_AREAS];
    let n = d.areas(ram, &mut areas).map_err(text)?;
    let mut owners = [(Owner::NONE, 0); 64];
    let m = d.usage_by_owner(ram, &mut owners).map_err(text)?;
    let mut lists = Vec::new();
    let bytes: u64 = areas[..n].iter().map(|&(_, len)| len as u64).sum();
    let bound = bytes / dynmem::MIN_NODE as u64 + 1;
    for i in 0..d.lists() {
        let head = d.head(i);
        let mut node = ram.read_u32(head + DYN_NEXT).map_err(text)?;
        let mut nodes = Vec::new();
        let mut cut = false;
        let mut steps = 0u64;
        while node != head {
            if steps > bound {
                return Err(format!("free list {i} does not come back to its head"));
            }
            if nodes.len() == LIST_LIMIT {
                cut = true;
                break;
            }
            let size = ram.read_u32(node + DYN_SIZE).map_err(text)? & DYN_SIZE_MASK;
            nodes.push((node, size));
            node = ram.read_u32(node + DYN_NEXT).map_err(text)?;
            steps += 1;
        }
        if !nodes.is_empty() {
            let min = 1u32 << (i + 4).min(31);
            let max = (i + 1 < d.lists()).then(|| (1u32 << (i + 5).min(31)) - 1);
            lists.push(DynList {
                index: i,
                min,
                max,
                nodes,
                cut,
            });
        }
    }
    Ok(DynModel {
        base: d.base(),
        size: d.size(),
        areas: areas[..n].to_vec(),
        lists,
        list_count: d.lists(),
        usage: owners[..m]
            .iter()
            .map(|&(o, bytes)| (owner_text(o), bytes))
            .collect(),
    })
}

/// TLSF: the first-level bitmap, one second-level bitmap per row, and the lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsfModel {
    pub fl_count: u32,
    pub sl_count: u32,
    pub fl_bitmap: u32,
    /// One row per first level, lowest first.
    pub rows: Vec<TlsfRow>,
    pub control_block_len: u32,
    pub min_block: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsfRow {
    pub fl: u32,
    pub sl_bitmap: u32,
    /// One cell per second level.
    pub cells: Vec<TlsfCell>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsfCell {
    pub sl: u32,
    /// The smallest block size of the class.
    pub min: u64,
    /// The bitmap bit (set iff the list is non-empty when the metadata is consistent).
    pub bit: bool,
    /// The list from its head: `(block, size)`.
    pub blocks: Vec<FreeNode>,
    pub cut: bool,
}

/// Words of a TLSF free block (tlsf.rs, "RAM layout").
const TLSF_SIZE: u32 = 4;
const TLSF_NEXT: u32 = 8;

pub fn tlsf<S: Storage>(t: &Tlsf, ram: &Ram<S>) -> Result<TlsfModel, Unreadable> {
    let fl_bitmap = t.fl_bitmap(ram).map_err(text)?;
    let bound = t.size() / t.min_block_size() + 1;
    let mut rows = Vec::new();
    for fl in 0..t.fl_count() {
        let sl_bitmap = t.sl_bitmap(ram, fl).map_err(text)?;
        let mut cells = Vec::new();
        for sl in 0..t.sl_count() {
            let mut at = t.free_list_head(ram, fl, sl).map_err(text)?;
            let mut blocks = Vec::new();
            let mut cut = false;
            let mut steps = 0;
            while at != 0 {
                if steps > bound {
                    return Err(format!("free list ({fl}, {sl}) does not end"));
                }
                if blocks.len() == LIST_LIMIT {
                    cut = true;
                    break;
                }
                let size =
                    ram.read_u32(at + TLSF_SIZE).map_err(text)? & !(tlsf::FREE | tlsf::PREV_FREE);
                blocks.push((at, size));
                at = ram.read_u32(at + TLSF_NEXT).map_err(text)?;
                steps += 1;
            }
            cells.push(TlsfCell {
                sl,
                min: t.config().class_min_size(fl, sl),
                bit: sl_bitmap & (1 << sl) != 0,
                blocks,
                cut,
            });
        }
        rows.push(TlsfRow {
            fl,
            sl_bitmap,
            cells,
        });
    }
    Ok(TlsfModel {
        fl_count: t.fl_count(),
        sl_count: t.sl_count(),
        fl_bitmap,
        rows,
        control_block_len: t.control_block_len(),
        min_block: t.min_block_size(),
    })
}

// ---------------------------------------------------------------------------------------
// ADM
// ---------------------------------------------------------------------------------------

/// An ADM pool: its subpools (segregated classes) and the general area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmModel {
    pub base: Addr,
    pub size: u32,
    pub logging: bool,
    /// Header and both guard gaps: what every block costs besides its payload.
    pub block_overhead: u32,
    /// `kal_adm_delete` cleared the pool (ASM's full-pool mode deletes its ADM).
    pub deleted: bool,
    pub subpools: Vec<AdmClass>,
    pub general: AdmGeneral,
    pub max_alloc: u32,
    pub total_left: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmClass {
    /// The class's payload capacity.
    pub size: u32,
    pub live: u32,
    /// Bytes asked for by the live blocks.
    pub asked: u32,
    /// Free blocks cached on the class list.
    pub cached: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmGeneral {
    pub live: u32,
    pub asked: u32,
    pub free_blocks: u32,
    pub free_bytes: u32,
    pub largest_free: u32,
}

/// Words of ADM's control block and block headers (adm.rs, the `Adm` layout).
const ADM_SIZES: u32 = 32;
const ADM_H_POOL: u32 = 8;
const ADM_H_MAGIC: u32 = 12;
const ADM_H_REQUESTED: u32 = 16;

pub fn adm<S: Storage>(a: &Adm, ram: &Ram<S>) -> Result<AdmModel, Unreadable> {
    let deleted = ram.read_u32(a.base()).map_err(text)? != adm::POOL_MAGIC;
    let mut subpools = Vec::new();
    // A deleted pool's control block is the owner's memory now: nothing to read there.
    for k in 0..if deleted { 0 } else { a.subpools() } {
        let size = ram.read_u32(a.base() + ADM_SIZES + 4 * k).map_err(text)?;
        subpools.push(AdmClass {
            size,
            ..AdmClass::default()
        });
    }
    let mut general = AdmGeneral::default();
    let (max_alloc, total_left) = if deleted {
        (0, 0)
    } else {
        let (start, end) = a.area();
        let mut at = start;
        let min = a.block_overhead() + 4;
        let mut steps = 0u32;
        while at < end {
            steps += 1;
            if steps > (end - start) / min + 1 {
                return Err("the ADM blocks do not tile the area".into());
            }
            let size = ram.read_u32(at).map_err(text)?;
            if size < min || size % 4 != 0 || size > end - at {
                return Err(format!(
                    "the ADM block at {at:#010x} has a bad size ({size})"
                ));
            }
            let pool = ram.read_u32(at + ADM_H_POOL).map_err(text)?;
            let magic = ram.read_u32(at + ADM_H_MAGIC).map_err(text)?;
            let live = magic == adm::LIVE_MAGIC;
            let asked = if live {
                ram.read_u32(at + ADM_H_REQUESTED).map_err(text)?
            } else {
                0
            };
            match subpools.get_mut(pool as usize) {
                Some(class) if pool != adm::GENERAL => {
                    if live {
                        class.live += 1;
                        class.asked = class.asked.saturating_add(asked);
                    } else {
                        class.cached += 1;
                    }
                }
                _ if live => {
                    general.live += 1;
                    general.asked = general.asked.saturating_add(asked);
                }
                _ => {
                    general.free_blocks += 1;
                    general.free_bytes = general.free_bytes.saturating_add(size);
                    general.largest_free = general.largest_free.max(size);
                }
            }
            at += size;
        }
        (
            a.max_alloc_size(ram).map_err(text)?,
            a.total_left_size(ram).map_err(text)?,
        )
    };
    Ok(AdmModel {
        base: a.base(),
        size: a.size(),
        logging: a.logging(),
        block_overhead: a.block_overhead(),
        deleted,
        subpools,
        general,
        max_alloc,
        total_left,
    })
}

// ---------------------------------------------------------------------------------------
// ASM and its out-of-memory dialog
// ---------------------------------------------------------------------------------------

/// ASM: the apps, their use, and the out-of-memory dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmModel {
    pub pool: (Addr, u32),
    /// One app holds the whole pool.
    pub full_pool: bool,
    pub alloc_count: u32,
    pub max_alloc: u32,
    /// Every registered app, by id, with its use.
    pub apps: Vec<AsmApp>,
    pub dialog: Dialog,
    /// The app pool's ADM.
    pub adm: Option<AdmModel>,
    /// The screen pool, when ASM holds one.
    pub screen: Option<ScreenModel>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmApp {
    pub id: u16,
    pub name: String,
    /// Chunks plus the per-chunk overhead (`applib_mem_ap_get_current_usage`).
    pub used: u32,
    pub stopping: bool,
}

/// The phone's screen in the out-of-memory protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dialog {
    /// No dialog.
    Idle,
    /// "Not enough memory for `app`": the background apps, each with Stop.
    Prompt {
        request: AsmRequest,
        background: Vec<AsmApp>,
    },
    /// "Stop `victim`?"
    Confirm { request: AsmRequest, victim: AsmApp },
    /// The progressing screen while `victim` stops asynchronously.
    Stopping {
        request: AsmRequest,
        victim: AsmApp,
        /// Ticks since the stop began.
        elapsed: u16,
        /// Chunks the victim still holds.
        chunks_left: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmRequest {
    pub app: u16,
    pub name: String,
    pub size: u32,
    pub full_pool: bool,
}

pub fn asm<S: Storage>(a: &AppMem, ram: &Ram<S>) -> Result<AsmModel, Unreadable> {
    let blank = AppUsage {
        app: 0,
        name: memplay_engine::name::Name::lit("_"),
        icon: 0,
        size: 0,
        stopping: false,
    };
    let mut rows = [blank; MAX_APPS as usize];
    let n = a.current_usage(ram, &mut rows).map_err(text)?;
    let usage = &rows[..n];
    let mut apps = Vec::new();
    for id in 0..MAX_APPS {
        if let Some(info) = a.app_info(ram, id).map_err(text)? {
            apps.push(AsmApp {
                id,
                name: info.name.as_str().to_string(),
                used: usage.iter().find(|u| u.app == id).map_or(0, |u| u.size),
                stopping: info.stopping,
            });
        }
    }
    let app = |id: u16| {
        apps.iter().find(|a| a.id == id).cloned().unwrap_or(AsmApp {
            id,
            name: id.to_string(),
            used: 0,
            stopping: false,
        })
    };
    let request = |r: memplay_engine::app_mem::Request| AsmRequest {
        app: r.app,
        name: app(r.app).name,
        size: r.size,
        full_pool: r.full_pool,
    };
    let dialog = match a.oom_state() {
        OomState::Idle => Dialog::Idle,
        OomState::Prompt { request: r } => Dialog::Prompt {
            request: request(r),
            // The prompt lists the apps with memory, in the order usage lists them,
            // except the one asking and one already stopping.
            background: usage
                .iter()
                .filter(|u| u.app != r.app && !u.stopping)
                .map(|u| app(u.app))
                .collect(),
        },
        OomState::Confirm { request: r, victim } => Dialog::Confirm {
            request: request(r),
            victim: app(victim),
        },
        OomState::Stopping {
            request: r,
            victim,
            elapsed,
        } => {
            let mut chunks = [0; 256];
            let left = a.blocks_of(ram, victim, &mut chunks).map_err(text)?;
            Dialog::Stopping {
                request: request(r),
                victim: app(victim),
                elapsed,
                chunks_left: left as u32,
            }
        }
    };
    let screen = match a.screen() {
        Some(s) => Some(screen(s, ram)?),
        None => None,
    };
    let full_pool = a.is_full_pool(ram).map_err(text)?;
    Ok(AsmModel {
        pool: a.pool_range(),
        full_pool,
        alloc_count: a.alloc_count(ram).map_err(text)?,
        max_alloc: a.max_alloc_size(ram).map_err(text)?,
        apps,
        dialog,
        adm: if full_pool {
            None
        } else {
            Some(adm(a.pool(), ram)?)
        },
        screen,
    })
}

/// Screen memory: the GUI's layer buffers, over an ADM of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScreenModel {
    /// Live layer buffers.
    pub layers: u32,
    pub adm: AdmModel,
}

pub fn screen<S: Storage>(s: &ScreenMem, ram: &Ram<S>) -> Result<ScreenModel, Unreadable> {
    Ok(ScreenModel {
        layers: s.alloc_count(ram).map_err(text)?,
        adm: adm(s.pool(), ram)?,
    })
}

// ---------------------------------------------------------------------------------------
// AWTK decorators
// ---------------------------------------------------------------------------------------

/// An AWTK decorator stack, outermost first, and the debug layer's leak list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwtkModel {
    pub layers: Vec<AwtkLayer>,
    /// `None` when the stack has no debug layer.
    pub leaks: Option<Vec<LeakRow>>,
    pub leaks_cut: bool,
    /// The decorator objects' statics.
    pub statics: (Addr, u32),
    /// The base allocator under the decorators: its name and figures.
    pub base: String,
    pub base_stats: Option<Stats>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwtkLayer {
    pub kind: &'static str,
    pub name: String,
    pub object: Addr,
    pub figures: LayerFigures,
}

/// What each decorator adds, as named figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerFigures {
    Lock {
        locks: u32,
        unlocks: u32,
        held: bool,
        reentries: u32,
    },
    Pool {
        /// `(block size, blocks, used, hits)` per pool.
        pools: Vec<(u32, u32, u32, u32)>,
        hits: u32,
        misses_full: u32,
        misses_large: u32,
        hit_rate_permille: u32,
    },
    Debug {
        capacity: u32,
        blocks: u32,
        bytes: u32,
        dropped: u32,
    },
    Oom {
        calls: u32,
        retries: u32,
        rescued: u32,
        given_up: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeakRow {
    pub addr: Addr,
    pub size: u32,
    pub func: String,
    pub line: u32,
}

pub fn awtk<B: MemAllocator, S: Storage>(
    stack: &DecoratorStack<B>,
    ram: &Ram<S>,
) -> Result<AwtkModel, Unreadable> {
    let mut layers = Vec::new();
    for i in 0..stack.layer_count() {
        let Some((kind, name, object)) = stack.layer(i) else {
            break;
        };
        let figures = match stack.figures(ram, i).map_err(text)? {
            Some(Figures::Lock(f)) => LayerFigures::Lock {
                locks: f.lock_count,
                unlocks: f.unlock_count,
                held: f.held,
                reentries: f.reentries,
            },
            Some(Figures::Pool(f)) => LayerFigures::Pool {
                pools: f
                    .pools
                    .iter()
                    .map(|p| (p.block_size, p.block_nr, p.used, p.hits))
                    .collect(),
                hits: f.hits,
                misses_full: f.misses_full,
                misses_large: f.misses_large,
                hit_rate_permille: f.hit_rate_permille,
            },
            Some(Figures::Debug(f)) => LayerFigures::Debug {
                capacity: f.capacity,
                blocks: f.used_blocks,
                bytes: f.used_size,
                dropped: f.dropped,
            },
            Some(Figures::Oom(f)) => LayerFigures::Oom {
                calls: f.calls,
                retries: f.retries,
                rescued: f.rescued,
                given_up: f.given_up,
            },
            None => break,
        };
        layers.push(AwtkLayer {
            kind: kind.as_str(),
            name: name.as_str().to_string(),
            object,
            figures,
        });
    }
    let mut leaks = Vec::new();
    let mut cut = false;
    let has_debug = layers
        .iter()
        .any(|l| matches!(l.figures, LayerFigures::Debug { .. }));
    if has_debug {
        stack
            .leaks(ram, &mut |leak| {
                if leaks.len() == LIST_LIMIT {
                    cut = true;
                } else {
                    leaks.push(LeakRow {
                        addr: leak.addr,
                        size: leak.size,
                        func: leak.site.func.as_str().to_string(),
                        line: leak.site.line,
                    });
                }
            })
            .map_err(text)?;
    }
    Ok(AwtkModel {
        layers,
        leaks: has_debug.then_some(leaks),
        leaks_cut: cut,
        statics: stack.statics(),
        base: stack.base().name().as_str().to_string(),
        base_stats: stack.base().stats(ram).ok(),
    })
}

// ---------------------------------------------------------------------------------------
// Physical pages and the buddy
// ---------------------------------------------------------------------------------------

/// The buddy: free blocks per order, the LRU lists and what the page array costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagesModel {
    pub page_size: u32,
    pub managed_pages: u32,
    pub free_pages: u64,
    /// Per order 0..=9: the free blocks' addresses (at most [`LIST_LIMIT`] each) and
    /// the count from the free-list head in RAM.
    pub orders: Vec<BuddyOrder>,
    /// `(inactive, active)` LRU list lengths.
    pub lru: (u32, u32),
    /// The page array and control block.
    pub entries: u32,
    pub entry_size: u32,
    pub array_bytes: u32,
    pub boot_bytes: u32,
    pub cost_permille: u32,
    /// Allocated blocks by owner: `(owner, pages)`.
    pub used_by_owner: Vec<(String, u32)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuddyOrder {
    pub order: u32,
    pub count: u32,
    pub blocks: Vec<Addr>,
}

pub fn pages<S: Storage>(p: &PhysMem, ram: &Ram<S>) -> Result<PagesModel, Unreadable> {
    let counts = p.free_counts(ram).map_err(text)?;
    let mut orders: Vec<BuddyOrder> = (0..ORDERS)
        .map(|order| BuddyOrder {
            order,
            count: counts[order as usize],
            blocks: Vec::new(),
        })
        .collect();
    let mut owners: BTreeMap<Owner, u32> = BTreeMap::new();
    p.for_each_block(ram, &mut |b| {
        if b.free {
            if let Some(o) = orders.get_mut(b.order as usize) {
                if o.blocks.len() < LIST_LIMIT {
                    o.blocks.push(b.addr);
                }
            }
        } else {
            *owners.entry(b.owner).or_default() += 1 << b.order.min(31);
        }
    })
    .map_err(text)?;
    let f = p.figures();
    Ok(PagesModel {
        page_size: p.page_size(),
        managed_pages: p.managed_pages(),
        free_pages: p.free_pages_count(ram).map_err(text)?,
        orders,
        lru: p.lru_sizes(ram).map_err(text)?,
        entries: f.entries,
        entry_size: f.entry_size,
        array_bytes: f.array_bytes,
        boot_bytes: f.boot_bytes,
        cost_permille: f.cost_permille,
        used_by_owner: owners
            .into_iter()
            .map(|(o, n)| (owner_text(o), n))
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------
// Virtual memory and the page-table walk
// ---------------------------------------------------------------------------------------

/// Virtual memory: the spaces with their regions, and a copy of the page tables so that a
/// walk for any address can be shown without the RAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmModel {
    pub spaces: Vec<VmSpace>,
    /// The current process's space.
    pub current: Option<u8>,
    /// The words of every L1 table and every L2 table an L1 entry points at.
    pub tables: TableWords,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmSpace {
    pub id: u8,
    pub kind: &'static str,
    pub base: Addr,
    pub size: u32,
    pub map_base: Addr,
    pub map_size: u32,
    /// User spaces: the heap's base and its break.
    pub heap: Option<(Addr, Addr)>,
    /// The L1 table and its entries.
    pub ttb: Addr,
    pub l1_entries: u32,
    pub regions: Vec<VmRegion>,
}

impl VmSpace {
    fn holds(&self, vaddr: Addr) -> bool {
        vaddr.wrapping_sub(self.base) < self.size
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmRegion {
    pub start: Addr,
    pub size: u32,
    /// `rwxu` and `heap`, as the trace writes them.
    pub perm: String,
    pub name: String,
}

/// Where 32-bit words can be read from: the RAM, or a copy of some of it.
pub trait Words {
    fn word(&self, addr: Addr) -> Option<u32>;
}

impl<S: Storage> Words for Ram<S> {
    fn word(&self, addr: Addr) -> Option<u32> {
        self.read_u32(addr).ok()
    }
}

/// Copied ranges of words: `(base, words)`, each read from RAM in one piece.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableWords {
    ranges: Vec<(Addr, Vec<u32>)>,
}

impl TableWords {
    fn copy<S: Storage>(&mut self, ram: &Ram<S>, base: Addr, words: u32) {
        if self.word(base).is_some() {
            return;
        }
        let mut copy = Vec::with_capacity(words as usize);
        for i in 0..words {
            match ram.read_u32(base.wrapping_add(4 * i)) {
                Ok(w) => copy.push(w),
                Err(_) => break,
            }
        }
        if !copy.is_empty() {
            self.ranges.push((base, copy));
        }
    }

    /// Words copied in all.
    pub fn len(&self) -> usize {
        self.ranges.iter().map(|(_, w)| w.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Words for TableWords {
    fn word(&self, addr: Addr) -> Option<u32> {
        self.ranges.iter().find_map(|(base, words)| {
            let off = addr.checked_sub(*base)?;
            (off % 4 == 0)
                .then(|| words.get((off / 4) as usize).copied())
                .flatten()
        })
    }
}

/// A page-table walk, step by step, as the learner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkModel {
    pub vaddr: Addr,
    /// The space `LOS_SpaceGet` gives: `(id, kind)`.
    pub space: Option<(u8, &'static str)>,
    pub l1: Option<WalkStep>,
    pub l2: Option<WalkStep>,
    /// What the L1 entry is: `fault`, `coarse`, `section` or `reserved`.
    pub l1_type: Option<&'static str>,
    pub paddr: Option<Addr>,
    /// Why the walk stopped without a physical address.
    pub stop: Option<WalkStop>,
}

/// One table lookup: the entry's index, its address and the word read there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkStep {
    pub index: u32,
    pub at: Addr,
    pub entry: u32,
}

/// Why a walk found no physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkStop {
    /// No space holds the address (or it is a user address and no process runs).
    NoSpace,
    /// The space's L1 table has no entry for it.
    OutsideTable,
    /// The L1 entry is a fault: no L2 table.
    NoTable,
    /// The L2 entry maps nothing.
    NotMapped,
    /// The L1 entry has the reserved type `0b11`.
    Reserved,
    /// A table word could not be read.
    Unreadable(Addr),
}

impl WalkStop {
    pub fn key(self) -> &'static str {
        match self {
            WalkStop::NoSpace => "walk_no_space",
            WalkStop::OutsideTable => "walk_outside_table",
            WalkStop::NoTable => "walk_no_table",
            WalkStop::NotMapped => "walk_not_mapped",
            WalkStop::Reserved => "walk_reserved",
            WalkStop::Unreadable(_) => "walk_unreadable",
        }
    }
}

impl VmModel {
    /// The walk for `vaddr` over the copied tables.
    pub fn walk(&self, vaddr: Addr) -> WalkModel {
        walk_tables(&self.tables, &self.spaces, self.current, vaddr)
    }
}

/// `LOS_SpaceGet`: a kernel or vmalloc address gives that space, a user address the
/// current process's space.
fn space_for(spaces: &[VmSpace], current: Option<u8>, vaddr: Addr) -> Option<&VmSpace> {
    spaces
        .iter()
        .find(|s| s.kind != SpaceKind::User.as_str() && s.holds(vaddr))
        .or_else(|| {
            let id = current?;
            spaces.iter().find(|s| s.id == id && s.holds(vaddr))
        })
}

/// The walk the MMU does for `vaddr` (`LOS_ArchMmuQuery`), read-only over `words`.
pub fn walk_tables(
    words: &impl Words,
    spaces: &[VmSpace],
    current: Option<u8>,
    vaddr: Addr,
) -> WalkModel {
    let mut walk = WalkModel {
        vaddr,
        space: None,
        l1: None,
        l2: None,
        l1_type: None,
        paddr: None,
        stop: None,
    };
    let Some(sp) = space_for(spaces, current, vaddr) else {
        walk.stop = Some(WalkStop::NoSpace);
        return walk;
    };
    walk.space = Some((sp.id, sp.kind));
    let index = (vaddr - sp.base) >> vm::SECTION_SHIFT;
    if index >= sp.l1_entries {
        walk.stop = Some(WalkStop::OutsideTable);
        return walk;
    }
    let at = sp.ttb.wrapping_add(4 * index);
    let Some(entry) = words.word(at) else {
        walk.stop = Some(WalkStop::Unreadable(at));
        return walk;
    };
    walk.l1 = Some(WalkStep { index, at, entry });
    match entry & l1::TYPE_MASK {
        l1::FAULT => {
            walk.l1_type = Some("fault");
            walk.stop = Some(WalkStop::NoTable);
        }
        l1::SECTION => {
            walk.l1_type = Some("section");
            walk.paddr = Some((entry & l1::SECTION_BASE) | (vaddr & !l1::SECTION_BASE));
        }
        l1::COARSE => {
            walk.l1_type = Some("coarse");
            let table = entry & l1::COARSE_BASE;
            let index = (vaddr >> vm::VM_PAGE_SHIFT) & (vm::L2_ENTRIES - 1);
            let at = table.wrapping_add(4 * index);
            let Some(pte) = words.word(at) else {
                walk.stop = Some(WalkStop::Unreadable(at));
                return walk;
            };
            walk.l2 = Some(WalkStep {
                index,
                at,
                entry: pte,
            });
            if pte & vm::pte::SMALL != 0 {
                walk.paddr = Some((pte & vm::pte::FRAME) | (vaddr & (vm::VM_PAGE_SIZE - 1)));
            } else {
                walk.stop = Some(WalkStop::NotMapped);
            }
        }
        _ => {
            walk.l1_type = Some("reserved");
            walk.stop = Some(WalkStop::Reserved);
        }
    }
    walk
}

/// The spaces of `v`, read from RAM.
fn vm_spaces<S: Storage>(v: &Vm, ram: &Ram<S>) -> Result<Vec<VmSpace>, Unreadable> {
    let mut spaces = Vec::new();
    for id in 0..MAX_SPACES as u8 {
        // A free slot has no valid kind; its read fails with NoSuchSpace.
        let Ok(info) = v.space(ram, SpaceId(id)) else {
            continue;
        };
        let mut regions = Vec::new();
        v.regions(ram, SpaceId(id), &mut |r| {
            regions.push(VmRegion {
                start: r.start,
                size: r.size,
                perm: vm::Perm(r.flags).to_string(),
                name: r.name.as_str().to_string(),
            })
        })
        .map_err(text)?;
        spaces.push(VmSpace {
            id,
            kind: info.kind.as_str(),
            base: info.base,
            size: info.size,
            map_base: info.map_base,
            map_size: info.map_size,
            heap: (info.kind == SpaceKind::User).then_some((info.heap_base, info.heap_now)),
            ttb: info.ttb,
            l1_entries: info.l1_entries,
            regions,
        });
    }
    Ok(spaces)
}

pub fn vm_model<S: Storage>(v: &Vm, ram: &Ram<S>) -> Result<VmModel, Unreadable> {
    let spaces = vm_spaces(v, ram)?;
    let current = v.current(ram).map_err(text)?.map(|id| id.0);
    let mut tables = TableWords::default();
    for sp in &spaces {
        tables.copy(ram, sp.ttb, sp.l1_entries);
        for i in 0..sp.l1_entries {
            let Ok(entry) = ram.read_u32(sp.ttb.wrapping_add(4 * i)) else {
                break;
            };
            if entry & l1::TYPE_MASK == l1::COARSE {
                tables.copy(ram, entry & l1::COARSE_BASE, vm::L2_ENTRIES);
            }
        }
    }
    Ok(VmModel {
        spaces,
        current,
        tables,
    })
}

/// The walk for `vaddr`, read-only from RAM: what [`Vm::translate`] does, without the
/// trace.
pub fn translate<S: Storage>(v: &Vm, ram: &Ram<S>, vaddr: Addr) -> Result<WalkModel, Unreadable> {
    let spaces = vm_spaces(v, ram)?;
    let current = v.current(ram).map_err(text)?.map(|id| id.0);
    Ok(walk_tables(ram, &spaces, current, vaddr))
}

/// Parses an address as a learner types it: `0x...` hex, or decimal, `_` allowed.
pub fn parse_addr(input: &str) -> Option<Addr> {
    let t: String = input.trim().chars().filter(|&c| c != '_').collect();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else {
        t.parse().ok()
    }
}

// ---------------------------------------------------------------------------------------
// Tasks and timers
// ---------------------------------------------------------------------------------------

/// The static task table, with each task's queues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TasksModel {
    pub tasks: Vec<TaskRow>,
    /// The MMI task's name.
    pub mmi: Option<String>,
    /// The kernel's clock.
    pub now: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRow {
    pub id: u8,
    pub name: String,
    pub priority: u8,
    pub state: &'static str,
    pub stack: Addr,
    pub stack_size: u32,
    /// The deepest stack use so far and messages handled.
    pub peak: u32,
    pub handled: u32,
    pub ext: QueueRow,
    pub int: QueueRow,
    /// TCB, stack and queues: what boot carved for it.
    pub footprint: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueRow {
    pub capacity: u16,
    /// Oldest first.
    pub messages: Vec<MessageRow>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRow {
    pub msg: String,
    pub src: String,
    pub payload: [u32; 2],
}

fn msg_name(msg: u16) -> String {
    if msg == MSG_ID_TIMER_EXPIRY {
        "MSG_ID_TIMER_EXPIRY".into()
    } else {
        msg.to_string()
    }
}

fn message_row(k: &Kal, m: Message) -> MessageRow {
    MessageRow {
        msg: msg_name(m.msg),
        src: match m.src {
            Src::Task(id) => k
                .task(id)
                .map_or_else(|| id.0.to_string(), |t| t.config.name.as_str().to_string()),
            Src::External => "ext".into(),
            Src::Timer => "timer".into(),
        },
        payload: m.payload,
    }
}

fn queue<S: Storage>(
    k: &Kal,
    ram: &Ram<S>,
    id: memplay_engine::task::TaskId,
    kind: QueueKind,
    capacity: u16,
) -> Result<QueueRow, Unreadable> {
    let mut messages = Vec::new();
    k.for_each_message(ram, id, kind, &mut |m| {
        if messages.len() < LIST_LIMIT {
            messages.push(message_row(k, m))
        }
    })
    .map_err(text)?;
    Ok(QueueRow { capacity, messages })
}

pub fn tasks<S: Storage>(k: &Kal, ram: &Ram<S>) -> Result<TasksModel, Unreadable> {
    let mut rows = Vec::new();
    for t in k.tasks() {
        let (peak, handled) = k.usage(ram, t.id).map_err(text)?;
        rows.push(TaskRow {
            id: t.id.0,
            name: t.config.name.as_str().to_string(),
            priority: t.config.priority,
            state: k.state(ram, t.id).map_err(text)?.as_str(),
            stack: t.stack,
            stack_size: t.stack_size,
            peak,
            handled,
            ext: queue(k, ram, t.id, QueueKind::External, t.config.ext_queue)?,
            int: queue(k, ram, t.id, QueueKind::Internal, t.config.int_queue)?,
            footprint: k.footprint(t.id).map_or(0, |f| f.total()),
        });
    }
    Ok(TasksModel {
        tasks: rows,
        mmi: k
            .mmi()
            .and_then(|id| k.task(id))
            .map(|t| t.config.name.as_str().to_string()),
        now: k.now(ram).map_err(text)?,
    })
}

/// The event scheduler, the MMI timers and the MMI queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimersModel {
    pub now: u32,
    pub hw: &'static str,
    /// The tick the hardware timer is armed for, when it runs.
    pub hw_expiry: Option<u32>,
    /// Ticks an aligned timer may be late.
    pub fuzz: u32,
    pub capacity: u32,
    /// Pending events, nearest first.
    pub events: Vec<EventRow>,
    /// Running MMI timers, by slot.
    pub timers: Vec<TimerRow>,
    /// The MMI task's external queue: where expiry messages wait.
    pub mmi_queue: QueueRow,
    pub mmi: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub id: u32,
    pub expiry: u32,
    pub callback: String,
    pub arg: u32,
    pub aligned: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerRow {
    pub slot: u32,
    pub timer: u16,
    pub event: u32,
    pub callback: u32,
    pub arg: u32,
    pub aligned: bool,
}

/// The timers of `k`; `None` when there is no MMI task (and so no timers).
pub fn timers<S: Storage>(k: &Kal, ram: &Ram<S>) -> Result<Option<TimersModel>, Unreadable> {
    let (Some(es), Some(mmi)) = (k.evshed(), k.mmi().and_then(|id| k.task(id))) else {
        return Ok(None);
    };
    let now = k.now(ram).map_err(text)?;
    let (hw, expiry) = es.hw(ram).map_err(text)?;
    let mut events = Vec::new();
    es.for_each_pending(ram, &mut |e| {
        events.push(EventRow {
            id: e.id.0,
            expiry: e.expiry,
            callback: if e.callback == L4_CALLBACK_TIMER {
                "L4CallBackTimer".into()
            } else {
                e.callback.to_string()
            },
            arg: e.arg,
            aligned: e.aligned,
        })
    })
    .map_err(text)?;
    let mut running = Vec::new();
    if let Some(t) = k.timers() {
        t.for_each_running(ram, &mut |s| {
            running.push(TimerRow {
                slot: s.slot,
                timer: s.timer,
                event: s.event.0,
                callback: s.callback,
                arg: s.arg,
                aligned: s.aligned,
            })
        })
        .map_err(text)?;
    }
    Ok(Some(TimersModel {
        now,
        hw: hw.as_str(),
        hw_expiry: (hw == HwState::Running).then_some(expiry),
        fuzz: es.fuzz(),
        capacity: es.capacity(),
        events,
        timers: running,
        mmi_queue: queue(k, ram, mmi.id, QueueKind::External, mmi.config.ext_queue)?,
        mmi: mmi.config.name.as_str().to_string(),
    }))
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
