//! A static byte array handed out once: the board's simulated RAM and the heap's memory,
//! without `static mut`.

use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

/// `N` bytes in `.bss` (zero-initialised, so they cost no flash), 16-byte aligned, that can
/// be taken exactly once, as a `&'static mut [u8]` or as a raw pointer.
#[repr(C, align(16))]
pub struct Arena<const N: usize> {
    bytes: UnsafeCell<[u8; N]>,
    /// Set iff the bytes were handed out.
    taken: AtomicBool,
}

// Safety: the bytes are only reachable through `take` or `take_raw`, and the atomic swap
// of `taken` lets exactly one caller, on any thread or interrupt, ever get them; sharing
// the `Arena` itself between threads shares nothing else.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Arena<N> {
    /// The size in bytes.
    pub const LEN: usize = N;

    #[allow(clippy::new_without_default)] // a `const fn` for statics; `Default` is not const
    pub const fn new() -> Arena<N> {
        Arena {
            bytes: UnsafeCell::new([0; N]),
            taken: AtomicBool::new(false),
        }
    }

    /// True iff the bytes were already handed out.
    pub fn is_taken(&self) -> bool {
        self.taken.load(Ordering::Acquire)
    }

    /// The bytes, the first time; `None` after.
    #[allow(clippy::mut_from_ref)] // the `taken` flag makes this `&mut` the only one, ever
    pub fn take(&'static self) -> Option<&'static mut [u8]> {
        let ptr = self.take_raw()?;
        // Safety: `take_raw` returned the pointer to this arena's `N` bytes exactly once
        // (see there), the bytes live for 'static, are initialised (zeroed) and suitably
        // aligned for `u8`; no other reference or pointer to them exists or will exist.
        Some(unsafe { core::slice::from_raw_parts_mut(ptr.as_ptr(), N) })
    }

    /// A pointer to the bytes (valid for `N` bytes, reads and writes, for 'static), the
    /// first time; `None` after. The caller becomes the bytes' only owner.
    pub fn take_raw(&'static self) -> Option<NonNull<u8>> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        NonNull::new(self.bytes.get().cast::<u8>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arena_is_taken_once() {
        static A: Arena<64> = Arena::new();
        assert!(!A.is_taken());
        let bytes = A.take().unwrap();
        assert_eq!(bytes.len(), 64);
        assert!(bytes.iter().all(|&b| b == 0));
        assert_eq!(bytes.as_ptr() as usize % 16, 0);
        assert!(A.take().is_none());
        assert!(A.take_raw().is_none());
    }
}
