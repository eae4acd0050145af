//! What the machine needs to walk a script without copying it: lines as byte offsets into
//! the source, the extent of `repeat` blocks, the variables table, and the static check
//! that runs over the whole text before the first step.

use crate::name::Name;
use crate::ram::MAX_REGIONS;

use super::ast::{Config, PoolKind, Query, Stmt};
use super::errors::{closest, source_line, ErrorKind, Hint, ScriptError};
use super::kernel::{Figure, KernelNames, KernelStmt};
use super::lexer::{lex, Sym, Tok};
use super::parser::{parse_line, Env};

/// The most variables a script may name.
pub const MAX_VARS: usize = 64;
/// The most pools a machine may hold.
pub const MAX_POOLS: usize = 8;
/// How deep `repeat` blocks may nest.
pub const MAX_DEPTH: usize = 4;

/// Line `line`'s text starting at byte `offset` of `source`, and the offset of the next
/// line. Lines are split at `\n` and lose a trailing `\r`; a final `\n` starts no line (as
/// `str::lines`).
pub fn line_at(source: &str, offset: usize) -> Option<(&str, usize)> {
    let rest = source.get(offset..).filter(|r| !r.is_empty())?;
    let (text, next) = match rest.find('\n') {
        Some(nl) => (rest.get(..nl).unwrap_or(""), offset + nl + 1),
        None => (rest, source.len()),
    };
    Some((text.strip_suffix('\r').unwrap_or(text), next))
}

/// How a line shapes blocks, judged from its tokens alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Blank,
    /// Ends with `{`.
    Open,
    /// Starts with `}`.
    Close,
    Statement,
}

fn shape(text: &str) -> Shape {
    let Ok(tokens) = lex(text, 0) else {
        return Shape::Statement;
    };
    let toks = tokens.as_slice();
    match (toks.first().map(|t| t.tok), toks.last().map(|t| t.tok)) {
        (None, _) => Shape::Blank,
        (Some(Tok::Sym(Sym::RBrace)), _) => Shape::Close,
        (_, Some(Tok::Sym(Sym::LBrace))) => Shape::Open,
        _ => Shape::Statement,
    }
}

/// The extent of a `repeat` block whose body starts at byte `body` (line `body_line`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockEnd {
    /// The offset and line just after the closing `}` line.
    pub after: usize,
    pub after_line: u32,
    /// True iff the body holds at least one statement (a nested `repeat` counts).
    pub has_statement: bool,
}

/// Finds the `}` that closes the block whose body starts at `body`; `None` when the
/// block is never closed.
pub fn block_end(source: &str, body: usize, body_line: u32) -> Option<BlockEnd> {
    let mut depth = 0u32;
    let mut has_statement = false;
    let mut offset = body;
    let mut line = body_line;
    while let Some((text, next)) = line_at(source, offset) {
        match shape(text) {
            Shape::Blank => {}
            Shape::Open => {
                depth += 1;
                has_statement = true;
            }
            Shape::Close if depth == 0 => {
                return Some(BlockEnd {
                    after: next,
                    after_line: line.saturating_add(1),
                    has_statement,
                })
            }
            Shape::Close => depth -= 1,
            Shape::Statement => has_statement = true,
        }
        offset = next;
        line = line.saturating_add(1);
    }
    None
}

/// The variables: up to [`MAX_VARS`] names with 32-bit values, in order of first
/// assignment.
#[derive(Clone, Copy, Debug)]
pub struct Vars {
    entries: [(Name, u32); MAX_VARS],
    len: usize,
}

impl Default for Vars {
    fn default() -> Vars {
        Vars {
            entries: [(Name::lit("_"), 0); MAX_VARS],
            len: 0,
        }
    }
}

impl Vars {
    pub fn iter(&self) -> impl Iterator<Item = (Name, u32)> + '_ {
        self.entries.iter().take(self.len).copied()
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v)
    }

    /// Sets `name` to `value`, adding it if new.
    pub fn set(&mut self, name: Name, value: u32) -> Result<(), ErrorKind> {
        let len = self.len.min(MAX_VARS);
        if let Some(entry) = self.entries[..len].iter_mut().find(|(n, _)| *n == name) {
            entry.1 = value;
            return Ok(());
        }
        match self.entries.get_mut(len) {
            Some(slot) => {
                *slot = (name, value);
                self.len = len + 1;
                Ok(())
            }
            None => Err(ErrorKind::TooMany {
                what: "variables",
                max: MAX_VARS as u32,
            }),
        }
    }

    /// A variable whose name is close to `word`.
    pub fn similar(&self, word: &str) -> Option<Name> {
        let found = closest(
            word,
            self.entries[..self.len.min(MAX_VARS)]
                .iter()
                .map(|(n, _)| n.as_str()),
        )?;
        Name::new(found).ok()
    }
}

/// What the static check knows: the names defined so far, no values.
struct StaticEnv {
    vars: Vars,
    pools: [(Name, PoolKind); MAX_POOLS],
    pool_count: usize,
    regions: [Name; MAX_REGIONS],
    region_count: usize,
    // pages, vm, tasks, timers
    kernel: KernelNames,
}

impl StaticEnv {
    fn pool_list(&self) -> &[(Name, PoolKind)] {
        self.pools.get(..self.pool_count).unwrap_or(&[])
    }
}

impl Env for StaticEnv {
    fn var(&self, name: &str) -> Option<u32> {
        self.vars.get(name)
    }

    fn similar_var(&self, word: &str) -> Option<Name> {
        self.vars.similar(word)
    }

    fn pool(&self, name: &str) -> Option<PoolKind> {
        if name == "vm" && self.kernel.vm {
            return Some(PoolKind::Vm);
        }
        self.pool_list()
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, k)| *k)
    }

    fn similar_pool(&self, word: &str) -> Option<Name> {
        let found = closest(word, self.pool_list().iter().map(|(n, _)| n.as_str()))?;
        Name::new(found).ok()
    }

    fn region(&self, name: &str) -> bool {
        self.regions
            .iter()
            .take(self.region_count)
            .any(|r| r.as_str() == name)
    }

    fn query(&mut self, _query: Query, _pool: Name) -> Result<u32, ErrorKind> {
        Ok(0)
    }

    fn rand(&mut self, lo: u32, _hi: u32) -> u32 {
        lo
    }

    fn dry(&self) -> bool {
        true
    }

    // pages, vm, tasks, timers
    fn task(&self, name: &str) -> bool {
        self.kernel.task(name)
    }

    fn behaviour(&self, name: &str) -> bool {
        self.kernel.behaviour(name)
    }

    fn booted(&self) -> bool {
        self.kernel.booted
    }

    fn figure(&mut self, _figure: Figure) -> Result<u32, ErrorKind> {
        Ok(0)
    }
}

/// What the static check learned about a script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptInfo {
    /// Lines of text.
    pub lines: u32,
    /// Lines that are statements (steps when run once; `repeat` bodies run more).
    pub statements: u32,
    /// The sum of every `ram` line's size: the storage the machine needs.
    pub ram_bytes: u64,
}

/// Checks the whole script before it runs: every line parses, every name is defined on an
/// earlier line (variables assigned, pools and regions configured), capacities are
/// respected and `repeat` blocks are closed. Values are stand-ins, so what depends on
/// them (a fault, a failed expectation, an access outside RAM) is found only by running.
pub fn check(source: &str) -> Result<ScriptInfo, ScriptError> {
    let mut env = StaticEnv {
        vars: Vars::default(),
        pools: [(Name::lit("_"), PoolKind::Sys); MAX_POOLS],
        pool_count: 0,
        regions: [Name::lit("_"); MAX_REGIONS],
        region_count: 0,
        kernel: KernelNames::default(),
    };
    let mut info = ScriptInfo::default();
    let mut open = [0u32; MAX_DEPTH];
    let mut depth = 0;
    let mut offset = 0;
    let mut line = 0u32;
    while let Some((text, next)) = line_at(source, offset) {
        offset = next;
        line = line.saturating_add(1);
        let stmt = parse_line(text, line, &mut env)?;
        let whole = |kind| {
            let start = text.len() - text.trim_start().len();
            ScriptError::at(text, line, start, text.trim_end().len(), kind)
        };
        if stmt.is_step() {
            info.statements = info.statements.saturating_add(1);
        }
        match stmt {
            Stmt::Repeat(_) => {
                let Some(slot) = open.get_mut(depth) else {
                    let max = MAX_DEPTH as u32;
                    return Err(whole(ErrorKind::TooMany {
                        what: "nested repeat blocks",
                        max,
                    }));
                };
                *slot = line;
                depth += 1;
            }
            Stmt::Close => {
                if depth == 0 {
                    return Err(whole(ErrorKind::UnmatchedClose));
                }
                depth -= 1;
            }
            // A preset defines what its lines define.
            Stmt::Preset { name, span } => {
                let lines = super::ast::preset_text(name).unwrap_or("");
                let at = |e: ScriptError| {
                    ScriptError::at(text, line, span.start, span.end, e.kind).with_hint(e.hint)
                };
                let mut sub = 0;
                while let Some((sub_text, next)) = line_at(lines, sub) {
                    sub = next;
                    let sub_stmt = parse_line(sub_text, line, &mut env).map_err(at)?;
                    define(&mut env, &mut info, &sub_stmt, sub_text, line).map_err(at)?;
                }
            }
            other => define(&mut env, &mut info, &other, text, line)?,
        }
    }
    info.lines = line;
    if depth > 0 {
        let at = open.get(depth - 1).copied().unwrap_or(1);
        let text = source_line(source, at).unwrap_or("");
        let start = text.len() - text.trim_start().len();
        return Err(ScriptError::at(
            text,
            at,
            start,
            text.trim_end().len(),
            ErrorKind::UnclosedBlock,
        )
        .with_hint(Hint::Text("close it with `}` alone on a line")));
    }
    Ok(info)
}

/// Records what a statement defines (a region, a pool, variables, tasks and behaviours)
/// in the static check's environment.
fn define(
    env: &mut StaticEnv,
    info: &mut ScriptInfo,
    stmt: &Stmt<'_>,
    text: &str,
    line: u32,
) -> Result<(), ScriptError> {
    let whole = |kind| {
        let start = text.len() - text.trim_start().len();
        ScriptError::at(text, line, start, text.trim_end().len(), kind)
    };
    match *stmt {
        Stmt::Ram { name, size, .. } => {
            let Some(slot) = env.regions.get_mut(env.region_count) else {
                let max = MAX_REGIONS as u32;
                let kind = ErrorKind::TooMany {
                    what: "RAM regions",
                    max,
                };
                return Err(ScriptError::at(
                    text,
                    line,
                    name.span.start,
                    name.span.end,
                    kind,
                ));
            };
            *slot = name.name;
            env.region_count += 1;
            info.ram_bytes = info.ram_bytes.saturating_add(size as u64);
        }
        // pages, vm, tasks, timers: `vm` is kept beside the pools.
        Stmt::Config(Config::Vm(_)) => env.kernel.vm = true,
        Stmt::Config(config) => {
            let Some(slot) = env.pools.get_mut(env.pool_count) else {
                let max = MAX_POOLS as u32;
                return Err(whole(ErrorKind::TooMany { what: "pools", max }));
            };
            *slot = (config.pool_name(), config.kind());
            env.pool_count += 1;
            // dyn, tlsf, adm, asm, screen, awtk: the app names of `asm pool ... apps`.
            for (var, _) in config.vars() {
                env.vars.set(var.name, 0).map_err(|kind| {
                    ScriptError::at(text, line, var.span.start, var.span.end, kind)
                })?;
            }
        }
        Stmt::Let { var, .. }
        | Stmt::Call {
            dest: Some(var), ..
        }
        | Stmt::Peek {
            dest: Some(var), ..
        } => {
            if let Err(kind) = env.vars.set(var.name, 0) {
                return Err(ScriptError::at(
                    text,
                    line,
                    var.span.start,
                    var.span.end,
                    kind,
                ));
            }
        }
        // pages, vm, tasks, timers
        Stmt::Kernel(kernel) => {
            if let Err((span, kind)) = env.kernel.define(&kernel) {
                return Err(ScriptError::at(text, line, span.start, span.end, kind));
            }
            // Without system memory, `boot` sets it up at the first free address.
            let needs_sys = env.pool("sys").is_none();
            if matches!(kernel, KernelStmt::Boot { .. }) && needs_sys {
                let Some(slot) = env.pools.get_mut(env.pool_count) else {
                    let max = MAX_POOLS as u32;
                    return Err(whole(ErrorKind::TooMany { what: "pools", max }));
                };
                *slot = (Name::lit("sys"), PoolKind::Sys);
                env.pool_count += 1;
            }
            if let Some(var) = kernel.dest() {
                env.vars.set(var.name, 0).map_err(|kind| {
                    ScriptError::at(text, line, var.span.start, var.span.end, kind)
                })?;
            }
        }
        _ => {}
    }
    Ok(())
}
