//! The memplay firmware: every golden scenario and embedded script on the engine over a
//! static simulated RAM, each trace printed between markers, then the engine's TLSF
//! serving `Vec` and `Box` as the real heap. Exits with status 0 iff everything held.
//!
//! Output goes over semihosting (QEMU, the default) or defmt/RTT (`--features defmt` on a
//! real board with probe-rs); see docs/board.md.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt::Write;

use cortex_m_rt::entry;
use memplay_board::arena::Arena;
use memplay_board::console::{Console, Lines};
use memplay_board::heap::{self, TlsfHeap};
use memplay_board::suite;

#[cfg(feature = "semihosting")]
use panic_semihosting as _;
#[cfg(feature = "defmt")]
use {defmt_rtt as _, panic_probe as _};

/// Bytes of simulated RAM the cases run on, and of the real heap, per board.
#[cfg(feature = "qemu")]
mod sizes {
    // 4 MiB of RAM: room for the largest script (asm.mem declares 2 MiB + 64 KiB).
    pub const SIM_RAM: usize = 3 * 1024 * 1024;
    pub const HEAP: usize = 32 * 1024;
    pub const BOARD: &str = "qemu mps2-an386 (Cortex-M4F)";
}
#[cfg(feature = "stm32f4-discovery")]
mod sizes {
    // 128 KiB of SRAM: too little stack for scripts (see suite::SCRIPT_STACK), which are
    // skipped; the golden scenarios and the heap demo run.
    pub const SIM_RAM: usize = 48 * 1024;
    pub const HEAP: usize = 16 * 1024;
    pub const BOARD: &str = "STM32F4-Discovery (STM32F407VG, Cortex-M4F)";
}
#[cfg(feature = "nrf52840-dk")]
mod sizes {
    // 256 KiB of RAM: these leave about 155 KiB for the stack, enough for scripts.
    // Scripts that declare more RAM (the larger lessons) are skipped.
    pub const SIM_RAM: usize = 80 * 1024;
    pub const HEAP: usize = 16 * 1024;
    pub const BOARD: &str = "nRF52840-DK (nRF52840, Cortex-M4F)";
}

/// The simulated RAM every case runs on (each on a fresh machine).
static SIM_RAM: Arena<{ sizes::SIM_RAM }> = Arena::new();
/// The real heap's memory: the TLSF's control block, headers and blocks.
static HEAP_ARENA: Arena<{ sizes::HEAP }> = Arena::new();

#[global_allocator]
static HEAP: TlsfHeap<{ sizes::HEAP }> = TlsfHeap::new(&HEAP_ARENA);

#[cfg(feature = "semihosting")]
mod out {
    use cortex_m_semihosting::hio::{self, HostStream};

    /// The host's stdout over semihosting.
    pub struct Out(Option<HostStream>);

    pub fn console() -> Out {
        Out(hio::hstdout().ok())
    }

    impl memplay_board::console::Console for Out {
        fn write(&mut self, text: &str) {
            if let Some(stream) = &mut self.0 {
                let _ = stream.write_all(text.as_bytes());
            }
        }
    }
}

#[cfg(feature = "defmt")]
mod out {
    /// defmt over RTT: one frame per line (probe-rs prints it).
    pub struct Out;

    pub fn console() -> Out {
        Out
    }

    impl memplay_board::console::Console for Out {
        fn write(&mut self, text: &str) {
            defmt::println!("{=str}", text.strip_suffix('\n').unwrap_or(text));
        }
    }
}

/// The console's input over semihosting, for the REPL.
#[cfg(feature = "semihosting")]
mod input {
    use cortex_m_semihosting::{nr, syscall, syscall1};

    /// The host's command line (QEMU: the kernel's file name and `-append`'s text).
    pub fn cmdline(buf: &mut [u8]) -> &str {
        let mut block = [buf.as_mut_ptr() as usize, buf.len()];
        // Safety: SYS_GET_CMDLINE gets a pointer to a two-word block {buffer, length}; the
        // host writes at most `length` bytes into `buf` (valid and exclusively ours) and the
        // used length into the block. Both outlive the call; the raw pointer makes the
        // host's writes visible (the call is an asm block that clobbers memory).
        let failed = unsafe { syscall1(nr::GET_CMDLINE, block.as_mut_ptr() as usize) } != 0;
        let len = if failed { 0 } else { block[1].min(buf.len()) };
        core::str::from_utf8(&buf[..len]).unwrap_or("")
    }

    /// Where the REPL's lines come from: a semihosting file handle, read with SYS_READ.
    /// The console is the special file `:tt`; under QEMU it reads QEMU's stdin, so nothing
    /// else may read stdin (no `-nographic`: use `-display none -serial none -monitor none`).
    pub struct Input(usize);

    impl Input {
        /// The host's console.
        pub fn console() -> Option<Input> {
            Input::file(":tt")
        }

        /// The file `path` on the host, opened for reading.
        pub fn file(path: &str) -> Option<Input> {
            let mut name = [0u8; 256];
            let bytes = path.as_bytes();
            if bytes.len() >= name.len() {
                return None;
            }
            name[..bytes.len()].copy_from_slice(bytes);
            // Safety: SYS_OPEN reads a NUL-terminated name of the given length (without the
            // NUL; `name` is zero past the path) and a mode (0, "r"); `name` outlives it.
            let fd = unsafe { syscall!(OPEN, name.as_ptr(), nr::open::R, bytes.len()) } as isize;
            (fd >= 0).then_some(Input(fd as usize))
        }

        /// Reads what is available (at most `buf.len()` bytes); 0 at the end of input.
        pub fn read(&mut self, buf: &mut [u8]) -> usize {
            // Safety: SYS_READ writes at most `buf.len()` bytes into `buf` (valid and
            // exclusively ours for the call) and returns how many it did NOT read.
            let not_read = unsafe { syscall!(READ, self.0, buf.as_mut_ptr(), buf.len()) };
            buf.len().saturating_sub(not_read)
        }
    }
}

/// The playground on the board: script lines from the console, one step each, until
/// `quit` or the end of input. True iff no line failed.
#[cfg(feature = "semihosting")]
#[inline(never)] // its session is a large local: keep it out of `main`'s frame
fn repl<C: Console>(ram: &'static mut [u8], mut input: input::Input, out: &mut Lines<C>) -> bool {
    use memplay_board::repl::{LineBuffer, Next, Piece, Repl, PROMPT};

    Repl::banner(out, ram.len());
    let mut session = match Repl::new(ram) {
        Ok(session) => session,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return false;
        }
    };
    let _ = write!(out, "{PROMPT}");
    out.flush();
    let mut lines = LineBuffer::<256>::default();
    let mut chunk = [0u8; 128];
    let mut each = |piece: Piece<'_>| {
        let next = match piece {
            Piece::Line(text) => session.line(text, out),
            Piece::Dropped => {
                let _ = writeln!(out, "error: a line longer than 256 bytes, or not UTF-8");
                Next::Continue
            }
        };
        if next == Next::Continue {
            let _ = write!(out, "{PROMPT}");
            out.flush();
        }
        next
    };
    loop {
        let n = input.read(&mut chunk);
        let next = if n == 0 {
            lines.finish(&mut each);
            Next::Quit
        } else {
            lines.feed(&chunk[..n], &mut each)
        };
        if next == Next::Quit {
            break;
        }
    }
    let _ = writeln!(out);
    session.failures == 0
}

/// How much stack the run used: the free RAM between the statics and the stack is painted
/// with a pattern at the start, and the lowest word no longer holding it is the deepest
/// the stack went (the Machine of a script is a large local: see docs/performance.md).
mod stack {
    use core::ptr;

    const PAINT: u32 = 0xa5a5_a5a5;
    /// Left untouched below the stack pointer when painting, for `paint`'s own frame.
    const MARGIN: usize = 256;

    extern "C" {
        /// cortex-m-rt: the end of the statics (`.bss`, `.uninit`); the stack may grow
        /// down to here.
        static _stack_end: u32;
        /// cortex-m-rt: the initial stack pointer (the top of RAM).
        static _stack_start: u32;
    }

    fn bounds() -> (usize, usize) {
        // Only the addresses of the linker symbols are taken, never their values.
        (
            ptr::addr_of!(_stack_end) as usize,
            ptr::addr_of!(_stack_start) as usize,
        )
    }

    /// Paints the unused stack. Call first thing in `main`.
    pub fn paint() {
        let (end, _) = bounds();
        let sp = cortex_m::register::msp::read() as usize;
        let mut at = end;
        while at + 4 <= sp.saturating_sub(MARGIN) {
            // Safety: `[_stack_end, sp - MARGIN)` is RAM that no Rust object occupies: the
            // statics end at `_stack_end` and the stack lives above `sp`; nothing else
            // runs (no interrupt is enabled). Volatile, so the writes are not elided.
            unsafe { ptr::with_exposed_provenance_mut::<u32>(at).write_volatile(PAINT) };
            at += 4;
        }
    }

    /// The most stack used since `paint`, in bytes.
    pub fn used() -> usize {
        let (end, start) = bounds();
        let mut at = end;
        while at < start {
            // Safety: an aligned read of RAM between the statics and the top of the stack.
            if unsafe { ptr::with_exposed_provenance::<u32>(at).read_volatile() } != PAINT {
                break;
            }
            at += 4;
        }
        start - at
    }

    /// The stack's room: from the top of RAM down to the statics.
    pub fn room() -> usize {
        let (end, start) = bounds();
        start - end
    }

    /// What is left of it below the current stack pointer.
    pub fn free_now() -> usize {
        let (end, _) = bounds();
        (cortex_m::register::msp::read() as usize).saturating_sub(end)
    }
}

/// Ends the run: semihosting exit, which QEMU (and probe-rs) turn into the process status.
fn exit(ok: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[entry]
fn main() -> ! {
    stack::paint();
    let mut out = Lines::new(out::console());
    let _ = writeln!(
        out,
        "memplay board: {} | simulated RAM {} bytes | heap {} bytes",
        sizes::BOARD,
        sizes::SIM_RAM,
        sizes::HEAP
    );
    let Some(ram) = SIM_RAM.take() else {
        exit(false)
    };
    #[cfg(feature = "semihosting")]
    {
        // `-append repl` (the console) or `-append "repl FILE"` (lines from a host file).
        let mut buf = [0u8; 384];
        let mut words = input::cmdline(&mut buf).split_whitespace().skip(1);
        if words.next() == Some("repl") {
            let source = match words.next() {
                None => input::Input::console(),
                Some(path) => input::Input::file(path),
            };
            let ok = match source {
                Some(source) => repl(ram, source, &mut out),
                None => {
                    let _ = writeln!(out, "cannot open the REPL's input file");
                    false
                }
            };
            out.flush();
            exit(ok)
        }
    }
    let tally = suite::run_all_within(ram, stack::free_now(), &mut out);
    let heap_ok = heap_demo(&mut out);
    let _ = writeln!(
        out,
        "=== sizes: the engine's state outside the simulated RAM (bytes) ==="
    );
    for (what, bytes) in memplay_board::engine_sizes() {
        let _ = writeln!(out, "size {bytes:>6}  {what}");
    }
    let _ = writeln!(
        out,
        "stack: {} bytes used at most, of {} between the statics and the top of RAM",
        stack::used(),
        stack::room()
    );
    let ok = tally.failed == 0 && heap_ok;
    let _ = writeln!(out, "=== exit {} ===", if ok { 0 } else { 1 });
    out.flush();
    exit(ok)
}

/// `Vec` and `Box` on the engine's TLSF: what they got, the trace of one allocation, and
/// the TLSF's full invariant check. True iff everything held.
#[inline(never)]
fn heap_demo<C: Console>(out: &mut Lines<C>) -> bool {
    let mut ok = true;
    let mut expect = |out: &mut Lines<C>, what: &str, held: bool| {
        let _ = writeln!(out, "heap: {} {what}", if held { "ok  " } else { "FAIL" });
        ok &= held;
    };
    let _ = writeln!(
        out,
        "=== heap: the engine's TLSF as #[global_allocator] ==="
    );
    let base = HEAP.base().unwrap_or(0);
    let _ = writeln!(
        out,
        "heap: arena at {base:#010x}, {} bytes, align {}",
        sizes::HEAP,
        heap::ALIGN
    );

    // One Box, with the TLSF's trace of its allocation.
    let mark = HEAP.tape().map(|t| t.mark()).unwrap_or(0);
    let answer = Box::new(0x2a2a_2a2au32);
    let at = &*answer as *const u32 as usize;
    let _ = writeln!(
        out,
        "heap: Box::new(0x2a2a2a2a) at {at:#010x}; the TLSF's trace:"
    );
    if let Ok(tape) = HEAP.tape() {
        let (events, dropped) = tape.since(mark);
        for event in events {
            let _ = writeln!(out, "heap:   {event}");
        }
        if dropped > 0 {
            let _ = writeln!(out, "heap:   ({dropped} earlier events not kept)");
        }
    }
    expect(
        out,
        "the Box is the TLSF's block",
        HEAP.addr_of(at as *const u8) == Some(at as u32),
    );
    expect(out, "the Box holds its value", *answer == 0x2a2a_2a2a);

    // A Vec that grows by realloc: moved while a neighbour blocks it, in place after.
    let mut v: Vec<u32> = Vec::with_capacity(4);
    v.extend(0..4);
    let neighbour = Box::new([0u8; 16]); // the block right after the Vec's
    let (mut in_place, mut moved) = (0, 0);
    for i in 4..1000u32 {
        let (at, capacity) = (v.as_ptr(), v.capacity());
        v.push(i.wrapping_mul(2_654_435_761));
        if v.capacity() != capacity {
            if v.as_ptr() == at {
                in_place += 1;
            } else {
                moved += 1;
            }
        }
    }
    let _ = writeln!(
        out,
        "heap: Vec<u32> of {} at {:#010x}, capacity {}: grew {moved} time(s) by moving \
         (a neighbour at {:#010x} was in the way), {in_place} time(s) in place",
        v.len(),
        v.as_ptr() as usize,
        v.capacity(),
        &*neighbour as *const [u8; 16] as usize
    );
    let kept = v.iter().enumerate().all(|(i, &x)| {
        let i = i as u32;
        x == if i < 4 {
            i
        } else {
            i.wrapping_mul(2_654_435_761)
        }
    });
    expect(out, "the Vec kept every element through its reallocs", kept);
    expect(
        out,
        "the TLSF grew it in place when it could",
        in_place > 0 && moved > 0,
    );

    // An over-aligned Box: served by over-allocating inside a TLSF block.
    #[repr(C, align(64))]
    struct Line([u8; 64]);
    let line = Box::new(Line([7; 64]));
    let at = &*line as *const Line as usize;
    let _ = writeln!(out, "heap: Box<align(64)> at {at:#010x}");
    expect(
        out,
        "the over-aligned Box is 64-aligned",
        at.is_multiple_of(64),
    );
    expect(out, "its bytes are intact", line.0.iter().all(|&b| b == 7));

    // Many small boxes, then the TLSF's figures and its full check.
    let boxes: Vec<Box<[u8; 24]>> = (0..40).map(|i| Box::new([i as u8; 24])).collect();
    match HEAP.stats() {
        Ok(s) => {
            let _ = writeln!(
                out,
                "heap: {} live blocks, used {} / capacity {} bytes, overhead {}, free {} (largest {})",
                s.blocks, s.used, s.capacity, s.overhead, s.free, s.largest_free
            );
            expect(out, "the TLSF counts every live block", s.blocks == 45);
        }
        Err(e) => {
            let _ = writeln!(out, "heap: stats failed: {e:?}");
            expect(out, "stats", false);
        }
    }
    let check = HEAP.check();
    expect(out, "Tlsf::check with everything live", check.is_ok());
    drop((answer, v, neighbour, line, boxes));
    let empty = HEAP.stats().map(|s| (s.blocks, s.free_blocks)).ok();
    let _ = writeln!(
        out,
        "heap: after dropping everything: (live, free blocks) = {empty:?}"
    );
    expect(
        out,
        "everything came back into one free block",
        empty == Some((0, 1)),
    );
    expect(out, "Tlsf::check after", HEAP.check().is_ok());
    expect(out, "no free was refused", HEAP.refused() == Ok(0));
    let _ = writeln!(out, "=== heap {} ===", if ok { "pass" } else { "FAIL" });
    ok
}

/// A hard fault (a bad access the firmware did not expect) ends the run with a failure
/// instead of hanging until the host's timeout.
#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    let mut out = Lines::new(out::console());
    let _ = writeln!(out, "=== hard fault at pc={:#010x} ===", frame.pc());
    out.flush();
    exit(false)
}
