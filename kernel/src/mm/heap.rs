//! The kernel heap: `linked_list_allocator` over a region that grows a megabyte (or an
//! allocation) at a time by mapping fresh frames, up to `HEAP_MAX_SIZE`.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, Ordering};

use linked_list_allocator::Heap;
use mm_core::memtype::PageSize;
use mm_core::pte::Attributes;
use spin::Mutex;
use x86_64::VirtAddr;
use x86_64::structures::paging::PhysFrame;

use super::layout::{HEAP_BASE, HEAP_MAX_SIZE};
use super::{PAGE_SIZE, frames, paging};

/// The heap starts this big and grows by at least this much.
const GROW_STEP: u64 = 1 << 20;

struct KernelHeap {
    /// The allocator and the number of bytes mapped at HEAP_BASE.
    inner: Mutex<(Heap, u64)>,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap { inner: Mutex::new((Heap::empty(), 0)) };

/// Maps `bytes` more (a multiple of the page size) at the top of the heap region.
fn map_more(mapped: u64, bytes: u64) -> bool {
    if mapped + bytes > HEAP_MAX_SIZE {
        return false;
    }
    let attributes = Attributes { global: true, ..Attributes::KERNEL_DATA };
    for offset in (0..bytes).step_by(PAGE_SIZE as usize) {
        let va = HEAP_BASE + mapped + offset;
        let mapped_ok = frames::allocate().is_some_and(|frame| {
            // SAFETY: `va` is above the heap's mapped top, so nothing uses it; the frame
            // was just allocated.
            let ok = unsafe {
                paging::map(VirtAddr::new(va), frame.start_address(), PageSize::Size4K, attributes)
            }
            .is_ok();
            if !ok {
                let _ = frames::free(frame);
            }
            ok
        });
        if !mapped_ok {
            // Give back the part of this step already mapped.
            for undo in (0..offset).step_by(PAGE_SIZE as usize) {
                let va = VirtAddr::new(HEAP_BASE + mapped + undo);
                // SAFETY: mapped by this step just above and not yet given to the heap.
                if let Ok(entry) = unsafe { paging::unmap(va, PageSize::Size4K) } {
                    let _ = frames::free(PhysFrame::containing_address(entry.frame(PageSize::Size4K)));
                }
            }
            return false;
        }
    }
    true
}

pub(super) fn init() {
    let mut guard = HEAP.inner.lock();
    if guard.1 != 0 {
        return;
    }
    assert!(map_more(0, GROW_STEP), "cannot map the initial kernel heap");
    // SAFETY: [HEAP_BASE, HEAP_BASE + GROW_STEP) was just mapped writable for the heap
    // alone and is never used for anything else.
    unsafe { guard.0.init(HEAP_BASE as *mut u8, GROW_STEP as usize) };
    guard.1 = GROW_STEP;
}

/// Set while an allocation failure is being logged.
static LOGGING_FAILURE: AtomicBool = AtomicBool::new(false);

// SAFETY: every path goes through the lock; memory comes only from the heap region,
// which is mapped before the allocator is told about it.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut guard = self.inner.lock();
        let (heap, mapped) = &mut *guard;
        if let Ok(block) = heap.allocate_first_fit(layout) {
            return block.as_ptr();
        }
        // Grow by enough for this allocation (plus alignment slack), at least a step.
        let needed = (layout.size() + layout.align()) as u64 + 2 * PAGE_SIZE;
        let grow = needed.next_multiple_of(GROW_STEP);
        if map_more(*mapped, grow) {
            // SAFETY: the pages just above the heap's top were mapped by map_more.
            unsafe { heap.extend(grow as usize) };
            *mapped += grow;
            if let Ok(block) = heap.allocate_first_fit(layout) {
                return block.as_ptr();
            }
        }
        let (used, mapped) = (heap.used(), *mapped);
        // The log goes out with the lock released: a logger that allocates (output
        // capture) would otherwise deadlock on it. A failure while logging one is not
        // logged again (no recursion).
        drop(guard);
        if !LOGGING_FAILURE.swap(true, Ordering::Acquire) {
            log::error!(
                "heap: cannot allocate {} bytes (align {}): {} of {} bytes in use, limit {} bytes, {} free frames",
                layout.size(),
                layout.align(),
                used,
                mapped,
                HEAP_MAX_SIZE,
                frames::stats().free
            );
            LOGGING_FAILURE.store(false, Ordering::Release);
        }
        ptr::null_mut()
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if let Some(block) = NonNull::new(block) {
            // SAFETY: the caller passes a block this allocator returned, with its layout.
            unsafe { self.inner.lock().0.deallocate(block, layout) };
        }
    }
}

/// Heap usage, for tests and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes handed out and not yet freed.
    pub used: usize,
    /// Bytes mapped for the heap.
    pub size: u64,
}

pub fn stats() -> HeapStats {
    let guard = HEAP.inner.lock();
    HeapStats { used: guard.0.used(), size: guard.1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::Rng;
    use crate::ktest::ktest;
    use alloc::vec::Vec;

    #[ktest(timeout = 60)]
    fn survives_a_stress_of_mixed_sizes_and_returns_every_byte() {
        let baseline = stats().used;
        let mut state = Rng::new(0x1234_5678_9abc_def1);
        let mut live: Vec<(Vec<u8>, u8)> = Vec::new();
        for round in 0..20_000u32 {
            let r = state.next_u64();
            if live.len() < 256 && (r % 3 != 0 || live.is_empty()) {
                // Sizes from 1 byte to 64 KiB, skewed small.
                let size = match r % 10 {
                    0 => (r >> 8) as usize % 65536 + 1,
                    1..=3 => (r >> 8) as usize % 4096 + 1,
                    _ => (r >> 8) as usize % 128 + 1,
                };
                let fill = round as u8;
                let mut block = Vec::with_capacity(size);
                block.resize(size, fill);
                live.push((block, fill));
            } else {
                let index = (r >> 16) as usize % live.len();
                let (block, fill) = live.swap_remove(index);
                assert!(block.iter().all(|&b| b == fill), "a block was overwritten");
            }
        }
        for (block, fill) in live.drain(..) {
            assert!(block.iter().all(|&b| b == fill), "a block was overwritten");
        }
        drop(live);
        assert_eq!(stats().used, baseline, "every byte came back");
    }

    #[ktest]
    fn grows_for_a_large_allocation() {
        let before = stats();
        let big: Vec<u8> = alloc::vec![0xa5; 3 << 20];
        assert!(stats().size >= before.size.max(3 << 20), "the heap grew to hold 3 MiB");
        assert!(big.iter().all(|&b| b == 0xa5));
        drop(big);
        assert_eq!(stats().used, before.used);
    }

    #[ktest]
    fn an_impossible_allocation_fails_cleanly() {
        let before = stats();
        let mut huge: Vec<u8> = Vec::new();
        assert!(huge.try_reserve_exact((HEAP_MAX_SIZE as usize) * 2).is_err());
        assert_eq!(stats().used, before.used);
        // The heap still works afterwards.
        let small = alloc::vec![1u8; 100];
        assert_eq!(small.len(), 100);
    }
}
