//! Fault-safe copies to and from kernel virtual addresses: a bad address gives `EFAULT`
//! instead of a crash (Linux's `copy_from_kernel_nofault`). The mechanism, an exception
//! table the fault handlers consult, is in `arch::extable`.

use errno::Errno;
use x86_64::VirtAddr;

use super::query;
use crate::arch::extable;
pub use crate::arch::extable::Width;

/// A copy that stopped at a fault after moving `copied` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub copied: usize,
}

impl From<Fault> for Errno {
    fn from(_: Fault) -> Self {
        Errno::EFAULT
    }
}

/// Copies `dst.len()` bytes from kernel virtual address `src`, which may be unmapped (and
/// the range may run on into non-canonical addresses: a fault all the same).
pub fn read_kernel(src: VirtAddr, dst: &mut [u8]) -> Result<(), Fault> {
    // SAFETY: `dst` is an exclusive buffer of the right length; `src` is read only, and
    // a fault is caught by the exception table.
    let copied = unsafe { extable::copy_nofault(dst.as_mut_ptr(), src.as_ptr(), dst.len()) };
    if copied == dst.len() { Ok(()) } else { Err(Fault { copied }) }
}

/// Copies `len` bytes between two kernel virtual addresses, either of which may be
/// unmapped; destination pages must be mapped writable (checked page by page first, so
/// write protection is never bypassed). Moves RAM to and from caller buffers fast.
///
/// # Safety
///
/// Every byte of [dst, dst+len) that is mapped must be memory the caller may write: a
/// buffer it holds as `&mut [u8]`, device memory it mapped, or kernel memory that a
/// privileged request asked to change (see [`write_kernel`]). No Rust reference may be
/// live to it.
pub unsafe fn copy_kernel(dst: VirtAddr, src: VirtAddr, len: usize) -> Result<(), Fault> {
    let (dst, src) = (dst.as_u64(), src.as_u64());
    let mut copied = 0;
    while copied < len {
        let at = dst.wrapping_add(copied as u64);
        let chunk = (((at | 0xfff).wrapping_add(1)).wrapping_sub(at) as usize).min(len - copied);
        if !writable(at) {
            return Err(Fault { copied });
        }
        // SAFETY: the destination page is mapped writable and the chunk stays inside it;
        // the caller may write it (this function's contract); the source is only read;
        // faults on either side are caught by the exception table.
        let moved = unsafe {
            extable::copy_nofault(at as *mut u8, src.wrapping_add(copied as u64) as *const u8, chunk)
        };
        copied += moved;
        if moved < chunk {
            return Err(Fault { copied });
        }
    }
    Ok(())
}

/// Reads one naturally aligned value of `width` at `address` with a single access of that
/// width, as device registers need. `None` if the address is misaligned, unmapped or
/// faults. Device reads can have side effects: the caller asked for this register.
pub fn read_width(address: VirtAddr, width: Width) -> Option<u64> {
    if !address.is_aligned(width.bytes() as u64) {
        return None;
    }
    // SAFETY: aligned (checked above); any fault is caught by the exception table; no
    // Rust reference is created to the memory read.
    unsafe { extable::read_nofault(address.as_u64(), width) }
}

/// Writes one naturally aligned value of `width` at `address` with a single access. Pages
/// that are unmapped or read-only are refused (`false`) before the write.
///
/// # Safety
///
/// As for [`copy_kernel`], for the `width` bytes at `address`.
pub unsafe fn write_width(address: VirtAddr, width: Width, value: u64) -> bool {
    if !address.is_aligned(width.bytes() as u64) || !writable(address.as_u64()) {
        return false;
    }
    // SAFETY: aligned and mapped writable (checked above); the caller may write it
    // (this function's contract).
    unsafe { extable::write_nofault(address.as_u64(), width, value) }
}

/// Copies `qwords` aligned 8-byte words between kernel virtual addresses with one 8-byte
/// load and store each (device memory in the middle of a transfer). Both addresses must
/// be 8-byte aligned (else nothing is copied); destination pages must be writable.
/// Returns the words copied before a fault.
///
/// # Safety
///
/// As for [`copy_kernel`], for the `qwords * 8` bytes at `dst`.
pub unsafe fn copy_qwords(dst: VirtAddr, src: VirtAddr, qwords: usize) -> usize {
    let (dst, src) = (dst.as_u64(), src.as_u64());
    if dst % 8 != 0 || src % 8 != 0 {
        return 0;
    }
    let mut copied = 0;
    while copied < qwords {
        let at = dst + copied as u64 * 8;
        let from = src + copied as u64 * 8;
        // Stop at whichever page ends first, so a fault is attributed to one page.
        let in_page = ((4096 - (at & 0xfff)).min(4096 - (from & 0xfff)) / 8) as usize;
        let chunk = in_page.min(qwords - copied);
        if !writable(at) {
            break;
        }
        // SAFETY: aligned (checked above), destination page writable and the caller's to
        // write (this function's contract), faults caught.
        let moved = unsafe { extable::copy_qwords_nofault(at as *mut u64, from as *const u64, chunk) };
        copied += moved;
        if moved < chunk {
            break;
        }
    }
    copied
}

/// Reads `dst.len()` aligned 8-byte words from kernel virtual address `src` into `dst`,
/// one 8-byte load each, as /dev/mem reads device memory; stops at a fault or a
/// misaligned `src`. Returns the words read. (The benchmark's limit for device ranges.)
pub fn read_qwords(src: VirtAddr, dst: &mut [u64]) -> usize {
    if !src.is_aligned(8u64) {
        return 0;
    }
    // SAFETY: `dst` is an exclusive, aligned buffer of `dst.len()` words; `src` is only
    // read, and a fault there is caught by the exception table.
    unsafe { extable::copy_qwords_nofault(dst.as_mut_ptr(), src.as_ptr(), dst.len()) }
}

/// Copies `src` to kernel virtual address `dst`: the primitive behind writes to
/// `/dev/kmem`, which exist to change kernel memory. Pages that are unmapped or mapped
/// read-only are refused before any byte is written to them (write protection is never
/// bypassed), and a fault during the copy stops it.
///
/// Writing over memory the kernel is using can break it; that is the nature of kmem,
/// and why only root may open it for writing.
///
/// # Safety
///
/// The caller may write every mapped byte of [dst, dst+len): memory it owns (a buffer
/// it holds as `&mut [u8]`), or kernel memory a request checked as privileged (uid 0,
/// /dev/kmem opened for writing) asked to change. No Rust reference may be live to
/// memory the caller owns.
pub unsafe fn write_kernel(dst: VirtAddr, src: &[u8]) -> Result<(), Fault> {
    let dst = dst.as_u64();
    let mut copied = 0;
    while copied < src.len() {
        let at = dst.wrapping_add(copied as u64);
        let page_end = (at | 0xfff).wrapping_add(1);
        let chunk = ((page_end.wrapping_sub(at)) as usize).min(src.len() - copied);
        if !writable(at) {
            return Err(Fault { copied });
        }
        // SAFETY: the page is mapped writable; the chunk stays inside it; the caller may
        // write it (this function's contract). Faults are caught by the exception table.
        let moved = unsafe { extable::copy_nofault(at as *mut u8, src[copied..].as_ptr(), chunk) };
        copied += moved;
        if moved < chunk {
            return Err(Fault { copied });
        }
    }
    Ok(())
}

/// Whether the page holding `address` is mapped writable (a copy may run on from a
/// canonical start into non-canonical addresses: those are not).
fn writable(address: u64) -> bool {
    VirtAddr::try_new(address).ok().and_then(query::query).is_some_and(|page| page.writable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::Rng;
    use crate::ktest::ktest;
    use crate::mm::layout::{DIRECT_MAP_BASE, HEAP_BASE, KERNEL_BASE, WINDOW_BASE};

    #[ktest(timeout = 60)]
    fn random_kernel_addresses_fail_exactly_where_the_walk_says_unmapped() {
        let mut state = Rng::new(0x005e_ed0f_da7a);
        let (mut mapped, mut unmapped, mut non_canonical) = (0u32, 0u32, 0u32);
        for _ in 0..10_000 {
            let r = state.next_u64();
            let address = match r % 6 {
                // Anywhere at all: mostly non-canonical.
                0 => state.next_u64(),
                // Anywhere in the kernel half.
                1 => 0xffff_8000_0000_0000 | state.next_u64(),
                // Near what is mapped: the direct map, the kernel image, the heap, the window.
                2 => DIRECT_MAP_BASE + state.next_u64() % (1 << 40),
                3 => KERNEL_BASE + state.next_u64() % (8 << 20),
                4 => HEAP_BASE + state.next_u64() % (8 << 20),
                _ => WINDOW_BASE + state.next_u64() % (1 << 30),
            };
            // Up to 8 bytes, not crossing into the next page.
            let room = 4096 - (address & 0xfff);
            let len = ((r >> 8) % 8 + 1).min(room) as usize;
            let mut buf = [0u8; 8];
            let Ok(address) = VirtAddr::try_new(address) else {
                // Not an address at all: read_kernel cannot be asked for it.
                assert!(!mm_core::pte::is_canonical(address), "{address:#x} refused but canonical");
                non_canonical += 1;
                continue;
            };
            let expected = query::query(address).is_some();
            let result = read_kernel(address, &mut buf[..len]);
            assert_eq!(
                result.is_ok(),
                expected,
                "address {address:#x}: walk says mapped={expected}, copy gave {result:?}"
            );
            if let Err(fault) = result {
                assert_eq!(fault.copied, 0, "{address:#x}");
            }
            assert_eq!(crate::mm::paging::translate(address).is_some(), expected, "{address:?}");
            if expected {
                mapped += 1;
            } else {
                unmapped += 1;
            }
        }
        // Each kind must really have been exercised.
        assert!(
            mapped > 1000 && unmapped > 1000 && non_canonical > 500,
            "{mapped} {unmapped} {non_canonical}"
        );
        crate::println!("{mapped} mapped, {unmapped} unmapped, {non_canonical} non-canonical");
    }

    #[ktest]
    fn a_copy_across_into_an_unmapped_page_reports_the_bytes_moved() {
        // The heap's end is followed by unmapped space (the heap only grows upward).
        let end = VirtAddr::new(HEAP_BASE + crate::mm::heap::stats().size);
        assert!(query::query(end).is_none());
        let mut buf = [0u8; 32];
        assert_eq!(read_kernel(end - 10u64, &mut buf), Err(Fault { copied: 10 }));
        // A copy that runs from the last canonical lower-half page into non-canonical
        // addresses faults too (#GP rather than #PF): nothing moved, no crash.
        assert_eq!(read_kernel(VirtAddr::new(0x7fff_ffff_fffc), &mut buf[..8]), Err(Fault { copied: 0 }));
    }

    #[ktest]
    fn writes_never_bypass_write_protection() {
        let code = VirtAddr::from_ptr(writes_never_bypass_write_protection as *const ());
        let page = query::query(code).expect("kernel code is mapped");
        assert!(!page.writable && page.executable && page.ram);
        let mut before = [0u8; 16];
        read_kernel(code, &mut before).unwrap();
        // SAFETY: the write is refused (read-only page) before any byte moves; the test
        // checks that.
        assert_eq!(unsafe { write_kernel(code, &[0xcc; 16]) }, Err(Fault { copied: 0 }));
        let mut after = [0u8; 16];
        read_kernel(code, &mut after).unwrap();
        assert_eq!(before, after);
        let edge = VirtAddr::new(0x7fff_ffff_fffc);
        // SAFETY: the write runs from an unmapped lower-half page into non-canonical
        // addresses: nothing there may be written, and nothing is.
        assert_eq!(unsafe { write_kernel(edge, &[1; 8]) }, Err(Fault { copied: 0 }));
    }

    #[ktest]
    fn a_write_reaches_memory() {
        let mut target = alloc::boxed::Box::new([0u8; 64]);
        let address = VirtAddr::from_ptr(target.as_mut_ptr());
        // SAFETY: the box is ours, held through `target` only, and not borrowed here.
        unsafe { write_kernel(address + 3u64, b"devmem") }.unwrap();
        assert_eq!(&target[3..9], b"devmem");
    }
}
