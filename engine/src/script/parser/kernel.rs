//! Parsing the kernel subsystems' lines: `pages` and `vm` (configuration and operations),
//! the task table (`task`, `behaviour`, `on`, `timers`, `boot`), messages and timers
//! (`send`, `run`, `timer`) and their figures. (`preset` is parsed in `heaps.rs`.)

use crate::allocator::Owner;
use crate::name::Name;
use crate::pages::{DEFAULT_PAGE_SIZE, MAX_SEGMENTS};
use crate::task::MAX_ACTIONS;
use crate::vm::{rf, SpaceKind, VmConfig};

use super::super::ast::{
    ActionSpec, AreaSpec, BrkTo, Call, Callback, Config, Figure, KernelStmt, Named, PagesCall,
    PagesFree, PoolKind, Span, Target, TaskRow, TimerStmt, Verb, VmCall, When,
};
use super::super::errors::{ErrorKind, Hint, ScriptError};
use super::super::lexer::{Sym, Tok};
use super::{suggest, Parser};

const TASK_HINT: &str = "a task row is `task NAME prio P stack S [ext N] [int N] [sys] [mmi]`";
const BOOT_HINT: &str = "declare tasks, behaviours, `on` rules and `timers` before `boot`";
const NOT_BOOTED_HINT: &str = "add a `boot` line first: it runs Application_Initialize";
const REGION_HINT: &str =
    "write `vm.region SPACE ADDR SIZE rw [heap] [user] [name NAME]`; permissions are letters of `rwxuh`";

impl<'a> Parser<'_, 'a, '_> {
    // ---- helpers ----

    /// True iff the next token can start an expression.
    fn starts_expr(&self) -> bool {
        matches!(
            self.peek(),
            Some(Tok::Num(_) | Tok::Ident(_) | Tok::Sym(Sym::LParen))
        )
    }

    /// An expression that must fit `max`.
    fn bounded(&mut self, max: u32, what: &'static str) -> Result<u32, ScriptError> {
        let (value, span) = self.expr()?;
        if value > max {
            return Err(self.error(span, ErrorKind::Expected(what)));
        }
        Ok(value)
    }

    fn msg_id(&mut self) -> Result<u16, ScriptError> {
        Ok(self.bounded(0xffff, "a message id from 0 to 0xffff")? as u16)
    }

    /// Up to two payload words.
    fn payload(&mut self) -> Result<[u32; 2], ScriptError> {
        let mut payload = [0; 2];
        for slot in payload.iter_mut() {
            if !self.starts_expr() {
                break;
            }
            *slot = self.expr()?.0;
        }
        Ok(payload)
    }

    /// A task that must be in the task table.
    fn task_name(&mut self) -> Result<Named, ScriptError> {
        let task = self.name("a task name")?;
        if !self.env.task(task.name.as_str()) {
            return Err(self
                .error(task.span, ErrorKind::UnknownTask(task.name))
                .with_hint(Hint::Text(TASK_HINT)));
        }
        Ok(task)
    }

    /// A behaviour by name (declared, or `this`, the one being declared) or by number.
    fn callback(&mut self, this: Option<Name>) -> Result<Callback, ScriptError> {
        if let (Some(Tok::Ident(word)), next) = (self.peek(), self.peek_at(1)) {
            let is_call = next == Some(Tok::Sym(Sym::LParen));
            let is_self = this.is_some_and(|n| n.as_str() == word);
            if !is_call && (self.env.behaviour(word) || is_self) {
                return Ok(Callback::Named(self.name("a behaviour")?));
            }
            if !is_call && self.env.var(word).is_none() {
                let named = self.name("a behaviour")?;
                return Err(self
                    .error(named.span, ErrorKind::UnknownBehaviour(named.name))
                    .with_hint(Hint::Text(
                        "declare it first: `behaviour NAME [stack N] [ACTION, ...]`",
                    )));
            }
        }
        Ok(Callback::Id(self.expr()?.0))
    }

    fn check_not_booted(&self, keyword: Span) -> Result<(), ScriptError> {
        if self.env.booted() {
            return Err(self
                .error(keyword, ErrorKind::AfterBoot)
                .with_hint(Hint::Text(BOOT_HINT)));
        }
        Ok(())
    }

    fn check_booted(&self, keyword: Span) -> Result<(), ScriptError> {
        if !self.env.booted() {
            return Err(self
                .error(keyword, ErrorKind::NotBooted)
                .with_hint(Hint::Text(NOT_BOOTED_HINT)));
        }
        Ok(())
    }

    // ---- configuration ----

    /// `pages [PAGE_SIZE] [on REGION [SIZE] | at BASE SIZE]...`.
    pub(super) fn pages_config(&mut self) -> Result<Config, ScriptError> {
        let page_size = match self.peek() {
            Some(Tok::Num(_) | Tok::Sym(Sym::LParen)) => self.expr()?.0,
            _ => DEFAULT_PAGE_SIZE,
        };
        let mut areas = [None; MAX_SEGMENTS];
        let mut count = 0;
        while self.peek().is_some() {
            let span = self.here();
            let area = if self.eat_word("on") {
                let region = self.region()?;
                let size = match self.peek() {
                    Some(Tok::Num(_) | Tok::Sym(Sym::LParen)) => Some(self.expr()?.0),
                    _ => None,
                };
                AreaSpec::Region { region, size }
            } else if self.eat_word("at") {
                let base = self.expr()?.0;
                let size = self.expr()?.0;
                AreaSpec::Range { base, size }
            } else {
                return Err(self
                    .expected("`on REGION [SIZE]` or `at BASE SIZE`")
                    .with_hint(Hint::Text(
                        "write e.g. `pages 1K on ddr`: 1 KiB pages over what is left of ddr",
                    )));
            };
            let Some(slot) = areas.get_mut(count) else {
                let max = MAX_SEGMENTS as u32;
                return Err(self.error(span, ErrorKind::TooMany { what: "areas", max }));
            };
            *slot = Some(area);
            count += 1;
        }
        Ok(Config::Pages { page_size, areas })
    }

    /// `vm [init] [kernel|vmalloc|user|map BASE SIZE] [heap BASE]`.
    pub(super) fn vm_config(&mut self, keyword: Span) -> Result<Config, ScriptError> {
        if self.env.pool("pages") != Some(PoolKind::Pages) {
            return Err(self
                .error(keyword, ErrorKind::Needs("physical pages (`pages`)"))
                .with_hint(Hint::Text(
                    "virtual memory takes its control block and page tables from the buddy: add a `pages` line first",
                )));
        }
        self.eat_word("init");
        let mut cfg = VmConfig::default();
        while let Some(tok) = self.peek() {
            let span = self.here();
            let Tok::Ident(word) = tok else {
                return Err(self.expected("a setting (kernel, vmalloc, user, map, heap)"));
            };
            self.i += 1;
            match word {
                "kernel" => {
                    cfg.kernel_base = self.expr()?.0;
                    cfg.kernel_size = self.expr()?.0;
                }
                "vmalloc" => {
                    cfg.vmalloc_base = self.expr()?.0;
                    cfg.vmalloc_size = self.expr()?.0;
                }
                "user" => {
                    cfg.user_base = self.expr()?.0;
                    cfg.user_size = self.expr()?.0;
                }
                "map" => {
                    cfg.user_map_base = self.expr()?.0;
                    cfg.user_map_size = self.expr()?.0;
                }
                "heap" => cfg.user_heap_base = self.expr()?.0,
                _ => {
                    let settings = ["kernel", "vmalloc", "user", "map", "heap"];
                    return Err(self
                        .error(span, ErrorKind::UnknownSetting)
                        .with_hint(suggest(word, settings)));
                }
            }
        }
        Ok(Config::Vm(cfg))
    }

    // ---- operations on `pages` and `vm` ----

    /// The operations of the kernel pools; `None` for the other kinds.
    pub(super) fn kernel_call(
        &mut self,
        kind: PoolKind,
        verb: Verb,
    ) -> Result<Option<Call>, ScriptError> {
        Ok(Some(match kind {
            PoolKind::Pages => self.pages_call(verb)?,
            PoolKind::Vm => Call::Vm(self.vm_call(verb)?),
            _ => return Ok(None),
        }))
    }

    fn pages_call(&mut self, verb: Verb) -> Result<Call, ScriptError> {
        Ok(match verb {
            Verb::Alloc if self.eat_word("order") => {
                Call::Pages(PagesCall::AllocOrder(self.expr()?.0))
            }
            Verb::Alloc => {
                let size = self.expr()?.0;
                if self.eat_word("pages") {
                    return Ok(Call::Pages(PagesCall::AllocPages(size)));
                }
                let owner = if self.eat_word("owner") {
                    self.owner()?
                } else {
                    Owner::NONE
                };
                Call::Alloc {
                    size,
                    owner,
                    region: None,
                }
            }
            Verb::Free if self.eat_word("any") => Call::Free(Target::Any),
            Verb::Free => {
                let addr = self.expr()?.0;
                let how = if self.eat_word("order") {
                    PagesFree::Order(self.expr()?.0)
                } else if self.starts_expr() {
                    let n = self.expr()?.0;
                    if !self.eat_word("pages") {
                        return Err(self.expected("`pages`").with_hint(Hint::Text(
                            "free a block as `pages.free P`, `pages.free P order K` or `pages.free P N pages`",
                        )));
                    }
                    PagesFree::Pages(n)
                } else {
                    PagesFree::Put
                };
                Call::Pages(PagesCall::Free { addr, how })
            }
            Verb::Get => Call::Pages(PagesCall::Get(self.expr()?.0)),
            Verb::Put => Call::Pages(PagesCall::Put(self.expr()?.0)),
            Verb::Lru => Call::Pages(PagesCall::Lru(self.expr()?.0)),
            Verb::Touch => Call::Pages(PagesCall::Touch(self.expr()?.0)),
            _ => Call::Pages(PagesCall::Reclaim(self.expr()?.0)),
        })
    }

    /// `[SPACE] ADDR`: an address, after a space when two expressions follow.
    fn maybe_space(&mut self) -> Result<(Option<u32>, u32), ScriptError> {
        let first = self.expr()?.0;
        if self.starts_expr() {
            Ok((Some(first), self.expr()?.0))
        } else {
            Ok((None, first))
        }
    }

    fn vm_call(&mut self, verb: Verb) -> Result<VmCall, ScriptError> {
        Ok(match verb {
            Verb::Space => match self.choice("space kind", &["user", "kernel", "vmalloc"])? {
                "user" => VmCall::Space(SpaceKind::User),
                "kernel" => VmCall::Space(SpaceKind::Kernel),
                _ => VmCall::Space(SpaceKind::Vmalloc),
            },
            Verb::Switch => VmCall::Switch(self.expr()?.0),
            Verb::Destroy => VmCall::Destroy(self.expr()?.0),
            Verb::Region => self.vm_region()?,
            Verb::RegionFree => {
                let space = self.expr()?.0;
                let addr = self.expr()?.0;
                VmCall::RegionFree { space, addr }
            }
            Verb::Map => {
                let (first, second) = self.maybe_space()?;
                if self.starts_expr() {
                    let paddr = self.expr()?.0;
                    VmCall::Map {
                        space: first,
                        vaddr: second,
                        paddr,
                    }
                } else {
                    let Some(vaddr) = first else {
                        return Err(self.expected("a physical address"));
                    };
                    VmCall::Map {
                        space: None,
                        vaddr,
                        paddr: second,
                    }
                }
            }
            Verb::Unmap => {
                let (space, vaddr) = self.maybe_space()?;
                VmCall::Unmap { space, vaddr }
            }
            Verb::Translate => {
                let (space, vaddr) = self.maybe_space()?;
                VmCall::Translate { space, vaddr }
            }
            Verb::Access => {
                let vaddr = self.expr()?.0;
                let write = match self.peek() {
                    Some(Tok::Ident(_)) => self.choice("access", &["read", "write"])? == "write",
                    _ => false,
                };
                VmCall::Access { vaddr, write }
            }
            // The space is one atom, so that `vm.brk u +8K` is not `u + 8K`.
            Verb::Brk => {
                let space = self.atom(0)?.0;
                let to = if self.eat_sym(Sym::Plus) {
                    BrkTo::Up(self.expr()?.0)
                } else if self.eat_sym(Sym::Minus) {
                    BrkTo::Down(self.expr()?.0)
                } else {
                    BrkTo::At(self.expr()?.0)
                };
                VmCall::Brk { space, to }
            }
            Verb::Sbrk => {
                let space = self.atom(0)?.0;
                let down = self.eat_sym(Sym::Minus);
                if !down {
                    self.eat_sym(Sym::Plus);
                }
                let (n, span) = self.expr()?;
                let by = if down { 0i64 - n as i64 } else { n as i64 };
                let by = i32::try_from(by).map_err(|_| {
                    self.error(span, ErrorKind::Expected("an increment of at most 2 GiB"))
                })?;
                VmCall::Sbrk { space, by }
            }
            Verb::Vmalloc => VmCall::Vmalloc(self.expr()?.0),
            Verb::Vfree => VmCall::Vfree(self.expr()?.0),
            _ => VmCall::SpaceOf(self.expr()?.0),
        })
    }

    /// `vm.region SPACE ADDR SIZE [PERMS] [heap] [user] [name NAME]`.
    fn vm_region(&mut self) -> Result<VmCall, ScriptError> {
        let space = self.expr()?.0;
        let addr = self.expr()?.0;
        let size = self.expr()?.0;
        let mut flags = 0;
        let mut name = None;
        while let Some(tok) = self.peek() {
            let span = self.here();
            let Tok::Ident(word) = tok else {
                return Err(self
                    .expected("permissions, `heap`, `user` or `name NAME`")
                    .with_hint(Hint::Text(REGION_HINT)));
            };
            self.i += 1;
            match word {
                "heap" => flags |= rf::HEAP,
                "user" => flags |= rf::USER,
                "name" => name = Some(self.name("a region name")?.name),
                perms if perms.bytes().all(|c| b"rwxuh".contains(&c)) => {
                    for c in perms.bytes() {
                        flags |= match c {
                            b'r' => rf::READ,
                            b'w' => rf::WRITE,
                            b'x' => rf::EXEC,
                            b'u' => rf::USER,
                            _ => rf::HEAP,
                        };
                    }
                }
                _ => {
                    return Err(self
                        .error(span, ErrorKind::UnknownSetting)
                        .with_hint(Hint::Text(REGION_HINT)))
                }
            }
        }
        Ok(VmCall::Region {
            space,
            addr,
            size,
            flags,
            name,
        })
    }

    // ---- the task system ----

    /// A statement starting with `word` (already read, at `keyword`).
    pub(super) fn kernel_stmt(
        &mut self,
        word: &str,
        keyword: Span,
        dest: Option<Named>,
    ) -> Result<KernelStmt, ScriptError> {
        match word {
            "task" => {
                self.check_not_booted(keyword)?;
                self.task_row()
            }
            "behaviour" => {
                self.check_not_booted(keyword)?;
                self.behaviour_stmt()
            }
            "on" => {
                self.check_not_booted(keyword)?;
                let task = self.task_name()?;
                let when = match self.choice(
                    "handler",
                    &["msg", "any", "init", "entry", "cfg", "reset", "end"],
                )? {
                    "msg" => When::Msg(self.msg_id()?),
                    "any" => When::Any,
                    "init" => When::Init,
                    "entry" => When::Entry,
                    "cfg" => When::Cfg,
                    "reset" => When::Reset,
                    _ => When::End,
                };
                if !self.eat_word("run") {
                    return Err(self.expected("`run BEHAVIOUR`").with_hint(Hint::Text(
                        "write `on TASK msg ID run BEHAVIOUR` or `on TASK entry run BEHAVIOUR`",
                    )));
                }
                let run = self.callback(None)?;
                Ok(KernelStmt::On { task, when, run })
            }
            "timers" => {
                self.check_not_booted(keyword)?;
                let (mut events, mut slots, mut fuzz) = (None, None, None);
                while let Some(tok) = self.peek() {
                    let span = self.here();
                    let Tok::Ident(setting) = tok else {
                        return Err(self.expected("a setting (events, slots, fuzz)"));
                    };
                    self.i += 1;
                    match setting {
                        "events" => events = Some(self.expr()?.0),
                        "slots" => slots = Some(self.expr()?.0),
                        "fuzz" => fuzz = Some(self.expr()?.0),
                        _ => {
                            return Err(self
                                .error(span, ErrorKind::UnknownSetting)
                                .with_hint(suggest(setting, ["events", "slots", "fuzz"])))
                        }
                    }
                }
                Ok(KernelStmt::Timers {
                    events,
                    slots,
                    fuzz,
                })
            }
            "boot" => {
                self.check_not_booted(keyword)?;
                let (mut at, mut budget) = (None, None);
                loop {
                    if self.eat_word("at") {
                        at = Some(self.expr()?.0);
                    } else if self.eat_word("budget") {
                        budget = Some(self.expr()?.0);
                    } else {
                        break;
                    }
                }
                Ok(KernelStmt::Boot { at, budget })
            }
            "send" => {
                self.check_booted(keyword)?;
                let first = self.task_name()?;
                let (from, to) = if self.peek() == Some(Tok::Sym(Sym::Minus))
                    && self.peek_at(1) == Some(Tok::Sym(Sym::Gt))
                {
                    self.i += 2;
                    (Some(first), self.task_name()?)
                } else {
                    (None, first)
                };
                let internal = self.eat_word("int");
                let msg = self.msg_id()?;
                let payload = self.payload()?;
                Ok(KernelStmt::Send {
                    from,
                    to,
                    internal,
                    msg,
                    payload,
                })
            }
            "run" => {
                self.check_booted(keyword)?;
                Ok(KernelStmt::Run { dest })
            }
            _ => {
                self.check_booted(keyword)?;
                let timer = self.timer_stmt(None, true)?;
                Ok(KernelStmt::Timer { dest, timer })
            }
        }
    }

    /// `task NAME prio P stack S [ext N] [int N] [sys] [mmi]`, settings in any order.
    fn task_row(&mut self) -> Result<KernelStmt, ScriptError> {
        let name = self.name("a task name, as in `task MMI prio 20 stack 1K ext 16`")?;
        if self.env.task(name.name.as_str()) {
            return Err(self.error(name.span, ErrorKind::Duplicate(name.name)));
        }
        let mut row = TaskRow {
            name,
            priority: 0,
            stack: 0,
            ext: 0,
            int: 0,
            sys: false,
            mmi: false,
        };
        let (mut prio, mut stack) = (false, false);
        while let Some(tok) = self.peek() {
            let span = self.here();
            let Tok::Ident(word) = tok else {
                return Err(self
                    .expected("a setting (prio, stack, ext, int, sys, mmi)")
                    .with_hint(Hint::Text(TASK_HINT)));
            };
            self.i += 1;
            match word {
                "prio" | "priority" => {
                    row.priority = self.bounded(255, "a priority from 0 to 255")? as u8;
                    prio = true;
                }
                "stack" => {
                    row.stack = self.expr()?.0;
                    stack = true;
                }
                "ext" => row.ext = self.bounded(0xffff, "a queue capacity")? as u16,
                "int" => row.int = self.bounded(0xffff, "a queue capacity")? as u16,
                "sys" => row.sys = true,
                "mmi" => row.mmi = true,
                _ => {
                    let settings = ["prio", "stack", "ext", "int", "sys", "mmi"];
                    return Err(self
                        .error(span, ErrorKind::UnknownSetting)
                        .with_hint(suggest(word, settings)));
                }
            }
        }
        if !prio || !stack {
            return Err(self
                .expected("`prio P` and `stack S`")
                .with_hint(Hint::Text(TASK_HINT)));
        }
        Ok(KernelStmt::Task(row))
    }

    /// `behaviour NAME [stack N] [ACTION {, ACTION}]`.
    fn behaviour_stmt(&mut self) -> Result<KernelStmt, ScriptError> {
        let name = self.name("a behaviour name, as in `behaviour ping stack 64 send L4 1`")?;
        if self.env.behaviour(name.name.as_str()) {
            return Err(self.error(name.span, ErrorKind::Duplicate(name.name)));
        }
        let stack = if self.eat_word("stack") {
            self.expr()?.0
        } else {
            0
        };
        let mut actions = [None; MAX_ACTIONS];
        let mut count = 0;
        while self.peek().is_some() {
            let span = self.here();
            let action = self.action(name.name)?;
            let Some(slot) = actions.get_mut(count) else {
                let max = MAX_ACTIONS as u32;
                return Err(self.error(
                    span,
                    ErrorKind::TooMany {
                        what: "actions",
                        max,
                    },
                ));
            };
            *slot = Some(action);
            count += 1;
            if !self.eat_sym(Sym::Comma) {
                break;
            }
        }
        Ok(KernelStmt::Behaviour {
            name,
            stack,
            actions,
        })
    }

    /// One action of the behaviour `this`.
    fn action(&mut self, this: Name) -> Result<ActionSpec, ScriptError> {
        let words = &["send", "reply", "post", "timer"];
        Ok(match self.choice("action", words)? {
            "send" => {
                let to = self.task_name()?;
                let msg = self.msg_id()?;
                let payload = self.payload()?;
                ActionSpec::Send { to, msg, payload }
            }
            "reply" => {
                let msg = self.msg_id()?;
                ActionSpec::Reply {
                    msg,
                    payload: self.payload()?,
                }
            }
            "post" => {
                let msg = self.msg_id()?;
                ActionSpec::Post {
                    msg,
                    payload: self.payload()?,
                }
            }
            _ => ActionSpec::Timer(self.timer_stmt(Some(this), false)?),
        })
    }

    /// `start ID delay D [aligned|nonaligned] callback B`, `stop ID`,
    /// `set delay D callback B [arg N] [aligned|nonaligned]`, `cancel EVENT`.
    fn timer_stmt(&mut self, this: Option<Name>, cancel: bool) -> Result<TimerStmt, ScriptError> {
        let words: &'static [&'static str] = if cancel {
            &["start", "stop", "set", "cancel"]
        } else {
            &["start", "stop", "set"]
        };
        let timer_id = "a timer id from 0 to 0xffff";
        Ok(match self.choice("timer operation", words)? {
            "start" => {
                let timer = self.bounded(0xffff, timer_id)? as u16;
                let (delay, aligned, callback, _) = self.timer_settings(this, false)?;
                TimerStmt::Start {
                    timer,
                    delay,
                    aligned,
                    callback,
                }
            }
            "stop" => TimerStmt::Stop(self.bounded(0xffff, timer_id)? as u16),
            "cancel" => TimerStmt::Cancel(self.expr()?.0),
            _ => {
                let (delay, aligned, callback, arg) = self.timer_settings(this, true)?;
                TimerStmt::Set {
                    delay,
                    aligned,
                    callback,
                    arg,
                }
            }
        })
    }

    /// `delay D`, `callback B`, `aligned`/`nonaligned` and (with `arg`) `arg N`, in any
    /// order; delay and callback are required.
    fn timer_settings(
        &mut self,
        this: Option<Name>,
        arg_allowed: bool,
    ) -> Result<(u32, bool, Callback, u32), ScriptError> {
        let (mut delay, mut callback, mut aligned, mut arg) = (None, None, true, 0);
        while let Some(Tok::Ident(word)) = self.peek() {
            let span = self.here();
            self.i += 1;
            match word {
                "delay" => delay = Some(self.expr()?.0),
                "callback" => callback = Some(self.callback(this)?),
                "aligned" => aligned = true,
                "nonaligned" => aligned = false,
                "arg" if arg_allowed => arg = self.expr()?.0,
                _ => {
                    return Err(self
                        .error(span, ErrorKind::UnknownSetting)
                        .with_hint(suggest(
                            word,
                            ["delay", "callback", "aligned", "nonaligned", "arg"],
                        )))
                }
            }
        }
        match (delay, callback) {
            (Some(delay), Some(callback)) => Ok((delay, aligned, callback, arg)),
            _ => Err(self
                .expected("`delay D` and `callback BEHAVIOUR`")
                .with_hint(Hint::Text(
                    "write `timer start ID delay D callback BEHAVIOUR [aligned|nonaligned]`",
                ))),
        }
    }

    // ---- figures ----

    /// The arguments of a kernel figure, after its `(`; returns it and the span of its
    /// last argument.
    pub(super) fn figure_args(
        &mut self,
        word: &str,
        depth: u32,
    ) -> Result<(Figure, Span), ScriptError> {
        let span = self.here();
        Ok(match word {
            "free_pages" | "inactive" | "active" | "free_order" => {
                let (pool, kind) = self.pool()?;
                if kind != PoolKind::Pages {
                    return Err(self
                        .error(pool.span, ErrorKind::Expected("the `pages` pool"))
                        .with_hint(Hint::Text(
                            "page figures read the buddy allocator: `free_pages(pages)`",
                        )));
                }
                let figure = match word {
                    "free_pages" => Figure::FreePages,
                    "inactive" => Figure::Inactive,
                    "active" => Figure::Active,
                    _ => {
                        if !self.eat_sym(Sym::Comma) {
                            return Err(self.expected("`,`").with_hint(Hint::Text(
                                "`free_order(pages, K)` counts the free blocks of order K",
                            )));
                        }
                        let (order, span) = self.sum(depth + 1)?;
                        return Ok((Figure::FreeOrder(order), span));
                    }
                };
                (figure, pool.span)
            }
            "queue" | "intqueue" | "handled" | "peak" | "faulted" => {
                let task = self.task_name()?;
                let figure = match word {
                    "queue" => Figure::Queue(task.name),
                    "intqueue" => Figure::IntQueue(task.name),
                    "handled" => Figure::Handled(task.name),
                    "peak" => Figure::Peak(task.name),
                    _ => Figure::Faulted(task.name),
                };
                (figure, task.span)
            }
            "running" => {
                let (timer, span) = self.sum(depth + 1)?;
                (Figure::Running(timer), span)
            }
            _ => (Figure::Pending, span),
        })
    }
}
