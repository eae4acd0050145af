//! The interface in English and Simplified Chinese, and each trace event in words.

use memplay_engine::trace::{Event, EventKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

/// Every string of the interface.
pub struct Text {
    /// Which language this is (text tables compare by it).
    pub lang: Lang,
    pub tagline: &'static str,
    pub lessons: &'static str,
    pub playground: &'static str,
    pub done: &'static str,
    pub open_script: &'static str,
    pub open_exercise: &'static str,
    pub reset_script: &'static str,
    pub edited: &'static str,
    pub lesson_loading: &'static str,
    pub lesson_failed: &'static str,
    pub retry: &'static str,
    pub editor: &'static str,
    pub step: &'static str,
    pub back: &'static str,
    pub run_to_end: &'static str,
    pub reset: &'static str,
    pub play: &'static str,
    pub pause: &'static str,
    pub speed: &'static str,
    pub step_of: &'static str,
    pub before_first: &'static str,
    pub memory_map: &'static str,
    pub inspector: &'static str,
    pub inspector_empty: &'static str,
    pub event_log: &'static str,
    pub log_empty: &'static str,
    pub share: &'static str,
    pub share_hint: &'static str,
    pub close: &'static str,
    pub bad_link: &'static str,
    pub error_stale: &'static str,
    pub halted: &'static str,
    pub limited: &'static str,
    pub expect_failed: &'static str,
    pub shortcuts: &'static str,
    pub no_regions: &'static str,
    pub no_pool: &'static str,
    pub no_pools: &'static str,
    pub showing: &'static str,
    pub fields: &'static str,
    pub corrupted: &'static str,
    pub raw_bytes: &'static str,
    pub kind_header: &'static str,
    pub kind_payload: &'static str,
    pub kind_padding: &'static str,
    pub kind_guard: &'static str,
    pub kind_free: &'static str,
    pub panels: &'static str,
    pub variables: &'static str,
    pub next_line: &'static str,
    pub step_click: &'static str,
}

pub static EN: Text = Text {
    lang: Lang::En,
    tagline: "Step through the memory management of small real-time systems, forward and back, and watch every header, guard and free list change.",
    lessons: "Lessons",
    playground: "Free playground",
    done: "done",
    open_script: "Open the lesson's script",
    open_exercise: "Open this exercise in the editor",
    reset_script: "Reset to the lesson's script",
    edited: "edited",
    lesson_loading: "Loading the lesson…",
    lesson_failed: "The lesson's text could not be loaded",
    retry: "Try again",
    editor: "Script",
    step: "Step",
    back: "Back",
    run_to_end: "Run to end",
    reset: "Reset",
    play: "Play",
    pause: "Pause",
    speed: "speed",
    step_of: "of",
    before_first: "Before the first step: nothing has run yet. Press Step (→).",
    memory_map: "Memory map",
    inspector: "Inspector",
    inspector_empty: "Click a block in the memory map to see its bytes and header fields.",
    event_log: "Event log",
    log_empty: "No events yet.",
    share: "Share",
    share_hint: "This link opens the script as it is now:",
    close: "Close",
    bad_link: "This share link cannot be opened",
    error_stale: "The map shows the last script that ran.",
    halted: "The script stopped here",
    limited: "The script was stopped after 1,000,000 steps.",
    expect_failed: "An expectation failed",
    shortcuts: "→ step · ← back · space play/pause · Home reset · End run to end",
    no_regions: "No RAM yet: a `ram` line declares a region.",
    no_pool: "no pool in this region yet",
    no_pools: "No pools configured yet.",
    showing: "showing",
    fields: "Header fields",
    corrupted: "corrupted",
    raw_bytes: "raw bytes: no pool can walk here (its metadata is damaged)",
    kind_header: "metadata: header, control block",
    kind_payload: "payload (coloured by owner)",
    kind_padding: "padding: internal fragmentation",
    kind_guard: "guard bytes",
    kind_free: "free",
    panels: "Subsystems",
    variables: "Variables",
    next_line: "next",
    step_click: "show the machine after this step",
};

pub static ZH: Text = Text {
    lang: Lang::Zh,
    tagline: "单步前进、后退，观察小型实时系统的内存管理：每个块头、保护字节和空闲链表的变化。",
    lessons: "课程",
    playground: "自由练习",
    done: "已完成",
    open_script: "打开课程脚本",
    open_exercise: "在编辑器中打开这个练习",
    reset_script: "恢复课程原始脚本",
    edited: "已修改",
    lesson_loading: "正在加载课程…",
    lesson_failed: "课程正文加载失败",
    retry: "重试",
    editor: "脚本",
    step: "单步",
    back: "后退",
    run_to_end: "运行到底",
    reset: "重置",
    play: "播放",
    pause: "暂停",
    speed: "速度",
    step_of: "/",
    before_first: "第一步之前：还没有执行任何语句。按“单步”（→）。",
    memory_map: "内存图",
    inspector: "检查器",
    inspector_empty: "点击内存图中的块，查看它的字节和块头字段。",
    event_log: "事件日志",
    log_empty: "还没有事件。",
    share: "分享",
    share_hint: "这个链接会打开当前的脚本：",
    close: "关闭",
    bad_link: "无法打开这个分享链接",
    error_stale: "内存图显示的是上一次成功运行的脚本。",
    halted: "脚本在这里停止",
    limited: "脚本运行 1,000,000 步后被停止。",
    expect_failed: "预期未满足",
    shortcuts: "→ 单步 · ← 后退 · 空格 播放/暂停 · Home 重置 · End 运行到底",
    no_regions: "还没有内存：用 `ram` 语句声明一个区域。",
    no_pool: "这个区域里还没有内存池",
    no_pools: "还没有配置内存池。",
    showing: "显示",
    fields: "块头字段",
    corrupted: "已损坏",
    raw_bytes: "原始字节：内存池无法遍历这里（元数据已损坏）",
    kind_header: "元数据：块头、控制块",
    kind_payload: "有效载荷（按所有者着色）",
    kind_padding: "填充：内部碎片",
    kind_guard: "保护字节",
    kind_free: "空闲",
    panels: "子系统",
    variables: "变量",
    next_line: "下一步",
    step_click: "显示这一步之后的机器状态",
};

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.lang == other.lang
    }
}

/// A short phrase for an event, where one is cheap; the canonical line stays beside it.
pub fn phrase(lang: Lang, event: &Event) -> Option<String> {
    let zh = lang == Lang::Zh;
    Some(match event.kind {
        EventKind::Init { base, size } => {
            if zh {
                format!("在 {base:#010x} 建立 {size} 字节")
            } else {
                format!("set up {size} bytes at {base:#010x}")
            }
        }
        EventKind::Carve { addr, size, region } => {
            if zh {
                format!("从 {region} 切出 {size} 字节，位于 {addr:#010x}")
            } else {
                format!("carved {size} bytes at {addr:#010x} from {region}")
            }
        }
        EventKind::Meta { addr, field, value } => {
            if zh {
                format!("写入 {} = {value:#x}（{addr:#010x}）", field.as_str())
            } else {
                format!("wrote {} = {value:#x} at {addr:#010x}", field.as_str())
            }
        }
        EventKind::Fill {
            addr, len, byte, ..
        } => {
            if zh {
                format!("把 {addr:#010x} 起的 {len} 字节填为 {byte:#04x}")
            } else {
                format!("filled {len} bytes at {addr:#010x} with {byte:#04x}")
            }
        }
        EventKind::Link { list, addr } => {
            if zh {
                format!("{addr:#010x} 放入空闲链表 {list}")
            } else {
                format!("put {addr:#010x} on free list {list}")
            }
        }
        EventKind::Unlink { list, addr } => {
            if zh {
                format!("{addr:#010x} 移出空闲链表 {list}")
            } else {
                format!("took {addr:#010x} off free list {list}")
            }
        }
        EventKind::Search { size, visited } => {
            if zh {
                format!("为 {size} 字节查看了 {visited} 个空闲块")
            } else {
                format!("looked at {visited} free blocks for {size} bytes")
            }
        }
        EventKind::Fallback { from, to } => {
            if zh {
                format!("等级 {from} 已空，改用等级 {to}")
            } else {
                format!("class {from} is empty, moved on to class {to}")
            }
        }
        EventKind::Split {
            addr,
            size,
            rest_size,
            ..
        } => {
            if zh {
                format!("把 {addr:#010x} 的空闲块切成 {size} + {rest_size} 字节")
            } else {
                format!("split the free block at {addr:#010x} into {size} + {rest_size} bytes")
            }
        }
        EventKind::Merge { addr, size, .. } => {
            if zh {
                format!("与相邻空闲块合并：{addr:#010x} 现在 {size} 字节")
            } else {
                format!("merged with a free neighbour: {addr:#010x} is now {size} bytes")
            }
        }
        EventKind::Grow { addr, size } => {
            if zh {
                format!("内存池扩展了 {size} 字节（{addr:#010x}）")
            } else {
                format!("the pool grew by {size} bytes at {addr:#010x}")
            }
        }
        EventKind::Alloc {
            addr,
            size,
            block,
            owner,
        } => {
            let none = owner == memplay_engine::allocator::Owner::NONE;
            match (zh, none) {
                (true, true) => format!("分配 {size} 字节于 {addr:#010x}（整块 {block} 字节）"),
                (true, false) => {
                    format!("分配 {size} 字节于 {addr:#010x}（整块 {block} 字节，所有者 {owner}）")
                }
                (false, true) => {
                    format!("handed out {size} bytes at {addr:#010x} ({block}-byte block)")
                }
                (false, false) => format!(
                    "handed out {size} bytes at {addr:#010x} ({block}-byte block, owner {owner})"
                ),
            }
        }
        EventKind::Free { addr, block, .. } => {
            if zh {
                format!("释放 {addr:#010x}（{block} 字节）")
            } else {
                format!("freed {addr:#010x} ({block} bytes)")
            }
        }
        EventKind::Realloc { from, to, size } => {
            if zh {
                format!("把 {from:#010x} 调整为 {size} 字节，现在位于 {to:#010x}")
            } else {
                format!("resized {from:#010x} to {size} bytes, now at {to:#010x}")
            }
        }
        EventKind::Fault { error, .. } => {
            if zh {
                format!("失败：{error}")
            } else {
                format!("failed: {error}")
            }
        }
        _ => return None,
    })
}
