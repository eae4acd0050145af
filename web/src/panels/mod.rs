//! One panel per configured subsystem, drawn from the view models of [`model`].
//!
//! The app calls [`view`] (English, no buttons), [`view_lang`], or [`view_with`], which
//! also wires the buttons and inputs to a callback: the out-of-memory dialog's Stop /
//! Yes / No / Back, the page-table walk's address, and clicks on addresses. The app turns a
//! [`PanelAction`] into a script line. Every label comes from [`label`], in English or
//! Chinese. Styling: web/panels.css (every class is prefixed `mp-`).

pub mod model;

mod adm;
mod asm;
mod awtk;
mod ctrl;
mod dynmem;
mod lab;
mod pages;
mod part;
mod sysmem;
mod tasks;
mod timers;
mod tlsf;
mod vm;

use memplay_engine::allocator::Stats;
use memplay_engine::machine::Machine;
use memplay_engine::ram::Addr;
use yew::prelude::*;

use model::{Body, Panel};

/// The interface's language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

/// What a learner did in a panel. The app turns it into a script line (or a selection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PanelAction {
    /// Walk the page tables for this virtual address (the panel shows the walk itself;
    /// the app may also run `vm.translate`).
    VmTranslate(Addr),
    /// An address in a panel was clicked: the app may select that block in the map.
    Select(Addr),
}

impl PanelAction {
    /// The script line that does what the learner did, if it is a step: the walk
    /// (`vm.translate`). A selection is not a step.
    pub fn script_line(&self) -> Option<String> {
        Some(match self {
            PanelAction::VmTranslate(addr) => format!("vm.translate {addr:#x}"),
            PanelAction::Select(_) => return None,
        })
    }
}

/// Renders every configured subsystem's panel, English, without buttons.
pub fn view(machine: &Machine<Vec<u8>, String>) -> Html {
    view_lang(machine, Lang::En)
}

/// [`view`] in `lang`.
pub fn view_lang(machine: &Machine<Vec<u8>, String>, lang: Lang) -> Html {
    render(&model::panels(machine), &Env { lang, on: None })
}

/// [`view`] in `lang`, with the buttons and the address input sending `on_action`.
pub fn view_with(
    machine: &Machine<Vec<u8>, String>,
    lang: Lang,
    on_action: Callback<PanelAction>,
) -> Html {
    render(
        &model::panels(machine),
        &Env {
            lang,
            on: Some(on_action),
        },
    )
}

/// Renders panels already modelled (the app may keep the models to compare them).
pub fn render(panels: &[Panel], env: &Env) -> Html {
    if panels.is_empty() {
        return Html::default();
    }
    html! {
        <div class="mp-panels">
            { for panels.iter().map(|p| panel(p, env)) }
        </div>
    }
}

/// What every panel view gets besides its model.
#[derive(Clone, Debug, PartialEq)]
pub struct Env {
    pub lang: Lang,
    pub on: Option<Callback<PanelAction>>,
}

impl Env {
    pub fn new(lang: Lang, on: Option<Callback<PanelAction>>) -> Env {
        Env { lang, on }
    }

    fn t(&self, key: &'static str) -> &'static str {
        label(key, self.lang)
    }

    /// A callback that sends `action`, if the panels have one.
    fn send<E: 'static>(&self, action: PanelAction) -> Option<Callback<E>> {
        self.on
            .clone()
            .map(|cb| Callback::from(move |_: E| cb.emit(action.clone())))
    }
}

fn panel(p: &Panel, env: &Env) -> Html {
    let (kind, body) = match &p.body {
        Ok(body) => (kind_key(body), body_view(body, env)),
        Err(why) => (
            "kind_unknown",
            html! {
                <p class="mp-error">{ env.t("unreadable") }{ ": " }{ why }</p>
            },
        ),
    };
    html! {
        <section class={classes!("mp-panel", format!("mp-{}", kind.trim_start_matches("kind_")))}>
            <h3>
                <span class="mp-kind">{ env.t(kind) }</span>
                { " " }
                <code>{ &p.name }</code>
            </h3>
            if let Some(stats) = &p.stats {
                { stats_line(stats, env) }
            }
            { body }
        </section>
    }
}

fn kind_key(body: &Body) -> &'static str {
    match body {
        Body::Sys(_) => "kind_sys",
        Body::Ctrl(_) => "kind_ctrl",
        Body::Part(_) => "kind_part",
        Body::Lab(_) => "kind_lab",
        Body::Dyn(_) => "kind_dyn",
        Body::Tlsf(_) => "kind_tlsf",
        Body::Adm(_) => "kind_adm",
        Body::Asm(_) => "kind_asm",
        Body::Screen(_) => "kind_screen",
        Body::Awtk(_) => "kind_awtk",
        Body::Pages(_) => "kind_pages",
        Body::Vm(_) => "kind_vm",
        Body::Tasks(_) => "kind_tasks",
        Body::Timers(_) => "kind_timers",
    }
}

fn body_view(body: &Body, env: &Env) -> Html {
    match body {
        Body::Sys(m) => sysmem::view(m, env),
        Body::Ctrl(m) => ctrl::view(m, env),
        Body::Part(m) => part::view(m, env),
        Body::Lab(m) => lab::view(m, env),
        Body::Dyn(m) => dynmem::view(m, env),
        Body::Tlsf(m) => tlsf::view(m, env),
        Body::Adm(m) => adm::view(m, env),
        Body::Asm(m) => asm::view(m, env),
        Body::Screen(m) => asm::screen(m, env),
        Body::Awtk(m) => awtk::view(m, env),
        Body::Pages(m) => pages::view(m, env),
        Body::Vm(m) => vm::view(m, env),
        Body::Tasks(m) => tasks::view(m, env),
        Body::Timers(m) => timers::view(m, env),
    }
}

/// The allocator trait's figures, one line.
fn stats_line(s: &Stats, env: &Env) -> Html {
    html! {
        <dl class="mp-stats">
            { figure(env.t("capacity"), bytes(s.capacity)) }
            { figure(env.t("used"), bytes(s.used)) }
            { figure(env.t("free"), bytes(s.free)) }
            { figure(env.t("overhead"), bytes(s.overhead)) }
            { figure(env.t("largest_free"), bytes(s.largest_free)) }
            { figure(env.t("blocks"), s.blocks.to_string()) }
            { figure(env.t("fragmentation"), permille(s.fragmentation_permille)) }
        </dl>
    }
}

// ---- small pieces every panel uses ----

/// `term: value` inside a `<dl class="mp-stats">`.
fn figure(term: &'static str, value: String) -> Html {
    html! {
        <div class="mp-figure"><dt>{ term }</dt><dd>{ value }</dd></div>
    }
}

/// A byte count: exact below 10 KiB, else in KiB or MiB with one decimal.
pub fn bytes(n: u32) -> String {
    bytes64(n as u64)
}

pub fn bytes64(n: u64) -> String {
    if n < 10 * 1024 {
        format!("{n} B")
    } else if n < 10 * 1024 * 1024 {
        format!("{} KiB", crate::num::tenths(n, 10))
    } else {
        format!("{} MiB", crate::num::tenths(n, 20))
    }
}

pub fn hex(a: Addr) -> String {
    format!("{a:#010x}")
}

fn permille(p: u32) -> String {
    format!("{}.{}%", p / 10, p % 10)
}

/// A percentage of `part` in `whole`, for a bar's width (0 when `whole` is 0).
fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 100.0 / whole as f64).clamp(0.0, 100.0)
    }
}

/// A horizontal bar: `segments` are `(percent, class)` laid side by side.
fn bar(segments: &[(f64, &'static str)], title: String) -> Html {
    html! {
        <div class="mp-bar" title={title}>
            { for segments.iter().map(|&(w, class)| html! {
                <span class={classes!("mp-seg", class)} style={format!("width:{}%", crate::num::fixed(w, 2))}></span>
            }) }
        </div>
    }
}

/// An address; clickable (sends [`PanelAction::Select`]) when the panels have a callback.
fn addr(a: Addr, env: &Env) -> Html {
    match env.send::<MouseEvent>(PanelAction::Select(a)) {
        Some(onclick) => html! {
            <code class="mp-addr mp-click" {onclick}>{ hex(a) }</code>
        },
        None => html! { <code class="mp-addr">{ hex(a) }</code> },
    }
}

/// "… and more" after a list cut at [`model::LIST_LIMIT`].
fn more(cut: bool, env: &Env) -> Html {
    if cut {
        html! { <span class="mp-more">{ env.t("more") }</span> }
    } else {
        Html::default()
    }
}

/// A free list as a chain: `head → a → b → end`, each link `(address, size)`.
fn chain(items: &[(Addr, Option<u32>)], cut: bool, env: &Env) -> Html {
    html! {
        <ol class="mp-chain">
            <li class="mp-end">{ env.t("head") }</li>
            { for items.iter().map(|&(a, size)| html! {
                <li>
                    { addr(a, env) }
                    if let Some(size) = size {
                        <span class="mp-size">{ bytes(size) }</span>
                    }
                </li>
            }) }
            if cut {
                <li>{ more(true, env) }</li>
            } else {
                <li class="mp-end">{ env.t("end") }</li>
            }
        </ol>
    }
}

/// A label in `lang`; a key the table lacks is returned as it is (a test checks that
/// every key the panels use is in the table).
pub fn label(key: &'static str, lang: Lang) -> &'static str {
    LABELS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or(key, |&(_, en, zh)| match lang {
            Lang::En => en,
            Lang::Zh => zh,
        })
}

/// `(key, English, Chinese)`.
pub const LABELS: &[(&str, &str, &str)] = &[
    // panel kinds
    ("kind_sys", "System memory", "系统内存"),
    ("kind_ctrl", "Control buffer", "控制缓冲区"),
    ("kind_part", "Partition pool", "分区内存池"),
    ("kind_lab", "Policy lab", "空闲链表策略实验"),
    (
        "kind_dyn",
        "LiteOS dynamic memory (best fit)",
        "LiteOS 动态内存（最佳适配）",
    ),
    ("kind_tlsf", "TLSF", "TLSF（两级分离适配）"),
    ("kind_adm", "ADM", "ADM 应用动态内存"),
    ("kind_asm", "ASM (app-shared memory)", "ASM 应用共享内存"),
    ("kind_screen", "Screen memory", "屏幕内存"),
    ("kind_awtk", "AWTK allocator stack", "AWTK 内存分配器栈"),
    ("kind_pages", "Physical pages (buddy)", "物理页（伙伴算法）"),
    ("kind_vm", "Virtual memory", "虚拟内存"),
    ("kind_tasks", "Task table", "任务表"),
    ("kind_timers", "Timers", "定时器"),
    ("kind_unknown", "Subsystem", "子系统"),
    // common figures
    ("unreadable", "metadata unreadable", "元数据无法读取"),
    ("capacity", "capacity", "容量"),
    ("used", "used", "已用"),
    ("free", "free", "空闲"),
    ("overhead", "overhead", "开销"),
    ("largest_free", "largest free", "最大空闲块"),
    ("blocks", "blocks", "块数"),
    ("fragmentation", "fragmentation", "碎片率"),
    ("more", "… and more", "……还有更多"),
    ("head", "head", "表头"),
    ("end", "end", "结束"),
    ("none", "none", "无"),
    ("address", "address", "地址"),
    ("size", "size", "大小"),
    ("owner", "owner", "所有者"),
    ("count", "count", "数量"),
    ("in_use", "in use", "使用中"),
    ("asked", "asked", "请求"),
    ("given", "given", "分配"),
    ("wasted", "wasted", "浪费"),
    ("free_list", "free list", "空闲链表"),
    ("yes", "yes", "是"),
    ("no", "no", "否"),
    ("on", "on", "开"),
    ("off", "off", "关"),
    // system memory
    ("sys_left", "sys_mem_left_size", "sys_mem_left_size（剩余）"),
    ("sys_area", "area", "区域"),
    ("region_internal", "internal", "内部"),
    ("region_external", "external", "外部"),
    ("sys_carved", "carved", "已切分"),
    ("sys_left_short", "left", "剩余"),
    ("sys_carves", "carves", "切分次数"),
    ("sys_records", "carve records", "切分记录"),
    ("sys_cb", "control block", "控制块"),
    (
        "sys_never_freed",
        "carves are never freed",
        "切分出的内存永不释放",
    ),
    // control buffer
    ("ctrl_class", "class", "尺寸等级"),
    (
        "ctrl_max",
        "largest class (nothing above it)",
        "最大等级（更大的请求不予分配）",
    ),
    ("ctrl_total", "all classes", "全部等级"),
    // partition
    ("part_block", "block size", "块大小"),
    ("part_stride", "header + block", "块头 + 块"),
    ("part_pcb", "control block", "控制块"),
    // policy lab
    ("lab_policy", "policy", "策略"),
    ("lab_fit", "fit", "适配"),
    ("lab_order", "list order", "链表顺序"),
    ("lab_coalesce", "coalescing", "合并"),
    ("lab_header", "header", "块头"),
    ("lab_align", "alignment", "对齐"),
    (
        "lab_last_search",
        "searched by the last request",
        "上次请求查找的元素",
    ),
    ("lab_total_searched", "searched in all", "累计查找的元素"),
    ("lab_searches", "searching requests", "查找次数"),
    ("lab_mean", "per request", "平均每次"),
    ("lab_rover", "next fit starts here", "下次适配从这里开始"),
    ("lab_live", "live blocks", "已分配块"),
    // dynamic memory
    (
        "dyn_lists",
        "size-class lists (each sorted small → large)",
        "按尺寸分级的空闲链表（各自从小到大排序）",
    ),
    ("dyn_list", "list", "链表"),
    ("dyn_and_larger", "and larger", "及以上"),
    (
        "dyn_per_task",
        "use per task (whole nodes)",
        "各任务用量（整个节点）",
    ),
    ("dyn_areas", "areas", "区域"),
    ("dyn_no_free", "no free node", "没有空闲节点"),
    // tlsf
    (
        "tlsf_grid",
        "FL/SL bitmaps: a lit cell has free blocks",
        "一级/二级位图：点亮的格子有空闲块",
    ),
    ("tlsf_fl", "FL", "一级"),
    ("tlsf_sl", "SL", "二级"),
    ("tlsf_cb", "control block", "控制块"),
    ("tlsf_min_block", "smallest block", "最小块"),
    ("tlsf_lists", "non-empty lists", "非空链表"),
    ("tlsf_class", "class from", "等级起点"),
    // adm
    ("adm_subpools", "subpools", "子内存池"),
    ("adm_subpool", "subpool", "子池"),
    (
        "adm_general",
        "general area (first fit)",
        "通用区（首次适配）",
    ),
    ("adm_live", "live", "使用中"),
    ("adm_cached", "cached free", "缓存的空闲块"),
    ("adm_free_blocks", "free blocks", "空闲块"),
    ("adm_max_alloc", "largest request now", "当前最大可分配"),
    ("adm_total_left", "left", "剩余"),
    ("adm_logging", "logging file:line", "记录文件:行号"),
    (
        "adm_overhead",
        "per-block header and guards",
        "每块的头与保护区",
    ),
    (
        "adm_deleted",
        "deleted (one app holds the whole pool)",
        "已删除（整个内存池归一个应用）",
    ),
    // asm
    ("asm_apps", "apps", "应用"),
    ("asm_app", "app", "应用"),
    ("asm_stopping", "stopping", "正在停止"),
    (
        "asm_full_pool",
        "one app holds the whole pool",
        "一个应用占用整个内存池",
    ),
    ("asm_chunks", "live chunks", "已分配块"),
    ("asm_max_alloc", "largest request now", "当前最大可分配"),
    ("asm_no_apps", "no app registered", "没有已注册的应用"),
    ("asm_oom_title", "Not enough memory", "内存不足"),
    ("asm_oom_needs", "needs", "需要"),
    (
        "asm_oom_none",
        "no background app uses memory",
        "没有使用内存的后台应用",
    ),
    (
        "asm_oom_listed",
        "The prompt lists the background apps:",
        "提示框列出了后台应用：",
    ),
    (
        "asm_oom_answer",
        "Answer it in the dialog under the stepper.",
        "请在单步控制下方的对话框中作答。",
    ),
    (
        "asm_confirm_q",
        "The phone asks: stop",
        "手机询问：是否停止",
    ),
    (
        "asm_progress",
        "Stopping… (the app releases its memory asynchronously)",
        "正在停止……（应用异步释放内存）",
    ),
    ("asm_ticks", "ticks so far", "已过节拍"),
    ("asm_chunks_left", "blocks still held", "仍占用的块"),
    ("asm_full_request", "the whole pool", "整个内存池"),
    ("asm_screen", "screen memory", "屏幕内存"),
    ("asm_layers", "layer buffers", "图层缓冲区"),
    ("asm_idle", "no dialog", "无对话框"),
    // awtk
    (
        "awtk_stack",
        "decorators, outermost first",
        "装饰器（由外到内）",
    ),
    ("awtk_base", "base allocator", "基础分配器"),
    ("awtk_locks", "locks", "加锁"),
    ("awtk_unlocks", "unlocks", "解锁"),
    ("awtk_held", "held", "持有中"),
    ("awtk_reentries", "refused re-entries", "被拒绝的重入"),
    ("awtk_hits", "pool hits", "内存池命中"),
    ("awtk_misses_full", "misses (pool full)", "未命中（池满）"),
    ("awtk_misses_large", "misses (too large)", "未命中（过大）"),
    ("awtk_hit_rate", "hit rate", "命中率"),
    ("awtk_log", "log entries", "日志条目"),
    ("awtk_dropped", "dropped", "丢弃"),
    ("awtk_calls", "out-of-memory calls", "内存不足调用"),
    ("awtk_retries", "retries", "重试"),
    ("awtk_rescued", "rescued", "挽救成功"),
    ("awtk_given_up", "given up", "放弃"),
    (
        "awtk_leaks",
        "leaks (blocks never freed)",
        "泄漏（未释放的块）",
    ),
    ("awtk_no_leaks", "no leak", "没有泄漏"),
    (
        "awtk_no_debug",
        "add a debug layer to see leaks",
        "加入 debug 装饰器才能看到泄漏",
    ),
    ("awtk_site", "allocated at", "分配位置"),
    ("awtk_statics", "decorator objects", "装饰器对象"),
    // pages
    ("pages_orders", "free blocks per order", "各阶的空闲块"),
    ("pages_order", "order", "阶"),
    ("pages_block", "block", "块大小"),
    ("pages_page", "page size", "页大小"),
    ("pages_managed", "pages managed", "管理的页数"),
    ("pages_free", "free pages", "空闲页"),
    (
        "pages_lru",
        "LRU lists (inactive / active)",
        "LRU 链表（非活跃 / 活跃）",
    ),
    ("pages_array", "page array", "页数组"),
    ("pages_entries", "entries", "条目"),
    (
        "pages_boot",
        "boot memory, control block and array",
        "启动内存、控制块与页数组",
    ),
    ("pages_cost", "of RAM", "占内存"),
    (
        "pages_by_owner",
        "allocated pages per owner",
        "各所有者的已分配页",
    ),
    // vm
    ("vm_spaces", "address spaces", "地址空间"),
    ("vm_space", "space", "空间"),
    ("vm_current", "current process", "当前进程"),
    ("vm_regions", "regions", "区域"),
    ("vm_no_regions", "no region", "没有区域"),
    ("vm_map", "map range", "映射范围"),
    ("vm_heap", "heap base → break", "堆基址 → 当前断点"),
    ("vm_ttb", "L1 table", "一级页表"),
    ("vm_walk", "Page-table walk", "页表遍历"),
    (
        "vm_walk_prompt",
        "virtual address (0x… or decimal)",
        "虚拟地址（0x… 或十进制）",
    ),
    ("vm_walk_go", "Walk", "遍历"),
    ("vm_walk_bad", "not an address", "不是有效地址"),
    ("vm_l1", "L1 entry", "一级页表项"),
    ("vm_l2", "L2 entry", "二级页表项"),
    ("vm_index", "index", "索引"),
    ("vm_at", "at", "位于"),
    ("vm_entry", "entry", "内容"),
    ("vm_paddr", "physical address", "物理地址"),
    (
        "walk_no_space",
        "no address space holds this address",
        "没有地址空间包含该地址",
    ),
    (
        "walk_outside_table",
        "beyond the space's L1 table",
        "超出该空间的一级页表",
    ),
    (
        "walk_no_table",
        "L1 entry is a fault: no L2 table",
        "一级页表项无效：没有二级页表",
    ),
    (
        "walk_not_mapped",
        "L2 entry maps nothing (a heap access would demand-page it)",
        "二级页表项未映射（访问堆时会按需分配页）",
    ),
    (
        "walk_reserved",
        "L1 entry has the reserved type",
        "一级页表项为保留类型",
    ),
    (
        "walk_unreadable",
        "a table word is outside RAM",
        "页表字不在内存中",
    ),
    // tasks
    ("tasks_id", "id", "编号"),
    ("tasks_name", "task", "任务"),
    ("tasks_priority", "priority", "优先级"),
    ("tasks_state", "state", "状态"),
    ("tasks_stack", "stack peak / size", "栈峰值 / 大小"),
    ("tasks_handled", "messages handled", "已处理消息"),
    ("tasks_ext", "external queue", "外部队列"),
    ("tasks_int", "internal queue", "内部队列"),
    ("tasks_carved", "carved at boot", "启动时切分"),
    ("tasks_mmi", "MMI task", "MMI 任务"),
    ("tasks_from", "from", "来自"),
    ("tasks_no_queue", "no queue", "无队列"),
    ("tasks_empty", "empty", "空"),
    // timers
    ("timers_clock", "virtual clock", "虚拟时钟"),
    ("timers_ticks", "ticks", "节拍"),
    ("timers_hw", "hardware timer", "硬件定时器"),
    ("timers_armed", "armed for", "设定在"),
    (
        "timers_fuzz",
        "aligned timers may be late by",
        "对齐定时器允许延迟",
    ),
    (
        "timers_events",
        "event list (nearest first)",
        "事件列表（最近的在前）",
    ),
    ("timers_no_events", "no pending event", "没有待处理事件"),
    ("timers_id", "event", "事件"),
    ("timers_expiry", "expires at", "到期时刻"),
    ("timers_in", "in", "剩余"),
    ("timers_callback", "callback", "回调"),
    ("timers_arg", "arg", "参数"),
    ("timers_aligned", "aligned", "对齐"),
    ("timers_exact", "exact", "精确"),
    (
        "timers_running",
        "running MMI timers",
        "运行中的 MMI 定时器",
    ),
    ("timers_no_timers", "no timer running", "没有运行中的定时器"),
    ("timers_slot", "slot", "槽位"),
    ("timers_timer", "timer", "定时器"),
    ("timers_queue", "MMI queue", "MMI 消息队列"),
    ("timers_nodes", "event nodes", "事件节点"),
    // charts
    (
        "chart_title",
        "Pools over the steps",
        "各内存池随步骤的变化",
    ),
    ("chart_step", "step", "步骤"),
    (
        "chart_heat",
        "Allocation churn by address (allocations and frees; time runs down)",
        "按地址的分配变动热图（分配与释放；时间向下）",
    ),
    ("chart_events", "allocations and frees", "次分配与释放"),
    ("chart_zoom", "shown", "显示范围"),
];

/// Every class the panels use has a rule in web/panels.css (or web/charts.css), which
/// index.html links; the test below checks.
#[cfg(test)]
const CSS: &str = include_str!("../../panels.css");

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES: &[&str] = &[
        include_str!("mod.rs"),
        include_str!("adm.rs"),
        include_str!("asm.rs"),
        include_str!("awtk.rs"),
        include_str!("ctrl.rs"),
        include_str!("dynmem.rs"),
        include_str!("lab.rs"),
        include_str!("pages.rs"),
        include_str!("part.rs"),
        include_str!("sysmem.rs"),
        include_str!("tasks.rs"),
        include_str!("timers.rs"),
        include_str!("tlsf.rs"),
        include_str!("vm.rs"),
        include_str!("model.rs"),
        include_str!("../charts.rs"),
    ];

    /// Every `t("key")` / `label("key"` / `"kind_…"` / `"walk_…"` literal in the panels'
    /// sources.
    fn used_keys() -> Vec<String> {
        let mut keys = Vec::new();
        for src in SOURCES {
            // Not the tests themselves.
            let src = src.split("#[cfg(test)]").next().unwrap_or(src);
            for opener in ["t(\"", "label(\""] {
                for (i, _) in src.match_indices(opener) {
                    // `t(` and `label(` alone, not the end of `lit(` or `split(`.
                    let before = src[..i].chars().next_back().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' {
                        continue;
                    }
                    let rest = &src[i + opener.len()..];
                    if let Some(end) = rest.find('"') {
                        keys.push(rest[..end].to_string());
                    }
                }
            }
            for prefix in ["\"kind_", "\"walk_"] {
                for (i, _) in src.match_indices(prefix) {
                    let rest = &src[i + 1..];
                    if let Some(end) = rest.find('"') {
                        keys.push(rest[..end].to_string());
                    }
                }
            }
        }
        keys.retain(|k| !k.ends_with('_')); // a prefix being trimmed, not a key
        keys.sort();
        keys.dedup();
        keys
    }

    #[test]
    fn every_key_used_has_english_and_chinese() {
        let keys = used_keys();
        assert!(
            keys.len() > 100,
            "the scan found too few keys: {}",
            keys.len()
        );
        for key in keys {
            let found = LABELS.iter().find(|(k, _, _)| *k == key);
            let Some((_, en, zh)) = found else {
                panic!("label {key:?} is used but not in LABELS");
            };
            assert!(!en.is_empty() && !zh.is_empty(), "{key}");
        }
    }

    #[test]
    fn labels_are_unique_and_bilingual() {
        let mut keys: Vec<&str> = LABELS.iter().map(|(k, _, _)| *k).collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate label keys");
        assert_eq!(label("free", Lang::En), "free");
        assert_eq!(label("free", Lang::Zh), "空闲");
        assert_eq!(label("no_such_key", Lang::Zh), "no_such_key");
    }

    #[test]
    fn css_names_every_class_the_panels_use() {
        for src in SOURCES {
            for (i, _) in src.match_indices("\"mp-") {
                let rest = &src[i + 1..];
                let end = rest.find(['"', ' ', '{']).unwrap_or(rest.len());
                let class = &rest[..end];
                if class.ends_with('-') || class.is_empty() {
                    continue; // a prefix built with format!
                }
                let rule = format!(".{class}");
                assert!(
                    CSS.contains(&rule) || include_str!("../../charts.css").contains(&rule),
                    "class {class} has no rule in CSS"
                );
            }
        }
    }

    #[test]
    fn actions_become_script_lines() {
        assert_eq!(
            PanelAction::VmTranslate(0x0100_0010)
                .script_line()
                .as_deref(),
            Some("vm.translate 0x1000010")
        );
        assert_eq!(PanelAction::Select(4).script_line(), None);
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(10239), "10239 B");
        assert_eq!(bytes(10240), "10.0 KiB");
        assert_eq!(bytes(64 << 20), "64.0 MiB");
        assert_eq!(hex(0x4000_0000), "0x40000000");
        assert_eq!(permille(125), "12.5%");
    }
}
