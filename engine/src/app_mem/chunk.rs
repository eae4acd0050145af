//! The chunk app_mem.c wraps around every ADM block it hands out, and the singly linked
//! list of live chunks. The app pool and the screen pool share this code, as
//! `applib_mem_ap_alloc` and `applib_mem_screen_alloc` share the chunk format.
//!
//! ```text
//! chunk header at c (the ADM payload address)
//!   +0   owner_id       app id (app pool) or screen id (screen pool)
//!   +4   chunk_size     the request rounded up to 4
//!   +8   guard_pattern  HEADER_PATTERN1 (0xaaaaaaaa) live, HEADER_PATTERN2 (0xbbbbbbbb) released
//!   +12  next           the chunk allocated before this one, 0 = end of list
//! payload at c + 16     chunk_size bytes; the address handed out
//! footer at c + 16 + chunk_size
//!   +0   guard_pattern  FOOTER_PATTERN1 (0xcccccccc) live, FOOTER_PATTERN2 (0xdddddddd) released
//! ```
//!
//! Invariants: a chunk is on the list iff its ADM block is live; the list ends after
//! exactly `count` chunks; every listed chunk has both live patterns and
//! `chunk_size + 20` equals its ADM block's requested size.

use crate::adm::Adm;
use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::error::AllocError;
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::Field;

/// Bytes of a chunk header.
pub const CHUNK_HEADER: u32 = 16;
/// Bytes of a chunk footer.
pub const CHUNK_FOOTER: u32 = 4;
/// `APPLIB_MEM_HEADER_PATTERN1`: the header guard of an allocated chunk.
pub const HEADER_PATTERN1: u32 = 0xaaaa_aaaa;
/// `APPLIB_MEM_HEADER_PATTERN2`: the header guard of a released chunk.
pub const HEADER_PATTERN2: u32 = 0xbbbb_bbbb;
/// `APPLIB_MEM_FOOTER_PATTERN1`: the footer guard of an allocated chunk.
pub const FOOTER_PATTERN1: u32 = 0xcccc_cccc;
/// `APPLIB_MEM_FOOTER_PATTERN2`: the footer guard of a released chunk.
pub const FOOTER_PATTERN2: u32 = 0xdddd_dddd;

const C_OWNER: u32 = 0;
const C_SIZE: u32 = 4;
const C_GUARD: u32 = 8;
const C_NEXT: u32 = 12;

fn rd<S: Storage>(ram: &Ram<S>, addr: Addr) -> Result<u32, AllocError> {
    Ok(ram.read_u32(addr)?)
}

/// A live chunk found on the list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Chunk {
    /// The chunk header (the ADM payload).
    pub header: Addr,
    /// The word that points at it: the list head or the previous chunk's `next`.
    pub link_at: Addr,
    pub owner: u32,
    pub chunk_size: u32,
}

impl Chunk {
    pub fn payload(&self) -> Addr {
        self.header.wrapping_add(CHUNK_HEADER)
    }
    pub fn footer(&self) -> Addr {
        self.payload().wrapping_add(self.chunk_size)
    }
}

/// The roots of one chunk list, kept in its pool's context block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunks {
    /// The name the chunk layer's events carry.
    pub source: Name,
    /// The list head word (`app_head.next`).
    pub head: Addr,
    /// The live chunk count word (`app_alloc_count`).
    pub count: Addr,
}

impl Chunks {
    fn link_field(&self, link_at: Addr) -> Field {
        if link_at == self.head {
            Field::Head
        } else {
            Field::Next
        }
    }

    /// Wraps an ADM block of `size` rounded to 4, plus header and footer, and pushes it
    /// on the list head; returns the payload address and the chunk size.
    pub fn alloc<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        adm: &mut Adm,
        size: u32,
        owner: Owner,
    ) -> Result<(Addr, u32), AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        let extra = CHUNK_HEADER + CHUNK_FOOTER;
        let chunk = (size as u64 + 3) & !3;
        let total = chunk + extra as u64;
        let area = adm.area();
        let max = (area.1 - area.0).saturating_sub(adm.block_overhead() + extra) & !3;
        if total > u32::MAX as u64 {
            return Err(AllocError::TooLarge {
                requested: size,
                max,
            });
        }
        let c = adm
            .alloc_impl(cx, total as u32, owner)
            .map_err(|e| match e {
                AllocError::OutOfMemory { largest_free, .. } => AllocError::OutOfMemory {
                    requested: size,
                    largest_free: largest_free.saturating_sub(extra) & !3,
                },
                AllocError::TooLarge { .. } => AllocError::TooLarge {
                    requested: size,
                    max,
                },
                other => other,
            })?;
        let chunk = chunk as u32;
        let s = self.source;
        let p = c.wrapping_add(CHUNK_HEADER);
        cx.set_word(s, c.wrapping_add(C_OWNER), Field::Owner, owner.0 as u32)?;
        cx.set_word(s, c.wrapping_add(C_SIZE), Field::Size, chunk)?;
        cx.set_word(s, c.wrapping_add(C_GUARD), Field::Guard, HEADER_PATTERN1)?;
        cx.set_word(s, p.wrapping_add(chunk), Field::Guard, FOOTER_PATTERN1)?;
        let head = rd(cx.ram, self.head)?;
        cx.set_word(s, c.wrapping_add(C_NEXT), Field::Next, head)?;
        cx.set_word(s, self.head, Field::Head, c)?;
        let count = rd(cx.ram, self.count)?;
        cx.set_word(s, self.count, Field::Count, count.wrapping_add(1))?;
        Ok((p, chunk))
    }

    /// Finds the live chunk whose payload is `p` and checks it as
    /// `applib_mem_ap_free` does: header guard, chunk size, footer guard, then the ADM
    /// block under it. Changes nothing.
    pub fn find<S: Storage>(&self, ram: &Ram<S>, adm: &Adm, p: Addr) -> Result<Chunk, AllocError> {
        if !p.is_multiple_of(4) || p < CHUNK_HEADER {
            return Err(AllocError::InvalidPointer { addr: p });
        }
        let c = p - CHUNK_HEADER;
        let count = rd(ram, self.count)?;
        let mut link_at = self.head;
        let mut node = rd(ram, link_at)?;
        let mut steps = 0u32;
        while node != 0 && node != c {
            if steps >= count {
                return Err(AllocError::Inconsistent {
                    at: self.head,
                    rule: "the chunk list is longer than its count (a cycle?)",
                });
            }
            steps += 1;
            link_at = node.wrapping_add(C_NEXT);
            node = rd(ram, link_at)?;
        }
        if node == 0 {
            // Not a live chunk: a released one still shows the second pattern.
            return Err(match ram.read_u32(c.wrapping_add(C_GUARD)) {
                Ok(HEADER_PATTERN2) => AllocError::DoubleFree { addr: p },
                _ => AllocError::InvalidPointer { addr: p },
            });
        }
        self.check_chunk(ram, adm, c, link_at, true)
    }

    /// Checks the listed chunk at `c`: both guards and its size against the ADM block;
    /// `deep` also has the ADM find the block by walking and check its guard gaps (a
    /// full `check()` does that for all blocks at once).
    fn check_chunk<S: Storage>(
        &self,
        ram: &Ram<S>,
        adm: &Adm,
        c: Addr,
        link_at: Addr,
        deep: bool,
    ) -> Result<Chunk, AllocError> {
        let guard_at = c.wrapping_add(C_GUARD);
        let guard = rd(ram, guard_at)?;
        if guard != HEADER_PATTERN1 {
            return Err(AllocError::Corrupted {
                at: guard_at,
                field: Field::Guard,
                expected: HEADER_PATTERN1,
                found: guard,
            });
        }
        let requested = match adm.block_info(ram, c) {
            Ok(info) => info.requested,
            // The ADM header is damaged: let the ADM say how.
            Err(_) => adm.verify_live(ram, c)?.requested,
        };
        let extra = CHUNK_HEADER + CHUNK_FOOTER;
        let size_at = c.wrapping_add(C_SIZE);
        let chunk_size = rd(ram, size_at)?;
        if chunk_size.checked_add(extra) != Some(requested) || !chunk_size.is_multiple_of(4) {
            return Err(AllocError::Corrupted {
                at: size_at,
                field: Field::Size,
                expected: requested.wrapping_sub(extra),
                found: chunk_size,
            });
        }
        let chunk = Chunk {
            header: c,
            link_at,
            owner: rd(ram, c.wrapping_add(C_OWNER))?,
            chunk_size,
        };
        let footer = rd(ram, chunk.footer())?;
        if footer != FOOTER_PATTERN1 {
            return Err(AllocError::Corrupted {
                at: chunk.footer(),
                field: Field::Guard,
                expected: FOOTER_PATTERN1,
                found: footer,
            });
        }
        if deep {
            adm.verify_live(ram, c)?;
        }
        Ok(chunk)
    }

    /// `applib_mem_ap_free_int` in normal mode: checks both guards, unlinks the chunk,
    /// rewrites both guards with the second patterns and frees the ADM block.
    pub fn free<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        adm: &mut Adm,
        p: Addr,
    ) -> Result<Chunk, AllocError> {
        let chunk = self.find(cx.ram, adm, p)?;
        let s = self.source;
        let next = rd(cx.ram, chunk.header.wrapping_add(C_NEXT))?;
        cx.set_word(s, chunk.link_at, self.link_field(chunk.link_at), next)?;
        let guard_at = chunk.header.wrapping_add(C_GUARD);
        cx.set_word(s, guard_at, Field::Guard, HEADER_PATTERN2)?;
        cx.set_word(s, chunk.footer(), Field::Guard, FOOTER_PATTERN2)?;
        adm.free_impl(cx, chunk.header)?;
        let count = rd(cx.ram, self.count)?;
        cx.set_word(s, self.count, Field::Count, count.wrapping_sub(1))?;
        Ok(chunk)
    }

    /// Visits the listed chunks from the head (newest first), checking each.
    pub fn each<S: Storage>(
        &self,
        ram: &Ram<S>,
        adm: &Adm,
        visit: &mut dyn FnMut(&Chunk) -> Result<(), AllocError>,
    ) -> Result<u32, AllocError> {
        let count = rd(ram, self.count)?;
        let mut link_at = self.head;
        let mut node = rd(ram, link_at)?;
        let mut steps = 0u32;
        while node != 0 {
            if steps >= count {
                return Err(AllocError::Inconsistent {
                    at: self.head,
                    rule: "the chunk list is longer than its count (a cycle?)",
                });
            }
            steps += 1;
            let chunk = self.check_chunk(ram, adm, node, link_at, false)?;
            visit(&chunk)?;
            link_at = node.wrapping_add(C_NEXT);
            node = rd(ram, link_at)?;
        }
        Ok(steps)
    }

    /// The list against its count and against the ADM's live blocks (the same blocks:
    /// same number, same sum and xor of addresses), every chunk checked; `owner_ok`
    /// says whether an owner id is acceptable.
    pub fn check<S: Storage>(
        &self,
        ram: &Ram<S>,
        adm: &Adm,
        owner_ok: &dyn Fn(u32) -> bool,
    ) -> Result<(), AllocError> {
        adm.check(ram)?;
        let (mut sum, mut xor) = (0u64, 0u32);
        let listed = self.each(ram, adm, &mut |chunk| {
            if !owner_ok(chunk.owner) {
                return Err(AllocError::Inconsistent {
                    at: chunk.header.wrapping_add(C_OWNER),
                    rule: "a chunk's owner is not a registered id",
                });
            }
            sum += chunk.header as u64;
            xor ^= chunk.header;
            Ok(())
        })?;
        let count = rd(ram, self.count)?;
        if listed != count {
            return Err(AllocError::Corrupted {
                at: self.count,
                field: Field::Count,
                expected: listed,
                found: count,
            });
        }
        let (mut live, mut live_sum, mut live_xor) = (0u32, 0u64, 0u32);
        adm.live_blocks(ram, &mut |c| {
            live += 1;
            live_sum += c as u64;
            live_xor ^= c;
        })?;
        if live != listed || live_sum != sum || live_xor != xor {
            return Err(AllocError::Inconsistent {
                at: self.head,
                rule: "the chunk list does not hold exactly the ADM's live blocks",
            });
        }
        Ok(())
    }

    /// The ADM's spans with each live ADM payload opened up into chunk header, payload
    /// (the rounded chunk), and footer; every span of a chunk carries its payload
    /// address as `block`.
    pub fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        adm: &Adm,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        let mut failure = None;
        adm.walk(ram, &mut |span| {
            if failure.is_some() {
                return;
            }
            if span.kind == BlockKind::Free || span.block == adm.base() {
                visit(span);
                return;
            }
            let p = span.block.wrapping_add(CHUNK_HEADER);
            if span.kind != BlockKind::Payload {
                visit(Block { block: p, ..span });
                return;
            }
            let c = span.addr;
            let chunk_size = match rd(ram, c.wrapping_add(C_SIZE)) {
                Ok(size) => size,
                Err(e) => {
                    failure = Some(e);
                    return;
                }
            };
            if chunk_size.checked_add(CHUNK_HEADER + CHUNK_FOOTER) != Some(span.len) {
                failure = Some(AllocError::Inconsistent {
                    at: c.wrapping_add(C_SIZE),
                    rule: "a chunk's size does not match its ADM block",
                });
                return;
            }
            let part = |addr, len, kind| Block {
                addr,
                len,
                kind,
                block: p,
                owner: span.owner,
            };
            visit(part(c, CHUNK_HEADER, BlockKind::Header));
            visit(part(p, chunk_size, BlockKind::Payload));
            visit(part(
                p.wrapping_add(chunk_size),
                CHUNK_FOOTER,
                BlockKind::Guard,
            ));
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
