//! The physical frame allocator: a hierarchical bitmap (`mm_core::frames`) over the
//! frames the bootloader left usable, O(log64 n) per allocation and free.

use bootloader_api::BootInfo;
use bootloader_api::info::MemoryRegionKind;
use mm_core::frames::{FrameBitmap, FrameError};
use spin::Mutex;

use super::{PAGE_SIZE, phys_to_virt};

static FRAMES: Mutex<Option<FrameBitmap<'static>>> = Mutex::new(None);

/// Frames below 1 MiB are never handed out: the BIOS data area, the EBDA and the
/// option ROMs live there, and /dev/mem users look at them.
const FIRST_ALLOCATABLE: u64 = 0x10_0000;

/// Counts for reports and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameStats {
    /// Frames the allocator manages (usable RAM above 1 MiB, less its own bitmap).
    pub managed: u64,
    pub free: u64,
}

impl FrameStats {
    pub const fn used(&self) -> u64 {
        self.managed - self.free
    }
}

static MANAGED: spin::Once<u64> = spin::Once::new();

/// The most usable regions the allocator keeps track of; past it, the rest is left out
/// with a warning (never silently).
const MAX_REGIONS: usize = 64;

/// The frames the allocator manages: usable RAM ranges [start, end), less the bitmap's
/// own storage. `free` refuses any other frame.
struct Managed {
    ranges: [(u64, u64); MAX_REGIONS],
    count: usize,
    storage: (u64, u64),
}

static MANAGED_RANGES: spin::Once<Managed> = spin::Once::new();

/// Whether the allocator manages the frame at `phys` (and so may take it back).
pub fn manages(phys: u64) -> bool {
    MANAGED_RANGES.get().is_some_and(|m| {
        !(m.storage.0..m.storage.1).contains(&phys)
            && m.ranges[..m.count].iter().any(|&(start, end)| (start..end).contains(&phys))
    })
}

pub(super) fn init(boot_info: &BootInfo) {
    let usable = || {
        boot_info.memory_regions.iter().filter(|r| r.kind == MemoryRegionKind::Usable).map(|r| {
            let start = r.start.max(FIRST_ALLOCATABLE).next_multiple_of(PAGE_SIZE);
            let end = r.end & !(PAGE_SIZE - 1);
            (start, end.max(start))
        })
    };
    let top = usable().map(|(_, end)| end).max().unwrap_or(0);
    let frames = top / PAGE_SIZE;
    let words = FrameBitmap::storage_words(frames);
    let bytes = (words * 8) as u64;
    let storage_frames = bytes.div_ceil(PAGE_SIZE);
    let Some((storage, _)) = usable().find(|(start, end)| end - start >= storage_frames * PAGE_SIZE) else {
        panic!("no usable region can hold the frame bitmap ({bytes} bytes)");
    };
    // SAFETY: [storage, storage + bytes) is usable RAM that nothing else owns: the
    // bootloader reported it free, and the bitmap below marks its frames used forever.
    let words_slice = unsafe { core::slice::from_raw_parts_mut(phys_to_virt(storage) as *mut u64, words) };
    let mut bitmap = FrameBitmap::new(words_slice, frames);
    let mut managed = 0;
    let mut ranges = [(0u64, 0u64); MAX_REGIONS];
    let mut count = 0;
    for (start, end) in usable() {
        if count == MAX_REGIONS {
            log::warn!("frames: more than {MAX_REGIONS} usable regions; {start:#x}-{end:#x} is not used");
            continue;
        }
        ranges[count] = (start, end);
        count += 1;
        for frame in (start / PAGE_SIZE)..(end / PAGE_SIZE) {
            let phys = frame * PAGE_SIZE;
            if (storage..storage + storage_frames * PAGE_SIZE).contains(&phys) {
                continue;
            }
            if bitmap.free(frame).is_ok() {
                managed += 1;
            }
        }
    }
    MANAGED.call_once(|| managed);
    MANAGED_RANGES.call_once(|| Managed {
        ranges,
        count,
        storage: (storage, storage + storage_frames * PAGE_SIZE),
    });
    *FRAMES.lock() = Some(bitmap);
}

fn with_bitmap<R>(f: impl FnOnce(&mut FrameBitmap<'static>) -> R) -> R {
    let mut guard = FRAMES.lock();
    f(guard.as_mut().expect("mm::init has set up the frame allocator"))
}

/// A free frame's physical address, now in use; `None` when memory is exhausted.
pub fn allocate() -> Option<u64> {
    with_bitmap(|bitmap| bitmap.allocate()).map(|frame| frame * PAGE_SIZE)
}

/// A free frame filled with zeros.
pub fn allocate_zeroed() -> Option<u64> {
    let phys = allocate()?;
    // SAFETY: the frame was just allocated, so nothing else refers to it; the direct map
    // covers it.
    unsafe { core::ptr::write_bytes(phys_to_virt(phys) as *mut u8, 0, PAGE_SIZE as usize) };
    Some(phys)
}

/// Returns a frame to the allocator. Errors (and changes nothing) for a frame it does
/// not manage or that is already free.
pub fn free(phys: u64) -> Result<(), FrameError> {
    // A frame the allocator never handed out (firmware, the bootloader's tables, the
    // kernel image, the bitmap itself) is refused, not taken in.
    if !phys.is_multiple_of(PAGE_SIZE) || phys < FIRST_ALLOCATABLE || !manages(phys) {
        return Err(FrameError::OutOfRange);
    }
    with_bitmap(|bitmap| bitmap.free(phys / PAGE_SIZE))
}

/// Whether the frame at `phys` is free.
pub fn is_free(phys: u64) -> bool {
    with_bitmap(|bitmap| bitmap.is_free(phys / PAGE_SIZE))
}

pub fn stats() -> FrameStats {
    FrameStats {
        managed: MANAGED.get().copied().unwrap_or(0),
        free: with_bitmap(|bitmap| bitmap.free_count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;
    use alloc::vec::Vec;

    #[ktest]
    fn frames_are_never_handed_out_twice_and_all_come_back() {
        let before = stats();
        let mut taken: Vec<u64> = (0..4000).map(|_| allocate().expect("a free frame")).collect();
        assert_eq!(stats().free, before.free - 4000);
        for &phys in &taken {
            assert_eq!(phys % PAGE_SIZE, 0);
            assert!(phys >= FIRST_ALLOCATABLE, "{phys:#x} is below 1 MiB");
            assert!(crate::mm::physmap::map().page_is_ram(phys), "{phys:#x} is not RAM");
            assert!(!is_free(phys));
        }
        taken.sort_unstable();
        let count = taken.len();
        taken.dedup();
        assert_eq!(taken.len(), count, "a frame was handed out twice");
        for &phys in &taken {
            free(phys).unwrap();
        }
        assert_eq!(stats(), before);
    }

    #[ktest]
    fn frames_the_allocator_never_managed_are_refused() {
        let before = stats();
        // The kernel's current page table (the bootloader made it), the frame holding the
        // kernel's code, the bitmap's storage, the first MiB, a frame past RAM.
        let root = crate::mm::paging::kernel_root();
        let code = crate::mm::paging::translate(
            frames_are_never_handed_out_twice_and_all_come_back as *const () as u64,
        )
        .expect("the kernel's code is mapped")
        .phys
            & !(PAGE_SIZE - 1);
        let storage = MANAGED_RANGES.get().expect("init ran").storage.0;
        for phys in [root, code, storage, 0x9f000, 0x1_0000_0000_0000] {
            assert!(!manages(phys), "{phys:#x} is not the allocator's");
            assert_eq!(free(phys), Err(FrameError::OutOfRange), "{phys:#x}");
        }
        assert_eq!(stats(), before, "nothing was taken in");
        // A frame it did hand out comes back.
        let frame = allocate().expect("a frame");
        assert!(manages(frame));
        assert_eq!(free(frame), Ok(()));
    }

    /// Prints the rate for the record; speed targets belong to `cargo xtask bench`.
    #[ktest(timeout = 30)]
    fn allocate_and_free_in_a_loop() {
        let before = stats();
        let rounds = 100_000;
        let start = crate::arch::timer::uptime_ns();
        let mut previous = 0;
        for _ in 0..rounds {
            let phys = allocate().unwrap();
            free(phys).unwrap();
            // The lowest free frame comes back every time: nothing leaks.
            assert!(previous == 0 || phys == previous);
            previous = phys;
        }
        let ns = (crate::arch::timer::uptime_ns() - start).max(1);
        assert_eq!(stats(), before);
        crate::println!("{} alloc+free pairs per second", rounds as u64 * 1_000_000_000 / ns);
    }

    #[ktest]
    fn bad_frees_are_refused() {
        let phys = allocate().unwrap();
        free(phys).unwrap();
        assert_eq!(free(phys), Err(FrameError::AlreadyFree));
        assert_eq!(free(phys + 1), Err(FrameError::OutOfRange));
        assert_eq!(free(0x1000), Err(FrameError::OutOfRange), "the first MiB is never managed");
        assert_eq!(free(1 << 50), Err(FrameError::OutOfRange));
    }

    #[ktest]
    fn the_bitmap_itself_is_not_free() {
        // The bitmap's storage is in use and counted out of `managed`.
        let stats = stats();
        assert!(stats.managed > 0 && stats.free <= stats.managed);
        let map = crate::mm::physmap::map();
        assert!(stats.managed * PAGE_SIZE < map.ram_bytes());
    }
}
