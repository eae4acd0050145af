//! The fixed-block peers: a textbook free-list pool on real memory, and a set of them as
//! size classes.
//!
//! [`FixedPool`] is the pool every operating-systems textbook shows: a buffer cut into
//! equal blocks, the free ones threaded on a singly linked list through their own first
//! word; allocation pops the head, free pushes the block back. There is no header, no
//! magic word and no count: the peer is the least an implementation can do, so it is the
//! bar memplay's partition pool (a header with a magic word, a size and an owner in RAM)
//! is measured against. The only check is that a freed pointer lies on a block boundary
//! inside the pool, which a pool needs anyway to say which pool a block belongs to.
//!
//! [`ClassPools`] is the same idea as MTK's control buffer: one pool per size class, a
//! request served by the smallest class that fits, falling through to larger classes when
//! a class is empty.

use std::ptr::NonNull;

/// Blocks are multiples of this many bytes, so every block can hold the link.
const WORD: usize = std::mem::size_of::<usize>();

/// A textbook fixed-block pool over a `Vec`. See the module documentation.
pub struct FixedPool {
    /// The blocks; `u64` elements make the buffer 8-aligned.
    buffer: Vec<u64>,
    /// Bytes per block: the configured size rounded up to a multiple of [`WORD`].
    block: usize,
    /// Blocks in the pool.
    count: usize,
    /// The first free block, null when none is free. Each free block's first word is the
    /// next free block (null at the tail); the list holds exactly the free blocks.
    head: *mut u8,
}

impl FixedPool {
    /// A pool of `count` blocks of at least `block_size` bytes, all free, threaded in
    /// address order.
    pub fn new(block_size: usize, count: usize) -> FixedPool {
        let block = block_size.max(1).div_ceil(WORD) * WORD;
        let words = (block * count).div_ceil(8);
        let mut pool = FixedPool {
            buffer: vec![0u64; words],
            block,
            count,
            head: std::ptr::null_mut(),
        };
        let base = pool.buffer.as_mut_ptr().cast::<u8>();
        for k in (0..count).rev() {
            // Safety: block `k` lies inside the buffer (`k * block + WORD <= words * 8`),
            // and its start is `WORD`-aligned because the buffer is 8-aligned and `block`
            // is a multiple of `WORD`.
            unsafe {
                let at = base.add(k * block);
                at.cast::<*mut u8>().write(pool.head);
                pool.head = at;
            }
        }
        pool
    }

    /// A pool of as many `block_size` blocks as fit in `bytes`.
    pub fn with_bytes(block_size: usize, bytes: usize) -> FixedPool {
        let block = block_size.max(1).div_ceil(WORD) * WORD;
        FixedPool::new(block_size, bytes / block)
    }

    /// Bytes per block.
    pub fn block_size(&self) -> usize {
        self.block
    }

    /// Bytes the blocks take in all.
    pub fn bytes(&self) -> usize {
        self.block * self.count
    }

    fn base(&self) -> usize {
        self.buffer.as_ptr() as usize
    }

    /// True iff `ptr` is the start of one of this pool's blocks.
    pub fn holds(&self, ptr: NonNull<u8>) -> bool {
        let offset = (ptr.as_ptr() as usize).wrapping_sub(self.base());
        offset < self.bytes() && offset.is_multiple_of(self.block)
    }

    /// Pops a free block.
    #[inline]
    pub fn alloc(&mut self) -> Option<NonNull<u8>> {
        let block = NonNull::new(self.head)?;
        // Safety: a non-null head is a free block of this pool, whose first word holds
        // the next free block (see the invariant on `head`).
        self.head = unsafe { block.as_ptr().cast::<*mut u8>().read() };
        Some(block)
    }

    /// Pushes `ptr` back; `false` (and nothing changes) when it is not a block of this
    /// pool. Freeing a block twice is not detected, as in the textbook.
    #[inline]
    pub fn free(&mut self, ptr: NonNull<u8>) -> bool {
        if !self.holds(ptr) {
            return false;
        }
        // Safety: `ptr` is the start of a block of this pool (checked above), so it is
        // `WORD`-aligned and has room for the link; the block is the caller's to give back.
        unsafe { ptr.as_ptr().cast::<*mut u8>().write(self.head) };
        self.head = ptr.as_ptr();
        true
    }
}

/// One [`FixedPool`] per size class, smallest first. See the module documentation.
pub struct ClassPools {
    pools: Vec<FixedPool>,
}

impl ClassPools {
    /// Pools for a `{size, count}` table, smallest class first.
    pub fn new(table: &[(u32, u32)]) -> ClassPools {
        ClassPools {
            pools: table
                .iter()
                .map(|&(size, count)| FixedPool::new(size as usize, count as usize))
                .collect(),
        }
    }

    /// Bytes all classes take.
    pub fn bytes(&self) -> usize {
        self.pools.iter().map(FixedPool::bytes).sum()
    }

    /// A block from the smallest class that fits `size` and has one free.
    #[inline]
    pub fn alloc(&mut self, size: usize) -> Option<NonNull<u8>> {
        self.pools
            .iter_mut()
            .filter(|p| p.block_size() >= size)
            .find_map(FixedPool::alloc)
    }

    /// Gives `ptr` back to the class it came from; `false` when no class holds it.
    #[inline]
    pub fn free(&mut self, ptr: NonNull<u8>) -> bool {
        self.pools
            .iter_mut()
            .find(|p| p.holds(ptr))
            .is_some_and(|p| p.free(ptr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_address_order_and_reuses_the_last_freed_block() {
        let mut pool = FixedPool::new(60, 4);
        assert_eq!(pool.block_size(), 64);
        let blocks: Vec<_> = (0..4).map(|_| pool.alloc().unwrap()).collect();
        assert!(pool.alloc().is_none());
        for pair in blocks.windows(2) {
            assert_eq!(pair[1].as_ptr() as usize - pair[0].as_ptr() as usize, 64);
        }
        assert!(pool.free(blocks[2]));
        assert_eq!(pool.alloc(), Some(blocks[2]));
        let inside = NonNull::new(blocks[1].as_ptr().wrapping_add(8)).unwrap();
        assert!(!pool.free(inside));
    }

    #[test]
    fn classes_fall_through_when_a_class_is_empty() {
        let mut pools = ClassPools::new(&[(32, 1), (64, 1)]);
        let a = pools.alloc(20).unwrap();
        let b = pools.alloc(20).unwrap();
        assert!(pools.alloc(1).is_none());
        assert!(pools.alloc(100).is_none());
        assert!(pools.free(b));
        assert_eq!(pools.alloc(40), Some(b));
        assert!(pools.free(a) && pools.free(b));
        assert_eq!(pools.bytes(), 96);
    }
}
