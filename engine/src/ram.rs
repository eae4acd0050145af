//! The simulated RAM: named regions at configured 32-bit base addresses, backed by one
//! byte store, with bounds-checked little-endian access.
//!
//! On MTK phones the regions are internal SRAM (fast, small) and external SRAM; on LiteOS
//! a single DDR area. Every allocator in the engine keeps its metadata here, so a learner
//! can read every header, link and guard in a hex view.

use core::fmt;

use crate::name::Name;

/// A simulated 32-bit address.
pub type Addr = u32;

/// The bytes behind a [`Ram`]. Owned and cloneable on the host and in the browser (so a
/// machine can be snapshotted), borrowed from a static array on the board.
pub trait Storage {
    fn bytes(&self) -> &[u8];
    fn bytes_mut(&mut self) -> &mut [u8];

    /// How many bytes there are.
    fn byte_len(&self) -> usize {
        self.bytes().len()
    }

    /// The `len` bytes from `at`, or an empty slice if they are not all there. `Ram` asks
    /// only for ranges inside [`byte_len`](Storage::byte_len). A storage over memory that others
    /// hold references into (the board's heap, whose arena holds live blocks) overrides
    /// this and [`range_mut`](Storage::range_mut) so that an access covers only the bytes
    /// it touches, never the whole store.
    fn range(&self, at: usize, len: usize) -> &[u8] {
        at.checked_add(len)
            .and_then(|end| self.bytes().get(at..end))
            .unwrap_or(&[])
    }

    /// The `len` bytes from `at`, writable, or an empty slice if they are not all there.
    fn range_mut(&mut self, at: usize, len: usize) -> &mut [u8] {
        match at.checked_add(len) {
            Some(end) => self.bytes_mut().get_mut(at..end).unwrap_or(&mut []),
            None => &mut [],
        }
    }
}

impl Storage for &mut [u8] {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl<const N: usize> Storage for [u8; N] {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

#[cfg(feature = "alloc")]
impl Storage for alloc::vec::Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

/// What kind of memory a region models; system memory serves internal SRAM first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Fast on-chip SRAM (MTK's internal system memory).
    Internal,
    /// Larger, slower external SRAM or DRAM.
    External,
}

impl RegionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RegionKind::Internal => "internal",
            RegionKind::External => "external",
        }
    }
}

/// One named window of simulated addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub name: Name,
    pub kind: RegionKind,
    pub base: Addr,
    pub size: u32,
    /// Where the region's bytes start in the storage.
    offset: u32,
}

impl Region {
    /// One past the last address; fits in `u64` because a region may end at 4 GiB.
    pub fn end(&self) -> u64 {
        self.base as u64 + self.size as u64
    }

    pub fn contains(&self, addr: Addr) -> bool {
        addr.wrapping_sub(self.base) < self.size
    }
}

/// A bad access: the machine's equivalent of a bus fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// No region contains `addr`.
    Unmapped { addr: Addr },
    /// The access starts inside a region but runs past its end.
    PastRegionEnd { addr: Addr, len: u32 },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::Unmapped { addr } => write!(f, "address {addr:#010x} is in no RAM region"),
            Fault::PastRegionEnd { addr, len } => write!(
                f,
                "an access of {len} bytes at {addr:#010x} runs past the end of its RAM region"
            ),
        }
    }
}

/// Why a region cannot be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RamError {
    TooManyRegions,
    ZeroSize {
        name: Name,
    },
    /// The region would run past 0xFFFF_FFFF.
    Wraps {
        name: Name,
    },
    Overlaps {
        name: Name,
        other: Name,
    },
    DuplicateName {
        name: Name,
    },
    /// The backing store is too small for all regions.
    OutOfStorage {
        name: Name,
        needed: u64,
        available: u64,
    },
}

impl fmt::Display for RamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RamError::TooManyRegions => {
                write!(f, "at most {MAX_REGIONS} RAM regions can be configured")
            }
            RamError::ZeroSize { name } => write!(f, "RAM region {name} has size 0"),
            RamError::Wraps { name } => {
                write!(f, "RAM region {name} runs past the 4 GiB address space")
            }
            RamError::Overlaps { name, other } => {
                write!(f, "RAM region {name} overlaps region {other}")
            }
            RamError::DuplicateName { name } => {
                write!(f, "a RAM region named {name} already exists")
            }
            RamError::OutOfStorage {
                name,
                needed,
                available,
            } => write!(
                f,
                "RAM region {name} needs {needed} bytes of backing store, {available} are left"
            ),
        }
    }
}

/// The most regions one machine can have.
pub const MAX_REGIONS: usize = 8;

/// The simulated RAM.
///
/// Invariants: `regions[..count]` do not overlap in address space, have distinct names,
/// and map to disjoint, in-bounds ranges of `storage` laid out in the order they were
/// added; `used` is the end of the last one.
#[derive(Clone)]
pub struct Ram<S> {
    storage: S,
    regions: [Option<Region>; MAX_REGIONS],
    count: usize,
    used: u32,
}

impl<S: Storage> Ram<S> {
    /// A RAM with no regions over `storage`; regions take their bytes from its start on.
    pub fn new(storage: S) -> Ram<S> {
        Ram {
            storage,
            regions: [None; MAX_REGIONS],
            count: 0,
            used: 0,
        }
    }

    /// Adds a region of `size` bytes at `base`, zero-filled.
    pub fn add_region(
        &mut self,
        name: Name,
        kind: RegionKind,
        base: Addr,
        size: u32,
    ) -> Result<Region, RamError> {
        if self.count == MAX_REGIONS {
            return Err(RamError::TooManyRegions);
        }
        if size == 0 {
            return Err(RamError::ZeroSize { name });
        }
        if base as u64 + size as u64 > 1 << 32 {
            return Err(RamError::Wraps { name });
        }
        for other in self.regions() {
            if other.name == name {
                return Err(RamError::DuplicateName { name });
            }
            let overlaps =
                (base as u64) < other.end() && (other.base as u64) < base as u64 + size as u64;
            if overlaps {
                return Err(RamError::Overlaps {
                    name,
                    other: other.name,
                });
            }
        }
        let available = self.storage.byte_len() as u64 - self.used as u64;
        if size as u64 > available {
            return Err(RamError::OutOfStorage {
                name,
                needed: size as u64,
                available,
            });
        }
        let region = Region {
            name,
            kind,
            base,
            size,
            offset: self.used,
        };
        let start = self.used as usize;
        self.storage.range_mut(start, size as usize).fill(0);
        self.regions[self.count] = Some(region);
        self.count += 1;
        self.used += size;
        Ok(region)
    }

    /// The configured regions, in the order they were added.
    pub fn regions(&self) -> impl Iterator<Item = Region> + '_ {
        self.regions[..self.count].iter().flatten().copied()
    }

    pub fn region_named(&self, name: Name) -> Option<Region> {
        self.regions().find(|r| r.name == name)
    }

    pub fn region_of(&self, addr: Addr) -> Option<Region> {
        self.regions().find(|r| r.contains(addr))
    }

    /// True iff `[addr, addr + len)` lies inside one region.
    pub fn contains(&self, addr: Addr, len: u32) -> bool {
        self.locate(addr, len).is_ok()
    }

    /// The storage index of `addr`, checking that `len` bytes from it are in one region.
    ///
    /// This is the hot path of the whole engine (every header read and write goes through
    /// it), so it and the word accessors below are `#[inline]`: the allocators that call
    /// them live in other crates' code (they are generic over the storage), and without
    /// the hint each access was an out-of-line call returning its `Result` through memory.
    #[inline]
    fn locate(&self, addr: Addr, len: u32) -> Result<usize, Fault> {
        // `take(count)` rather than `[..count]`: the same regions (count <= MAX_REGIONS
        // always holds), without a slice bounds check and its panic path.
        for region in self.regions.iter().take(self.count).flatten() {
            let off = addr.wrapping_sub(region.base);
            if off < region.size {
                return if len <= region.size - off {
                    Ok((region.offset + off) as usize)
                } else {
                    Err(Fault::PastRegionEnd { addr, len })
                };
            }
        }
        Err(Fault::Unmapped { addr })
    }

    /// The `N` bytes at `addr`, as an array: one bounds check instead of one per byte.
    /// The `Err` arm cannot be taken (a located range always lies inside the storage,
    /// see the invariants on [`Ram`]); it is there so that no access can panic.
    #[inline]
    fn read_array<const N: usize>(&self, addr: Addr) -> Result<[u8; N], Fault> {
        let at = self.locate(addr, N as u32)?;
        self.storage
            .range(at, N)
            .try_into()
            .map_err(|_| Fault::PastRegionEnd {
                addr,
                len: N as u32,
            })
    }

    /// Writes `bytes` at `addr` with one bounds check; see [`Ram::read_array`].
    #[inline]
    fn write_array<const N: usize>(&mut self, addr: Addr, bytes: [u8; N]) -> Result<(), Fault> {
        let at = self.locate(addr, N as u32)?;
        let slot = self.storage.range_mut(at, N);
        if slot.len() != N {
            return Err(Fault::PastRegionEnd {
                addr,
                len: N as u32,
            });
        }
        slot.copy_from_slice(&bytes);
        Ok(())
    }

    /// The `len` bytes at `addr`.
    pub fn slice(&self, addr: Addr, len: u32) -> Result<&[u8], Fault> {
        let at = self.locate(addr, len)?;
        Ok(self.storage.range(at, len as usize))
    }

    /// The `len` bytes at `addr`, writable.
    pub fn slice_mut(&mut self, addr: Addr, len: u32) -> Result<&mut [u8], Fault> {
        let at = self.locate(addr, len)?;
        Ok(self.storage.range_mut(at, len as usize))
    }

    #[inline]
    pub fn read_u8(&self, addr: Addr) -> Result<u8, Fault> {
        Ok(u8::from_le_bytes(self.read_array(addr)?))
    }

    #[inline]
    pub fn read_u16(&self, addr: Addr) -> Result<u16, Fault> {
        Ok(u16::from_le_bytes(self.read_array(addr)?))
    }

    #[inline]
    pub fn read_u32(&self, addr: Addr) -> Result<u32, Fault> {
        Ok(u32::from_le_bytes(self.read_array(addr)?))
    }

    #[inline]
    pub fn write_u8(&mut self, addr: Addr, value: u8) -> Result<(), Fault> {
        self.write_array(addr, value.to_le_bytes())
    }

    #[inline]
    pub fn write_u16(&mut self, addr: Addr, value: u16) -> Result<(), Fault> {
        self.write_array(addr, value.to_le_bytes())
    }

    #[inline]
    pub fn write_u32(&mut self, addr: Addr, value: u32) -> Result<(), Fault> {
        self.write_array(addr, value.to_le_bytes())
    }

    /// Copies `bytes` to `addr`.
    pub fn write(&mut self, addr: Addr, bytes: &[u8]) -> Result<(), Fault> {
        let len = u32::try_from(bytes.len()).map_err(|_| Fault::PastRegionEnd {
            addr,
            len: u32::MAX,
        })?;
        self.slice_mut(addr, len)?.copy_from_slice(bytes);
        Ok(())
    }

    /// Sets `len` bytes at `addr` to `byte`.
    pub fn fill(&mut self, addr: Addr, len: u32, byte: u8) -> Result<(), Fault> {
        self.slice_mut(addr, len)?.fill(byte);
        Ok(())
    }

    /// Copies `len` bytes from `src` to `dst`; the ranges may overlap (as memmove).
    pub fn copy_within(&mut self, src: Addr, dst: Addr, len: u32) -> Result<(), Fault> {
        let from = self.locate(src, len)?;
        let to = self.locate(dst, len)?;
        // One range covering both, so the copy may overlap as memmove does.
        let (lo, hi) = (from.min(to), from.max(to));
        let span = hi - lo + len as usize;
        let both = self.storage.range_mut(lo, span);
        if both.len() != span {
            return Err(Fault::PastRegionEnd { addr: src, len });
        }
        both.copy_within(from - lo..from - lo + len as usize, to - lo);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_regions() -> Ram<[u8; 96]> {
        let mut ram = Ram::new([0u8; 96]);
        ram.add_region(Name::lit("isram"), RegionKind::Internal, 0x4000_0000, 32)
            .unwrap();
        ram.add_region(Name::lit("extsram"), RegionKind::External, 0x0800_0000, 64)
            .unwrap();
        ram
    }

    #[test]
    fn little_endian_round_trip_in_each_region() {
        let mut ram = two_regions();
        ram.write_u32(0x4000_0000, 0x1122_3344).unwrap();
        assert_eq!(ram.read_u8(0x4000_0000).unwrap(), 0x44);
        assert_eq!(ram.read_u16(0x4000_0002).unwrap(), 0x1122);
        ram.write_u16(0x0800_003e, 0xbeef).unwrap();
        assert_eq!(ram.read_u8(0x0800_003f).unwrap(), 0xbe);
        assert_eq!(ram.region_of(0x0800_0010).unwrap().name.as_str(), "extsram");
    }

    #[test]
    fn accesses_outside_or_across_regions_fault() {
        let mut ram = two_regions();
        assert_eq!(
            ram.read_u32(0x4000_001e),
            Err(Fault::PastRegionEnd {
                addr: 0x4000_001e,
                len: 4
            })
        );
        assert_eq!(
            ram.write_u8(0x4000_0020, 1),
            Err(Fault::Unmapped { addr: 0x4000_0020 })
        );
        assert_eq!(
            ram.read_u32(0xffff_fffe),
            Err(Fault::Unmapped { addr: 0xffff_fffe })
        );
        assert!(ram.fill(0x0800_0000, 65, 0).is_err());
        assert!(ram.fill(0x0800_0000, 64, 0xaa).is_ok());
    }

    #[test]
    fn bad_regions_are_refused() {
        let mut ram = two_regions();
        let n = Name::lit("x");
        assert!(matches!(
            ram.add_region(n, RegionKind::External, 0x4000_001f, 4),
            Err(RamError::Overlaps { .. })
        ));
        assert!(matches!(
            ram.add_region(Name::lit("isram"), RegionKind::External, 0x1000, 4),
            Err(RamError::DuplicateName { .. })
        ));
        assert!(matches!(
            ram.add_region(n, RegionKind::External, 0xffff_fff0, 32),
            Err(RamError::Wraps { .. })
        ));
        assert!(matches!(
            ram.add_region(n, RegionKind::External, 0x1000, 1),
            Err(RamError::OutOfStorage { .. })
        ));
        assert!(matches!(
            ram.add_region(n, RegionKind::External, 0x1000, 0),
            Err(RamError::ZeroSize { .. })
        ));
    }

    #[test]
    fn a_region_may_end_at_the_top_of_the_address_space() {
        let mut ram = Ram::new([0u8; 16]);
        ram.add_region(Name::lit("top"), RegionKind::External, 0xffff_fff0, 16)
            .unwrap();
        ram.write_u32(0xffff_fffc, 7).unwrap();
        assert_eq!(ram.read_u32(0xffff_fffc).unwrap(), 7);
    }
}
