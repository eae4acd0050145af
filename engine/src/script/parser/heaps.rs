//! The statements of the heap subsystems: LiteOS dynamic memory (`dyn`), TLSF (`tlsf`),
//! KAL's ADM (`adm`), MTK's app-shared memory and its out-of-memory prompt (`asm`),
//! screen memory (`screen`), the AWTK decorator stack (`awtk`), and the machine presets.
//! See `docs/script.md` for the grammar; the parser's general rules (expressions,
//! placements, errors) are in the parent module.

use crate::adm::{file_id, MAX_SUBPOOLS};
use crate::allocator::Owner;
use crate::app_mem::{StopPlan, MAX_APPS};
use crate::awtk::{CallSite, Layer, StackConfig, POOLS};
use crate::dynmem::{MAX_LISTS, MAX_SPARES};
use crate::name::Name;
use crate::tlsf::TlsfConfig;

use super::super::ast::{
    AppSpec, Call, Config, Expect, Named, Place, PoolKind, Query, Span, Stmt, Verb, PRESETS,
};
use super::super::errors::{ErrorKind, Hint, ScriptError};
use super::super::lexer::{Sym, Tok};
use super::{is_reserved, suggest, Parser};

/// The size-class lists a `dyn` pool has unless `lists N` says otherwise: LiteOS's
/// `OS_MULTI_DLNK_NUM`.
pub const DEFAULT_LISTS: u32 = MAX_LISTS;

const APP_HINT: &str =
    "an app is one of the names of `asm pool ... apps NAME:\"Title\"` (or its id, 0 to 7)";
const PROMPT_HINT: &str =
    "answer the prompt in order: `asm.alloc_or_prompt APP SIZE`, `asm.choose APP`, `asm.confirm` (or `asm.decline`), then `tick` until the stop finishes";

impl<'a> Parser<'_, 'a, '_> {
    // ---- configuration ----

    /// `dyn NAME SIZE [PLACE] [lists N] [expand] [spare SIZE [PLACE]]... [grow from POOL]`.
    pub(super) fn dyn_config(&mut self) -> Result<Config, ScriptError> {
        let name = self.new_pool_name()?;
        let size = self.expr()?.0;
        let mut place = Place::Default;
        let mut lists = DEFAULT_LISTS;
        let mut expand = false;
        let mut spares = [None; MAX_SPARES];
        let mut count = 0;
        let mut grow = None;
        while let Some(tok) = self.peek() {
            if let Some(p) = self.place()? {
                place = p;
                continue;
            }
            let span = self.here();
            let Tok::Ident(word) = tok else {
                return Err(self.expected("a setting (lists, expand, spare, grow)"));
            };
            self.i += 1;
            match word {
                "lists" => lists = self.expr()?.0,
                "expand" => expand = true,
                "spare" => {
                    let size = self.expr()?.0;
                    let at = self.place()?.unwrap_or(Place::Default);
                    let Some(slot) = spares.get_mut(count) else {
                        let max = MAX_SPARES as u32;
                        return Err(self.error(
                            span,
                            ErrorKind::TooMany {
                                what: "spare areas",
                                max,
                            },
                        ));
                    };
                    *slot = Some((size, at));
                    count += 1;
                    expand = true;
                }
                "grow" => {
                    if !self.eat_word("from") {
                        return Err(self.expected("`from POOL`"));
                    }
                    let (pool, kind) = self.pool()?;
                    if !kind.gives_pages() {
                        return Err(self
                            .error(pool.span, ErrorKind::Needs("a pool of pages to grow from"))
                            .with_hint(Hint::Text(
                                "a LiteOS pool grows by pages of the buddy allocator: name a pages pool",
                            )));
                    }
                    grow = Some(pool);
                    expand = true;
                }
                _ => {
                    let settings = ["lists", "expand", "spare", "grow", "on", "at", "from"];
                    return Err(self
                        .error(span, ErrorKind::UnknownSetting)
                        .with_hint(suggest(word, settings)));
                }
            }
        }
        Ok(Config::Dyn {
            name,
            size,
            place,
            lists,
            expand,
            spares,
            grow,
        })
    }

    /// `tlsf NAME SIZE [PLACE] [sl N] [align 4|8] [own_class on|off]`.
    pub(super) fn tlsf_config(&mut self) -> Result<Config, ScriptError> {
        let name = self.new_pool_name()?;
        let size = self.expr()?.0;
        let mut place = Place::Default;
        let mut config = TlsfConfig::DEFAULT;
        while let Some(tok) = self.peek() {
            if let Some(p) = self.place()? {
                place = p;
                continue;
            }
            let span = self.here();
            let Tok::Ident(word) = tok else {
                return Err(self.expected("a setting (sl, align, own_class)"));
            };
            self.i += 1;
            match word {
                "sl" => config.sl_log2 = self.expr()?.0,
                "align" => config.align = self.expr()?.0,
                "own_class" => {
                    config.search_own_class = self.choice("switch", &["on", "off"])? == "on"
                }
                _ => {
                    let settings = ["sl", "align", "own_class", "on", "at", "from"];
                    return Err(self
                        .error(span, ErrorKind::UnknownSetting)
                        .with_hint(suggest(word, settings)));
                }
            }
        }
        Ok(Config::Tlsf {
            name,
            size,
            place,
            config,
        })
    }

    /// Subpool sizes after `subpools`: numbers up to a `0` (the list's terminator, as
    /// `kal_adm_create` takes it) or the first word. `subpools 0` is the empty list.
    fn subpools(&mut self, out: &mut [u32; MAX_SUBPOOLS as usize]) -> Result<usize, ScriptError> {
        let mut count = 0;
        let mut read = false;
        while let Some(Tok::Num(_) | Tok::Sym(Sym::LParen)) = self.peek() {
            read = true;
            let (size, size_span) = self.expr()?;
            if size == 0 {
                break;
            }
            let Some(slot) = out.get_mut(count) else {
                let kind = ErrorKind::TooMany {
                    what: "subpool sizes",
                    max: MAX_SUBPOOLS,
                };
                return Err(self.error(size_span, kind));
            };
            *slot = size;
            count += 1;
        }
        if !read {
            return Err(self.expected("subpool sizes, e.g. `subpools 16 32 64 0`"));
        }
        Ok(count)
    }

    /// `adm NAME [PLACE] SIZE [PLACE] [subpools S... [0]] [logging]`.
    pub(super) fn adm_config(&mut self) -> Result<Config, ScriptError> {
        let name = self.new_pool_name()?;
        let mut size = None;
        let mut place = Place::Default;
        let mut subpools = [0; MAX_SUBPOOLS as usize];
        let mut count = 0;
        let mut logging = false;
        while let Some(tok) = self.peek() {
            if let Some(p) = self.place()? {
                place = p;
                continue;
            }
            let span = self.here();
            match tok {
                Tok::Num(_) | Tok::Sym(Sym::LParen) if size.is_none() => {
                    size = Some(self.expr()?.0);
                }
                Tok::Ident("subpools") => {
                    self.i += 1;
                    count = self.subpools(&mut subpools)?;
                }
                Tok::Ident("logging") => {
                    self.i += 1;
                    logging = true;
                }
                Tok::Ident(word) => {
                    let settings = ["subpools", "logging", "on", "at", "from"];
                    return Err(self
                        .error(span, ErrorKind::UnknownSetting)
                        .with_hint(suggest(word, settings)));
                }
                _ => return Err(self.expected("a setting (subpools, logging)")),
            }
        }
        let Some(size) = size else {
            return Err(self.expected("the pool's size").with_hint(Hint::Text(
                "write `adm NAME SIZE`, e.g. `adm media on extsram 96K subpools 16 32 64 0`",
            )));
        };
        Ok(Config::Adm {
            name,
            size,
            place,
            subpools,
            count,
            logging,
        })
    }

    /// `asm pool SIZE [PLACE] [subpools S... [0]] [apps APP[:"Title"]...]`.
    pub(super) fn asm_config(&mut self) -> Result<Config, ScriptError> {
        if !self.eat_word("pool") {
            return Err(self.expected("`pool SIZE`").with_hint(Hint::Text(
                "write `asm pool 200K apps camera:\"Camera\" music:\"Music\"`",
            )));
        }
        let size = self.expr()?.0;
        let mut place = Place::Default;
        let mut subpools = [0; MAX_SUBPOOLS as usize];
        let mut count = 0;
        let mut apps = [None; MAX_APPS as usize];
        while let Some(tok) = self.peek() {
            if let Some(p) = self.place()? {
                place = p;
                continue;
            }
            let span = self.here();
            match tok {
                Tok::Ident("subpools") => {
                    self.i += 1;
                    count = self.subpools(&mut subpools)?;
                }
                Tok::Ident("apps") => {
                    self.i += 1;
                    self.apps(&mut apps)?;
                }
                Tok::Ident(word) => {
                    let settings = ["subpools", "apps", "on", "at", "from"];
                    return Err(self
                        .error(span, ErrorKind::UnknownSetting)
                        .with_hint(suggest(word, settings)));
                }
                _ => return Err(self.expected("a setting (subpools, apps)")),
            }
        }
        Ok(Config::Asm {
            size,
            place,
            subpools,
            count,
            apps,
        })
    }

    /// The apps after `apps`, to the end of the line: `NAME[:"Title"]`, ids from 0.
    fn apps(&mut self, apps: &mut [Option<AppSpec>; MAX_APPS as usize]) -> Result<(), ScriptError> {
        let mut count = 0;
        while self.peek().is_some() {
            let var = self.name("an app name, as in `camera:\"Camera\"`")?;
            if is_reserved(var.name.as_str()) {
                return Err(self.error(var.span, ErrorKind::Reserved(var.name)));
            }
            if apps.iter().flatten().any(|a| a.var.name == var.name) {
                return Err(self.error(var.span, ErrorKind::Duplicate(var.name)));
            }
            let title = if self.eat_sym(Sym::Colon) {
                let span = self.here();
                let Some(Tok::Str(text)) = self.peek() else {
                    return Err(self.expected("the app's title in double quotes"));
                };
                self.i += 1;
                Name::new(text).map_err(|_| {
                    self.error(span, ErrorKind::Expected("a title of 1 to 15 letters, digits or `_`"))
                        .with_hint(Hint::Text(
                            "ASM registers the title as the app's name: no spaces, at most 15 characters",
                        ))
                })?
            } else {
                var.name
            };
            let Some(slot) = apps.get_mut(count) else {
                let max = MAX_APPS as u32;
                return Err(self.error(var.span, ErrorKind::TooMany { what: "apps", max }));
            };
            *slot = Some(AppSpec { var, title });
            count += 1;
        }
        if count == 0 {
            return Err(self.expected("an app, as in `camera:\"Camera\"`"));
        }
        Ok(())
    }

    /// `screen SIZE [PLACE]`.
    pub(super) fn screen_config(&mut self) -> Result<Config, ScriptError> {
        let size = self.expr()?.0;
        let place = self.place()?.unwrap_or(Place::Default);
        Ok(Config::Screen { size, place })
    }

    /// `awtk stack LAYER... simple SIZE [PLACE] [entries N] [blocks N N N N N]
    /// [min_blocks N]`.
    pub(super) fn awtk_config(&mut self) -> Result<Config, ScriptError> {
        if !self.eat_word("stack") {
            return Err(self.expected("`stack`").with_hint(Hint::Text(
                "write the decorators outermost first, then the heap: `awtk stack oom debug pool lock simple 64K`",
            )));
        }
        let mut layers = [Layer::Lock; crate::awtk::MAX_LAYERS];
        let mut count = 0;
        while let Some(Tok::Ident(word)) = self.peek() {
            let Some(layer) = Layer::from_word(word) else {
                break;
            };
            let span = self.here();
            self.i += 1;
            let Some(slot) = layers.get_mut(count) else {
                let max = crate::awtk::MAX_LAYERS as u32;
                let kind = ErrorKind::TooMany {
                    what: "decorators",
                    max,
                };
                return Err(self.error(span, kind));
            };
            *slot = layer;
            count += 1;
        }
        let span = self.here();
        if !self.eat_word("simple") {
            let hint = match self.peek() {
                Some(Tok::Ident(word)) => suggest(word, ["lock", "pool", "debug", "oom", "simple"]),
                _ => Hint::None,
            };
            let hint = if hint == Hint::None {
                Hint::Text("the decorators are lock, pool, debug and oom; the stack ends with its heap: `simple SIZE`")
            } else {
                hint
            };
            return Err(self
                .error(span, ErrorKind::Expected("a decorator or `simple SIZE`"))
                .with_hint(hint));
        }
        let heap = self.expr()?.0;
        let mut place = Place::Default;
        let mut config = StackConfig::default();
        while let Some(tok) = self.peek() {
            if let Some(p) = self.place()? {
                place = p;
                continue;
            }
            let span = self.here();
            let Tok::Ident(word) = tok else {
                return Err(self.expected("a setting (entries, blocks, min_blocks)"));
            };
            self.i += 1;
            match word {
                "entries" => config.debug_entries = self.expr()?.0,
                "blocks" => {
                    for k in 0..POOLS {
                        let n = self.expr()?.0;
                        if let Some(b) = config.pool.blocks.get_mut(k) {
                            *b = n;
                        }
                    }
                }
                "min_blocks" => config.pool.min_blocks = self.expr()?.0,
                _ => {
                    let settings = ["entries", "blocks", "min_blocks", "on", "at", "from"];
                    return Err(self
                        .error(span, ErrorKind::UnknownSetting)
                        .with_hint(suggest(word, settings)));
                }
            }
        }
        Ok(Config::Awtk {
            layers,
            count,
            heap,
            place,
            config,
        })
    }

    /// `awtk release oldest N` or `awtk release none`, after `awtk`: the release callback
    /// the oom decorator calls (`tk_mem_set_on_out_of_memory`).
    pub(super) fn awtk_release(&mut self, keyword: Span) -> Result<Stmt<'a>, ScriptError> {
        self.i += 1; // `release`
        if self.env.pool("awtk") != Some(PoolKind::Awtk) {
            return Err(self
                .error(
                    keyword,
                    ErrorKind::Needs("an AWTK stack (`awtk stack ...`)"),
                )
                .with_hint(Hint::Text(
                    "configure the stack first, e.g. `awtk stack oom lock simple 64K`",
                )));
        }
        let per_call = match self.choice("release policy", &["oldest", "none"])? {
            "oldest" => self.expr()?.0,
            _ => 0,
        };
        Ok(Stmt::Call {
            dest: None,
            pool: Named {
                name: Name::lit("awtk"),
                span: keyword,
            },
            call: Call::Release { per_call },
        })
    }

    /// `preset NAME`.
    pub(super) fn preset(&mut self) -> Result<Stmt<'a>, ScriptError> {
        let span = self.here();
        let (word, _) = self.ident("a preset name such as `mtk_phone`")?;
        match PRESETS.iter().find(|(n, _)| *n == word) {
            Some(&(name, _)) => Ok(Stmt::Preset { name, span }),
            None => Err(self
                .error(span, ErrorKind::UnknownWord("preset"))
                .with_hint(suggest(word, PRESETS.iter().map(|(n, _)| *n)))),
        }
    }

    // ---- operations ----

    /// An app id: an expression below [`MAX_APPS`].
    fn app(&mut self) -> Result<u16, ScriptError> {
        let (value, span) = self.expr()?;
        match u16::try_from(value) {
            Ok(app) if app < MAX_APPS => Ok(app),
            _ => Err(self
                .error(span, ErrorKind::Expected("an app id from 0 to 7"))
                .with_hint(Hint::Text(APP_HINT))),
        }
    }

    /// The operations whose arguments differ from the general `alloc SIZE [owner N]`,
    /// `free ADDR`, `realloc ADDR SIZE`; `None` for those.
    pub(super) fn heap_call(
        &mut self,
        kind: PoolKind,
        verb: Verb,
    ) -> Result<Option<Call>, ScriptError> {
        Ok(Some(match (kind, verb) {
            (PoolKind::Asm, Verb::Alloc) => {
                let app = self.app()?;
                let size = self.expr()?.0;
                Call::Alloc {
                    size,
                    owner: Owner(app),
                    region: None,
                }
            }
            (PoolKind::Asm, Verb::AllocOrPrompt) => {
                let app = self.app()?;
                let size = self.expr()?.0;
                Call::AllocOrPrompt { app, size }
            }
            (PoolKind::Asm, Verb::AllocFull) => Call::AllocFull {
                app: self.app()?,
                prompt: false,
            },
            (PoolKind::Asm, Verb::AllocFullOrPrompt) => Call::AllocFull {
                app: self.app()?,
                prompt: true,
            },
            (PoolKind::Asm, Verb::Choose) => Call::Choose(self.app()?),
            (PoolKind::Asm, Verb::Confirm) => Call::Confirm,
            (PoolKind::Asm, Verb::Decline) => Call::Decline,
            (PoolKind::Asm, Verb::Dismiss) => Call::Dismiss,
            (PoolKind::Asm, Verb::NotifyStopFinished) => {
                let app = self.app()?;
                let result = self.choice("stop result", &["ok", "fail"])? == "ok";
                Call::NotifyStopFinished { app, result }
            }
            (PoolKind::Asm, Verb::Plan) => {
                let app = self.app()?;
                let mut plan = StopPlan::IMMEDIATE;
                while let Some(tok) = self.peek() {
                    let span = self.here();
                    let Tok::Ident(word) = tok else {
                        return Err(self.expected("`frees N`, `ticks N`, `ok` or `fail`"));
                    };
                    self.i += 1;
                    match word {
                        "frees" => plan.frees_per_tick = self.small("frees")?,
                        "ticks" => plan.ticks = self.small("ticks")?,
                        "ok" => plan.result = true,
                        "fail" => plan.result = false,
                        _ => {
                            return Err(self
                                .error(span, ErrorKind::UnknownSetting)
                                .with_hint(suggest(word, ["frees", "ticks", "ok", "fail"])))
                        }
                    }
                }
                Call::Plan { app, plan }
            }
            (PoolKind::Adm, Verb::Alloc) => {
                let size = self.expr()?.0;
                let mut owner = Owner::NONE;
                let mut site = None;
                loop {
                    if self.eat_word("owner") {
                        owner = self.owner()?;
                    } else if self.eat_word("at") {
                        site = Some(self.file_line()?);
                    } else {
                        break;
                    }
                }
                match site {
                    Some((file, line)) => Call::AdmAlloc {
                        size,
                        owner,
                        file,
                        line,
                    },
                    None => Call::Alloc {
                        size,
                        owner,
                        region: None,
                    },
                }
            }
            (PoolKind::Adm, Verb::Delete) => Call::Delete,
            (PoolKind::Awtk, Verb::Alloc) => {
                let size = self.expr()?.0;
                let site = self.func_line()?;
                Call::AwtkAlloc { size, site }
            }
            (PoolKind::Awtk, Verb::Realloc) => {
                let addr = self.expr()?.0;
                let size = self.expr()?.0;
                let site = self.func_line()?;
                Call::AwtkRealloc { addr, size, site }
            }
            (PoolKind::Awtk, Verb::Dump) => Call::Dump,
            (PoolKind::Awtk, Verb::Cache) => Call::Cache(self.expr()?.0),
            _ => return Ok(None),
        }))
    }

    /// A count of at most 65535 after `frees` or `ticks`.
    fn small(&mut self, what: &'static str) -> Result<u16, ScriptError> {
        let (value, span) = self.expr()?;
        u16::try_from(value).map_err(|_| {
            self.error(span, ErrorKind::Expected("a number from 0 to 65535"))
                .with_hint(Hint::Text(if what == "frees" {
                    "`frees N`: chunks the stop callback frees per tick"
                } else {
                    "`ticks N`: ticks the app takes to stop"
                }))
        })
    }

    /// `"FILE":LINE` (or `NAME:LINE`) after `at`: `__FILE__` and `__LINE__`, as the file's
    /// id ([`file_id`]) and the line.
    fn file_line(&mut self) -> Result<(u32, u32), ScriptError> {
        let file = match self.peek() {
            Some(Tok::Str(text) | Tok::Ident(text)) => {
                self.i += 1;
                file_id(text)
            }
            _ => {
                return Err(self
                    .expected("a call site `\"FILE\":LINE`")
                    .with_hint(Hint::Text(
                        "as `__FILE__` and `__LINE__`: `at \"camera.c\":120`",
                    )))
            }
        };
        if !self.eat_sym(Sym::Colon) {
            return Err(self.expected("`:` and a line number"));
        }
        Ok((file, self.expr()?.0))
    }

    /// An optional `at FUNC:LINE`: `__FUNCTION__` and `__LINE__`.
    fn func_line(&mut self) -> Result<CallSite, ScriptError> {
        if !self.eat_word("at") {
            return Ok(CallSite::NONE);
        }
        let span = self.here();
        let func = match self.peek() {
            Some(Tok::Str(text) | Tok::Ident(text)) => {
                self.i += 1;
                text
            }
            _ => {
                return Err(self
                    .expected("a call site `FUNCTION:LINE`")
                    .with_hint(Hint::Text(
                        "as `__FUNCTION__` and `__LINE__`: `at widget_create:77`",
                    )))
            }
        };
        if !self.eat_sym(Sym::Colon) {
            return Err(self.expected("`:` and a line number"));
        }
        let line = self.expr()?.0;
        CallSite::new(func, line).map_err(|_| {
            self.error(
                span,
                ErrorKind::Expected("a C function name of at most 31 letters, digits or `_`"),
            )
        })
    }

    // ---- expressions and expectations ----

    /// The arguments after a figure's pool: `usage(POOL, OWNER)` takes the owner.
    pub(super) fn query_args(&mut self, query: Query, depth: u32) -> Result<Query, ScriptError> {
        match query {
            Query::Usage(_) => {
                if !self.eat_sym(Sym::Comma) {
                    return Err(self.expected("`,` and an owner").with_hint(Hint::Text(
                        "`usage(POOL, OWNER)` is what one task or app holds, e.g. `usage(asm, camera)`",
                    )));
                }
                Ok(Query::Usage(self.sum(depth + 1)?.0))
            }
            other => Ok(other),
        }
    }

    /// `expect state idle|prompt|confirm|stopping` or `expect prompt open|closed`; `None`
    /// when the expectation is another form (`state` and `prompt` may name variables).
    pub(super) fn asm_expectation(&mut self) -> Result<Option<Expect>, ScriptError> {
        let (Some(Tok::Ident(form @ ("state" | "prompt"))), Some(Tok::Ident(_))) =
            (self.peek(), self.peek_at(1))
        else {
            return Ok(None);
        };
        let form_span = self.here();
        self.i += 1;
        if self.env.pool("asm") != Some(PoolKind::Asm) {
            return Err(self
                .error(
                    form_span,
                    ErrorKind::Needs("app-shared memory (`asm pool ...`)"),
                )
                .with_hint(Hint::Text(PROMPT_HINT)));
        }
        let span = self.here();
        let (word, _) = self.ident("a state")?;
        if form == "prompt" {
            return match word {
                "open" => Ok(Some(Expect::PromptOpen(true))),
                "closed" => Ok(Some(Expect::PromptOpen(false))),
                _ => Err(self
                    .error(span, ErrorKind::UnknownWord("prompt state"))
                    .with_hint(suggest(word, ["open", "closed"]))),
            };
        }
        const STATES: [&str; 4] = ["idle", "prompt", "confirm", "stopping"];
        match STATES.iter().find(|s| s.eq_ignore_ascii_case(word)) {
            Some(state) => Ok(Some(Expect::State(state))),
            None => Err(self
                .error(span, ErrorKind::UnknownWord("prompt state"))
                .with_hint(suggest(word, STATES))),
        }
    }
}
