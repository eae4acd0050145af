//! The parser: one line's tokens into a [`Stmt`], with every expression evaluated against
//! an [`Env`] (the running machine, or the static checker that only knows which names
//! exist). See `docs/script.md` for the grammar.

use crate::allocator::Owner;
use crate::ctrl_buffer::{CtrlBuffer, MAX_CLASSES};
use crate::name::Name;
use crate::policy_lab::{FitPolicy, LabConfig, ListOrder};
use crate::ram::RegionKind;
use crate::sysmem::MAX_AREAS;

use super::ast::{
    AreaSpec, Call, Cmp, Config, Expect, Named, PartShape, Place, PoolKind, Query, Span, Stmt,
    Target, Verb, Width, FAULT_KINDS, FUNCTIONS, KINDS, QUERIES, STATEMENTS,
};
use super::errors::{closest, ErrorKind, Hint, ScriptError};
use super::lexer::{lex, Sym, Tok, Token};

// dyn, tlsf, adm, asm, screen, awtk
mod heaps;
// pages, vm, tasks, timers
mod kernel;
use super::ast::{Figure, KERNEL_FUNCTIONS};

/// How deep parentheses may nest.
const MAX_NESTING: u32 = 16;

/// What the parser asks about names while it evaluates a line.
pub trait Env {
    /// A variable's value.
    fn var(&self, name: &str) -> Option<u32>;
    /// A defined variable close to `word`, for a hint.
    fn similar_var(&self, word: &str) -> Option<Name>;
    /// The kind of the pool named `name`.
    fn pool(&self, name: &str) -> Option<PoolKind>;
    /// A defined pool close to `word`, for a hint.
    fn similar_pool(&self, word: &str) -> Option<Name>;
    /// True iff a RAM region named `name` exists.
    fn region(&self, name: &str) -> bool;
    /// A pool figure.
    fn query(&mut self, query: Query, pool: Name) -> Result<u32, ErrorKind>;
    /// A number in `lo..=hi` from the machine's PRNG.
    fn rand(&mut self, lo: u32, hi: u32) -> u32;
    /// True when only checking the text: arithmetic then wraps instead of failing, as the
    /// values are stand-ins.
    fn dry(&self) -> bool;

    // pages, vm, tasks, timers
    /// True iff the task table has a task named `name`.
    fn task(&self, name: &str) -> bool;
    /// True iff a behaviour named `name` was declared.
    fn behaviour(&self, name: &str) -> bool;
    /// True once the task table is booted (for the static check: once a `boot` line was
    /// read).
    fn booted(&self) -> bool;
    /// A figure of the pages, the tasks or the timers.
    fn figure(&mut self, figure: Figure) -> Result<u32, ErrorKind>;
}

/// Parses and evaluates line `line_no`, `text`.
pub fn parse_line<'a>(
    text: &'a str,
    line_no: u32,
    env: &mut dyn Env,
) -> Result<Stmt<'a>, ScriptError> {
    let tokens = lex(text, line_no)?;
    let mut p = Parser {
        text,
        line_no,
        toks: tokens.as_slice(),
        i: 0,
        env,
    };
    p.statement()
}

/// True iff `word` may not name a variable.
pub fn is_reserved(word: &str) -> bool {
    STATEMENTS.contains(&word)
        || KINDS.iter().any(|k| k.keyword == word)
        || matches!(word, "any" | "fault" | "none" | "owner" | "in")
}

struct Parser<'t, 'a, 'e> {
    text: &'a str,
    line_no: u32,
    toks: &'t [Token<'a>],
    i: usize,
    env: &'e mut dyn Env,
}

const OWNER_HINT: &str = "an owner is a task or app id from 0 to 65534";
const PLACE_HINT: &str =
    "a pool's memory is `on REGION`, `at ADDRESS` or `from sys` (the default when sys exists)";

impl<'a> Parser<'_, 'a, '_> {
    // ---- token helpers ----

    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.i).map(|t| t.tok)
    }

    fn peek_at(&self, ahead: usize) -> Option<Tok<'a>> {
        self.toks.get(self.i + ahead).map(|t| t.tok)
    }

    /// The span of the next token, or the point just past the line's text.
    fn here(&self) -> Span {
        match self.toks.get(self.i) {
            Some(t) => Span {
                start: t.start,
                end: t.end,
            },
            None => {
                let end = self.toks.last().map_or(0, |t| t.end);
                Span {
                    start: end,
                    end: end + 1,
                }
            }
        }
    }

    fn bump(&mut self) -> Option<(Tok<'a>, Span)> {
        let t = self.toks.get(self.i)?;
        self.i += 1;
        Some((
            t.tok,
            Span {
                start: t.start,
                end: t.end,
            },
        ))
    }

    fn error(&self, span: Span, kind: ErrorKind) -> ScriptError {
        ScriptError::at(self.text, self.line_no, span.start, span.end, kind)
    }

    fn expected(&self, what: &'static str) -> ScriptError {
        self.error(self.here(), ErrorKind::Expected(what))
    }

    fn eat_sym(&mut self, sym: Sym) -> bool {
        if self.peek() == Some(Tok::Sym(sym)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.peek() == Some(Tok::Ident(word)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self, what: &'static str) -> Result<(&'a str, Span), ScriptError> {
        match self.peek() {
            Some(Tok::Ident(w)) => {
                let span = self.here();
                self.i += 1;
                Ok((w, span))
            }
            _ => Err(self.expected(what)),
        }
    }

    fn name(&mut self, what: &'static str) -> Result<Named, ScriptError> {
        let (word, span) = self.ident(what)?;
        let name = Name::new(word).map_err(|_| self.error(span, ErrorKind::NameTooLong))?;
        Ok(Named { name, span })
    }

    /// One word from `words`.
    fn choice(
        &mut self,
        what: &'static str,
        words: &'static [&'static str],
    ) -> Result<&'static str, ScriptError> {
        let (word, span) = self.ident(what)?;
        match words.iter().find(|w| **w == word) {
            Some(w) => Ok(w),
            None => Err(self
                .error(span, ErrorKind::UnknownWord(what))
                .with_hint(suggest(word, words.iter().copied()))),
        }
    }

    fn end(&mut self) -> Result<(), ScriptError> {
        if self.i < self.toks.len() {
            let span = self.here();
            return Err(self
                .error(span, ErrorKind::Expected("the end of the statement"))
                .with_hint(Hint::Text(
                    "write one statement per line; comments start with `#`",
                )));
        }
        Ok(())
    }

    // ---- statements ----

    fn statement(&mut self) -> Result<Stmt<'a>, ScriptError> {
        let Some(first) = self.peek() else {
            return Ok(Stmt::Empty);
        };
        let stmt = match first {
            Tok::Sym(Sym::RBrace) => {
                self.i += 1;
                Stmt::Close
            }
            Tok::Ident(_) if self.peek_at(1) == Some(Tok::Sym(Sym::Assign)) => self.assignment()?,
            Tok::Ident(_) if self.peek_at(1) == Some(Tok::Sym(Sym::Dot)) => self.call(None)?,
            Tok::Ident(word) => {
                let span = self.here();
                self.i += 1;
                self.keyword(word, span)?
            }
            _ => {
                return Err(self.expected("a statement").with_hint(Hint::Text(
                    "a statement starts with a word such as `ram`, `ctrl`, `note` or `NAME =`",
                )))
            }
        };
        self.end()?;
        Ok(stmt)
    }

    fn keyword(&mut self, word: &'a str, span: Span) -> Result<Stmt<'a>, ScriptError> {
        Ok(match word {
            "ram" => self.ram()?,
            "sys" | "sysmem" => self.config(PoolKind::Sys, span)?,
            "ctrl" => self.config(PoolKind::Ctrl, span)?,
            "part" => self.config(PoolKind::Part, span)?,
            "lab" => self.config(PoolKind::Lab, span)?,
            // dyn, tlsf, adm, asm, screen, awtk
            "dyn" => self.config(PoolKind::Dyn, span)?,
            "tlsf" => self.config(PoolKind::Tlsf, span)?,
            "adm" => self.config(PoolKind::Adm, span)?,
            "asm" => self.config(PoolKind::Asm, span)?,
            "screen" => self.config(PoolKind::Screen, span)?,
            "awtk" if self.peek() == Some(Tok::Ident("release")) => self.awtk_release(span)?,
            "awtk" => self.config(PoolKind::Awtk, span)?,
            // pages, vm, tasks, timers
            "pages" => self.config(PoolKind::Pages, span)?,
            "vm" => self.config(PoolKind::Vm, span)?,
            "task" | "behaviour" | "on" | "timers" | "boot" | "send" | "run" | "timer" => {
                Stmt::Kernel(self.kernel_stmt(word, span, None)?)
            }
            "preset" => self.preset()?,
            "seed" => Stmt::Seed(self.expr()?.0),
            "tick" => Stmt::Tick(self.expr()?.0),
            "poke" => self.poke(Width::Byte)?,
            "poke32" => self.poke(Width::Word)?,
            "peek" => self.peek_stmt(None, Width::Byte)?,
            "peek32" => self.peek_stmt(None, Width::Word)?,
            "fill" => self.fill()?,
            "note" => match self.peek() {
                Some(Tok::Str(text)) => {
                    let span = self.here();
                    self.i += 1;
                    Stmt::Note {
                        text,
                        span: Span {
                            start: span.start + 1,
                            end: span.end.saturating_sub(1).max(span.start + 1),
                        },
                    }
                }
                _ => return Err(self.expected("a text in double quotes")),
            },
            "check" => Stmt::Check,
            "expect" => self.expect()?,
            "repeat" => {
                let (count, _) = self.expr()?;
                if !self.eat_sym(Sym::LBrace) {
                    return Err(self.expected("`{` to open the repeated block").with_hint(
                        Hint::Text("write `repeat N {`, the statements, then `}` alone on a line"),
                    ));
                }
                Stmt::Repeat(count)
            }
            _ => {
                let hint = if self.env.pool(word).is_some() {
                    Hint::Text(
                        "operations on a pool are written `pool.verb`, e.g. `ctrl.alloc 100`",
                    )
                } else {
                    suggest(word, STATEMENTS.iter().copied())
                };
                return Err(self
                    .error(span, ErrorKind::UnknownStatement)
                    .with_hint(hint));
            }
        })
    }

    fn assignment(&mut self) -> Result<Stmt<'a>, ScriptError> {
        let var = self.name("a variable name")?;
        if is_reserved(var.name.as_str()) || self.env.pool(var.name.as_str()).is_some() {
            return Err(self.error(var.span, ErrorKind::Reserved(var.name)));
        }
        self.i += 1; // `=`
        match (self.peek(), self.peek_at(1)) {
            (Some(Tok::Ident(_)), Some(Tok::Sym(Sym::Dot))) => self.call(Some(var)),
            (Some(Tok::Ident("peek")), _) => {
                self.i += 1;
                self.peek_stmt(Some(var), Width::Byte)
            }
            (Some(Tok::Ident("peek32")), _) => {
                self.i += 1;
                self.peek_stmt(Some(var), Width::Word)
            }
            // pages, vm, tasks, timers
            (Some(Tok::Ident(word @ ("timer" | "run"))), _) => {
                let span = self.here();
                self.i += 1;
                Ok(Stmt::Kernel(self.kernel_stmt(word, span, Some(var))?))
            }
            _ => Ok(Stmt::Let {
                var,
                value: self.expr()?.0,
            }),
        }
    }

    /// A pool that must exist.
    fn pool(&mut self) -> Result<(Named, PoolKind), ScriptError> {
        let pool = self.name("a pool name")?;
        match self.env.pool(pool.name.as_str()) {
            Some(kind) => Ok((pool, kind)),
            None => {
                let hint = match self.env.similar_pool(pool.name.as_str()) {
                    Some(n) => Hint::DidYouMeanName(n),
                    None => Hint::Text("configure it first, e.g. `ctrl preset mtk`, `part msg 64x16` or `lab heap 4K`"),
                };
                Err(self
                    .error(pool.span, ErrorKind::UnknownPool(pool.name))
                    .with_hint(hint))
            }
        }
    }

    /// `pool.verb args`.
    fn call(&mut self, dest: Option<Named>) -> Result<Stmt<'a>, ScriptError> {
        let (pool, kind) = self.pool()?;
        self.i += 1; // `.`
        let (word, span) = self.ident("an operation such as `alloc` or `free`")?;
        let verbs = kind.spec().verbs;
        let Some(&verb) = verbs.iter().find(|v| v.word() == word) else {
            let hint = suggest(word, verbs.iter().map(|v| v.word()));
            let hint = if hint == Hint::None {
                Hint::Text("pools offer `alloc`, `free` and, where the real API has it, `realloc`")
            } else {
                hint
            };
            return Err(self
                .error(span, ErrorKind::UnknownVerb { pool: pool.name })
                .with_hint(hint));
        };
        // dyn, tlsf, adm, asm, screen, awtk
        if let Some(call) = self.heap_call(kind, verb)? {
            return Ok(Stmt::Call { dest, pool, call });
        }
        // pages, vm, tasks, timers
        if let Some(call) = self.kernel_call(kind, verb)? {
            return Ok(Stmt::Call { dest, pool, call });
        }
        let call = match verb {
            Verb::Alloc => {
                let size = self.expr()?.0;
                let mut owner = Owner::NONE;
                let mut region = None;
                loop {
                    if self.eat_word("owner") {
                        owner = self.owner()?;
                    } else if kind == PoolKind::Sys && self.eat_word("in") {
                        region = Some(self.region()?);
                    } else {
                        break;
                    }
                }
                Call::Alloc {
                    size,
                    owner,
                    region,
                }
            }
            Verb::Free => {
                if self.eat_word("any") {
                    Call::Free(Target::Any)
                } else {
                    Call::Free(Target::Addr(self.expr()?.0))
                }
            }
            Verb::Realloc => {
                let addr = self.expr()?.0;
                let size = self.expr()?.0;
                let owner = if self.eat_word("owner") {
                    self.owner()?
                } else {
                    Owner::NONE
                };
                Call::Realloc { addr, size, owner }
            }
            // dyn, tlsf, adm, asm, screen, awtk, pages, vm, tasks, timers: `heap_call` or
            // `kernel_call` parses the rest.
            _ => {
                return Err(self
                    .error(span, ErrorKind::UnknownVerb { pool: pool.name })
                    .with_hint(Hint::None))
            }
        };
        Ok(Stmt::Call { dest, pool, call })
    }

    fn owner(&mut self) -> Result<Owner, ScriptError> {
        let (value, span) = self.expr()?;
        match u16::try_from(value) {
            Ok(id) if Owner(id) != Owner::NONE => Ok(Owner(id)),
            _ => Err(self
                .error(span, ErrorKind::Expected("an owner id from 0 to 65534"))
                .with_hint(Hint::Text(OWNER_HINT))),
        }
    }

    /// A RAM region that must exist.
    fn region(&mut self) -> Result<Named, ScriptError> {
        let region = self.name("a RAM region name")?;
        if !self.env.region(region.name.as_str()) {
            return Err(self
                .error(region.span, ErrorKind::UnknownRegion(region.name))
                .with_hint(Hint::Text(
                    "declare it first: `ram NAME BASE SIZE [internal|external]`",
                )));
        }
        Ok(region)
    }

    fn ram(&mut self) -> Result<Stmt<'a>, ScriptError> {
        let name = self.name("a region name, as in `ram isram 0x40000000 64K internal`")?;
        if self.env.region(name.name.as_str()) {
            return Err(self.error(name.span, ErrorKind::Duplicate(name.name)));
        }
        let base = self.expr()?.0;
        let size = self.expr()?.0;
        let kind = match self.peek() {
            Some(Tok::Ident(_)) => match self.choice("region kind", &["internal", "external"])? {
                "internal" => RegionKind::Internal,
                _ => RegionKind::External,
            },
            _ => RegionKind::External,
        };
        Ok(Stmt::Ram {
            name,
            base,
            size,
            kind,
        })
    }

    /// A configuration statement for a pool of `kind`.
    fn config(&mut self, kind: PoolKind, keyword: Span) -> Result<Stmt<'a>, ScriptError> {
        if let Some(fixed) = kind.spec().singleton {
            if self.env.pool(fixed).is_some() {
                let name = Name::new(fixed).unwrap_or(Name::lit("pool"));
                return Err(self.error(keyword, ErrorKind::Duplicate(name)));
            }
        }
        let config = match kind {
            PoolKind::Sys => self.sys()?,
            PoolKind::Ctrl => self.ctrl(keyword)?,
            PoolKind::Part => self.part()?,
            PoolKind::Lab => self.lab()?,
            // dyn, tlsf, adm, asm, screen, awtk
            PoolKind::Dyn => self.dyn_config()?,
            PoolKind::Tlsf => self.tlsf_config()?,
            PoolKind::Adm => self.adm_config()?,
            PoolKind::Asm => self.asm_config()?,
            PoolKind::Screen => self.screen_config()?,
            PoolKind::Awtk => self.awtk_config()?,
            // pages, vm, tasks, timers
            PoolKind::Pages => self.pages_config()?,
            PoolKind::Vm => self.vm_config(keyword)?,
        };
        Ok(Stmt::Config(config))
    }

    /// A new pool's name.
    fn new_pool_name(&mut self) -> Result<Named, ScriptError> {
        let name = self.name("a pool name")?;
        let word = name.name.as_str();
        if self.env.pool(word).is_some() {
            return Err(self.error(name.span, ErrorKind::Duplicate(name.name)));
        }
        if is_reserved(word) {
            return Err(self.error(name.span, ErrorKind::Reserved(name.name)));
        }
        Ok(name)
    }

    fn sys(&mut self) -> Result<Config, ScriptError> {
        let mut areas = [None; MAX_AREAS];
        let mut count = 0;
        let mut records = None;
        while let Some(tok) = self.peek() {
            let span = self.here();
            let area = match tok {
                Tok::Ident("records") => {
                    self.i += 1;
                    records = Some(self.expr()?.0);
                    continue;
                }
                Tok::Ident(_) => {
                    let region = self.region()?;
                    let size = match self.peek() {
                        Some(Tok::Num(_) | Tok::Sym(Sym::LParen)) => Some(self.expr()?.0),
                        _ => None,
                    };
                    AreaSpec::Region { region, size }
                }
                Tok::Num(_) | Tok::Sym(Sym::LParen) => {
                    let base = self.expr()?.0;
                    let size = self.expr()?.0;
                    AreaSpec::Range { base, size }
                }
                _ => return Err(self.expected("a RAM region, an address or `records`")),
            };
            let Some(slot) = areas.get_mut(count) else {
                let max = MAX_AREAS as u32;
                return Err(self.error(span, ErrorKind::TooMany { what: "areas", max }));
            };
            *slot = Some(area);
            count += 1;
        }
        Ok(Config::Sys { areas, records })
    }

    fn ctrl(&mut self, keyword: Span) -> Result<Config, ScriptError> {
        if self.env.pool("sys") != Some(PoolKind::Sys) {
            return Err(self
                .error(keyword, ErrorKind::Needs("system memory (`sys`)"))
                .with_hint(Hint::Text("the control buffer's pools are carved from system memory: add a `sys` line before this one")));
        }
        let mut table = [(0, 0); MAX_CLASSES];
        let mut classes = 0;
        match self.choice("control-buffer form", &["table", "preset"])? {
            "preset" => {
                self.choice("preset", &["mtk"])?;
                for (slot, &class) in table.iter_mut().zip(CtrlBuffer::MTK_DEFAULT) {
                    *slot = class;
                    classes += 1;
                }
            }
            _ => {
                while let Some((tok, span)) = self.bump() {
                    let Tok::Pair(size, count) = tok else {
                        self.i -= 1;
                        return Err(self
                            .expected("a class as SIZExCOUNT")
                            .with_hint(Hint::Text("each class is a buffer size and a count, e.g. `ctrl table 32x16 64x8 128x4`")));
                    };
                    let Some(slot) = table.get_mut(classes) else {
                        let max = MAX_CLASSES as u32;
                        return Err(self.error(
                            span,
                            ErrorKind::TooMany {
                                what: "classes",
                                max,
                            },
                        ));
                    };
                    *slot = (size, count);
                    classes += 1;
                }
                if classes == 0 {
                    return Err(self.expected("a class as SIZExCOUNT"));
                }
            }
        }
        Ok(Config::Ctrl { table, classes })
    }

    /// An optional placement clause.
    fn place(&mut self) -> Result<Option<Place>, ScriptError> {
        Ok(if self.eat_word("on") {
            Some(Place::On(self.region()?))
        } else if self.eat_word("at") {
            Some(Place::At(self.expr()?.0))
        } else if self.eat_word("from") {
            let span = self.here();
            self.choice("source of memory", &["sys"])?;
            if self.env.pool("sys") != Some(PoolKind::Sys) {
                return Err(self
                    .error(span, ErrorKind::Needs("system memory (`sys`)"))
                    .with_hint(Hint::Text(PLACE_HINT)));
            }
            Some(Place::FromSys)
        } else {
            None
        })
    }

    fn part(&mut self) -> Result<Config, ScriptError> {
        let name = self.new_pool_name()?;
        let shape = match self.peek() {
            Some(Tok::Pair(block, count)) => {
                self.i += 1;
                PartShape::Count { block, count }
            }
            _ => {
                let size = self.expr()?.0;
                if !self.eat_word("block") {
                    return Err(self
                        .expected("`block SIZE`")
                        .with_hint(Hint::Text("write `part NAME 64x16` (16 blocks of 64 bytes) or `part NAME 2K block 64`")));
                }
                let block = self.expr()?.0;
                PartShape::Fit { size, block }
            }
        };
        let place = self.place()?.unwrap_or(Place::Default);
        Ok(Config::Part { name, shape, place })
    }

    fn lab(&mut self) -> Result<Config, ScriptError> {
        let name = self.new_pool_name()?;
        let size = self.expr()?.0;
        let mut place = Place::Default;
        let mut config = LabConfig::default();
        while let Some(tok) = self.peek() {
            if let Some(p) = self.place()? {
                place = p;
                continue;
            }
            let span = self.here();
            let Tok::Ident(word) = tok else {
                return Err(self.expected("a setting (policy, order, coalesce, header, align)"));
            };
            self.i += 1;
            match word {
                "policy" => {
                    let w = self.choice("fit policy", &["first", "best", "worst", "next"])?;
                    config.fit = FitPolicy::from_word(w).unwrap_or(config.fit);
                }
                "order" => {
                    let w = self.choice(
                        "list order",
                        &["address", "size_asc", "size_desc", "lifo", "fifo"],
                    )?;
                    config.order = ListOrder::from_word(w).unwrap_or(config.order);
                }
                "coalesce" => config.coalesce = self.choice("switch", &["on", "off"])? == "on",
                "header" => config.header = self.expr()?.0,
                "align" => config.align = self.expr()?.0,
                _ => {
                    let settings = [
                        "policy", "order", "coalesce", "header", "align", "on", "at", "from",
                    ];
                    return Err(self
                        .error(span, ErrorKind::UnknownSetting)
                        .with_hint(suggest(word, settings)));
                }
            }
        }
        Ok(Config::Lab {
            name,
            size,
            place,
            config,
        })
    }

    fn poke(&mut self, width: Width) -> Result<Stmt<'a>, ScriptError> {
        let (addr, span) = self.expr()?;
        let (value, value_span) = self.expr()?;
        if width == Width::Byte && value > 0xff {
            return Err(self
                .error(value_span, ErrorKind::Expected("a byte, 0 to 255"))
                .with_hint(Hint::Text(
                    "use `poke32 ADDRESS VALUE` to write a 32-bit word",
                )));
        }
        Ok(Stmt::Poke {
            addr,
            value,
            width,
            span,
        })
    }

    fn peek_stmt(&mut self, dest: Option<Named>, width: Width) -> Result<Stmt<'a>, ScriptError> {
        let (addr, span) = self.expr()?;
        Ok(Stmt::Peek {
            dest,
            addr,
            width,
            span,
        })
    }

    fn fill(&mut self) -> Result<Stmt<'a>, ScriptError> {
        let (addr, span) = self.expr()?;
        let len = self.expr()?.0;
        let (byte, byte_span) = self.expr()?;
        let byte = u8::try_from(byte)
            .map_err(|_| self.error(byte_span, ErrorKind::Expected("a byte, 0 to 255")))?;
        Ok(Stmt::Fill {
            addr,
            len,
            byte,
            span,
        })
    }

    fn expect(&mut self) -> Result<Stmt<'a>, ScriptError> {
        let start = self.here();
        let expect = self.expectation()?;
        let end = self
            .toks
            .get(self.i.saturating_sub(1))
            .map_or(start.end, |t| t.end);
        let span = Span {
            start: start.start,
            end: end.max(start.start),
        };
        Ok(Stmt::Expect { expect, span })
    }

    fn expectation(&mut self) -> Result<Expect, ScriptError> {
        if self.eat_word("fault") {
            let span = self.here();
            let (word, _) = self.ident("a fault kind such as OutOfMemory, or `none`")?;
            if word == "none" {
                return Ok(Expect::Fault(None));
            }
            return match FAULT_KINDS.iter().find(|k| **k == word) {
                Some(kind) => Ok(Expect::Fault(Some(kind))),
                None => Err(self
                    .error(span, ErrorKind::UnknownWord("fault kind"))
                    .with_hint(suggest(word, FAULT_KINDS.iter().copied()))),
            };
        }
        // dyn, tlsf, adm, asm, screen, awtk
        if let Some(expect) = self.asm_expectation()? {
            return Ok(expect);
        }
        let (left, _) = self.expr()?;
        let cmp = match self.peek() {
            Some(Tok::Sym(Sym::Eq)) => Cmp::Eq,
            Some(Tok::Sym(Sym::Ne)) => Cmp::Ne,
            Some(Tok::Sym(Sym::Lt)) => Cmp::Lt,
            Some(Tok::Sym(Sym::Le)) => Cmp::Le,
            Some(Tok::Sym(Sym::Gt)) => Cmp::Gt,
            Some(Tok::Sym(Sym::Ge)) => Cmp::Ge,
            Some(Tok::Sym(Sym::Assign)) => {
                return Err(self
                    .expected("a comparison")
                    .with_hint(Hint::DidYouMean("==")))
            }
            _ => {
                return Err(self
                    .expected("a comparison: == != < <= > >=")
                    .with_hint(Hint::Text("write `expect A == B`, or `expect fault KIND`")))
            }
        };
        self.i += 1;
        let (right, _) = self.expr()?;
        Ok(Expect::Compare { left, cmp, right })
    }

    // ---- expressions ----

    /// `sum := product (('+' | '-') product)*`.
    fn expr(&mut self) -> Result<(u32, Span), ScriptError> {
        self.sum(0)
    }

    fn arith(&self, span: Span, result: Option<u32>, wrapped: u32) -> Result<u32, ScriptError> {
        match result {
            Some(v) => Ok(v),
            None if self.env.dry() => Ok(wrapped),
            None => Err(self.error(span, ErrorKind::Overflow).with_hint(Hint::Text(
                "values are unsigned 32-bit numbers, 0 to 0xffffffff",
            ))),
        }
    }

    fn sum(&mut self, depth: u32) -> Result<(u32, Span), ScriptError> {
        let (mut value, mut span) = self.product(depth)?;
        loop {
            let op = match self.peek() {
                Some(Tok::Sym(s @ (Sym::Plus | Sym::Minus))) => s,
                _ => return Ok((value, span)),
            };
            self.i += 1;
            let (right, right_span) = self.product(depth)?;
            span = span.to(right_span);
            value = if op == Sym::Plus {
                self.arith(span, value.checked_add(right), value.wrapping_add(right))?
            } else {
                self.arith(span, value.checked_sub(right), value.wrapping_sub(right))?
            };
        }
    }

    /// `product := atom ('*' atom)*`.
    fn product(&mut self, depth: u32) -> Result<(u32, Span), ScriptError> {
        let (mut value, mut span) = self.atom(depth)?;
        while self.eat_sym(Sym::Star) {
            let (right, right_span) = self.atom(depth)?;
            span = span.to(right_span);
            value = self.arith(span, value.checked_mul(right), value.wrapping_mul(right))?;
        }
        Ok((value, span))
    }

    /// `atom := NUMBER | NAME | FUNCTION '(' args ')' | '(' sum ')'`.
    fn atom(&mut self, depth: u32) -> Result<(u32, Span), ScriptError> {
        let span = self.here();
        if depth > MAX_NESTING {
            return Err(self.error(span, ErrorKind::TooDeep));
        }
        match self.peek() {
            Some(Tok::Num(n)) => {
                self.i += 1;
                Ok((n, span))
            }
            Some(Tok::Sym(Sym::LParen)) => {
                self.i += 1;
                let (value, _) = self.sum(depth + 1)?;
                let close = self.here();
                if !self.eat_sym(Sym::RParen) {
                    return Err(self.expected("`)`"));
                }
                Ok((value, span.to(close)))
            }
            Some(Tok::Ident(word)) if self.peek_at(1) == Some(Tok::Sym(Sym::LParen)) => {
                self.i += 2;
                self.function(word, span, depth)
            }
            Some(Tok::Ident(word)) => {
                self.i += 1;
                match self.env.var(word) {
                    Some(v) => Ok((v, span)),
                    None => {
                        let name = Name::new(word).unwrap_or(Name::lit("name"));
                        let hint = match self.env.similar_var(word) {
                            Some(n) => Hint::DidYouMeanName(n),
                            None => Hint::Text(
                                "assign it on an earlier line first, e.g. `b = ctrl.alloc 100`",
                            ),
                        };
                        Err(self
                            .error(span, ErrorKind::UnknownVariable(name))
                            .with_hint(hint))
                    }
                }
            }
            Some(Tok::Pair(..)) => Err(self.expected("a number").with_hint(Hint::Text(
                "`AxB` pairs only appear in `ctrl table` and `part`",
            ))),
            _ => Err(self.expected("a number or a name")),
        }
    }

    /// A function call after its `(`: `rand(lo, hi)` or a pool figure `used(pool)`.
    fn function(
        &mut self,
        word: &'a str,
        name_span: Span,
        depth: u32,
    ) -> Result<(u32, Span), ScriptError> {
        let value = if word == "rand" {
            let (lo, _) = self.sum(depth + 1)?;
            if !self.eat_sym(Sym::Comma) {
                return Err(self.expected("`,`").with_hint(Hint::Text(
                    "`rand(LOW, HIGH)` gives a number from LOW to HIGH",
                )));
            }
            let (hi, _) = self.sum(depth + 1)?;
            self.env.rand(lo, hi)
        } else if let Some(&(_, query)) = QUERIES.iter().find(|(w, _)| *w == word) {
            let (pool, _) = self.pool()?;
            // dyn, tlsf, adm, asm, screen, awtk
            let query = self.query_args(query, depth)?;
            match self.env.query(query, pool.name) {
                Ok(v) => v,
                Err(kind) => return Err(self.error(name_span.to(pool.span), kind)),
            }
        } else if KERNEL_FUNCTIONS.contains(&word) {
            // pages, vm, tasks, timers
            let (figure, span) = self.figure_args(word, depth)?;
            match self.env.figure(figure) {
                Ok(v) => v,
                Err(kind) => return Err(self.error(name_span.to(span), kind)),
            }
        } else {
            return Err(self
                .error(name_span, ErrorKind::UnknownFunction)
                .with_hint(suggest(word, FUNCTIONS.iter().copied())));
        };
        let close = self.here();
        if !self.eat_sym(Sym::RParen) {
            return Err(self.expected("`)`"));
        }
        Ok((value, name_span.to(close)))
    }
}

/// A "did you mean" hint, or none.
fn suggest(word: &str, candidates: impl IntoIterator<Item = &'static str>) -> Hint {
    closest(word, candidates).map_or(Hint::None, Hint::DidYouMean)
}
