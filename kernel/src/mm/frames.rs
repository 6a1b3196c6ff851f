//! The physical frame allocator: a hierarchical bitmap (`mm_core::frames`) over the
//! frames the bootloader left usable, O(log64 n) per allocation and free.

use bootloader_api::BootInfo;
use bootloader_api::info::MemoryRegionKind;
use mm_core::frames::{FrameBitmap, FrameError};
use spin::Mutex;
use x86_64::PhysAddr;
use x86_64::structures::paging::PhysFrame;

use super::{PAGE_SIZE, phys_to_virt};

/// The allocator's state: which frames are free, and which it manages at all.
struct Frames {
    free: FrameBitmap<'static>,
    /// A frame is "free" here when the allocator manages it (usable RAM above 1 MiB, not
    /// the bitmaps' own storage): `free` refuses every other frame, so a stray free of a
    /// reserved, ROM, kernel-image or page-table frame can never hand it out later.
    managed: FrameBitmap<'static>,
}

static FRAMES: Mutex<Option<Frames>> = Mutex::new(None);

/// Frames below 1 MiB are never handed out: the BIOS data area, the EBDA and the
/// option ROMs live there, and /dev/mem users look at them.
pub(super) const FIRST_ALLOCATABLE: u64 = 0x10_0000;

/// The AP trampoline's pages (`arch::smp`): below [`FIRST_ALLOCATABLE`], so the
/// allocator never hands them out and they stay the start-up code's.
const _: () = assert!(
    crate::arch::smp::TRAMPOLINE_PHYS + crate::arch::smp::TRAMPOLINE_LEN <= FIRST_ALLOCATABLE,
    "the AP trampoline must lie below the frames the allocator manages"
);

/// Whether the firmware reported the trampoline's pages as usable RAM.
static TRAMPOLINE_USABLE: spin::Once<bool> = spin::Once::new();

/// Whether the AP trampoline's pages are RAM that nothing else uses: usable in the
/// bootloader's map, and below the frames the allocator hands out.
pub fn trampoline_usable() -> bool {
    TRAMPOLINE_USABLE.get().copied().unwrap_or(false)
}

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

/// `direct_map_tables`: the frames mm::direct_map took for its page tables, at the start
/// of a usable region; they are never managed. `page_is_ram`: the physical map's word
/// on a page (a frame it does not call System RAM is never managed).
pub(super) fn init(
    boot_info: &BootInfo,
    direct_map_tables: core::ops::Range<u64>,
    page_is_ram: impl Fn(u64) -> bool,
) {
    let (low, high) = (
        crate::arch::smp::TRAMPOLINE_PHYS,
        crate::arch::smp::TRAMPOLINE_PHYS + crate::arch::smp::TRAMPOLINE_LEN,
    );
    TRAMPOLINE_USABLE.call_once(|| {
        boot_info
            .memory_regions
            .iter()
            .any(|r| r.kind == MemoryRegionKind::Usable && r.start <= low && high <= r.end)
    });
    let usable = || {
        boot_info.memory_regions.iter().filter(|r| r.kind == MemoryRegionKind::Usable).map(|r| {
            let mut start = r.start.max(FIRST_ALLOCATABLE).next_multiple_of(PAGE_SIZE);
            if start == direct_map_tables.start {
                start = direct_map_tables.end;
            }
            let end = r.end & !(PAGE_SIZE - 1);
            (start, end.max(start))
        })
    };
    let top = usable().map(|(_, end)| end).max().unwrap_or(0);
    let frames = top / PAGE_SIZE;
    let words = FrameBitmap::storage_words(frames);
    // Two bitmaps: free frames, then managed frames.
    let bytes = (2 * words * 8) as u64;
    let storage_frames = bytes.div_ceil(PAGE_SIZE);
    let all_ram = |start: u64, len: u64| (start..start + len).step_by(PAGE_SIZE as usize).all(&page_is_ram);
    let Some((storage, _)) = usable().find(|&(start, end)| {
        end - start >= storage_frames * PAGE_SIZE && all_ram(start, storage_frames * PAGE_SIZE)
    }) else {
        panic!("no usable region can hold the frame bitmap ({bytes} bytes)");
    };
    // SAFETY: [storage, storage + bytes) is usable RAM that nothing else owns: the
    // bootloader reported it free, and the bitmaps below mark its frames used forever.
    let all = unsafe {
        core::slice::from_raw_parts_mut(phys_to_virt(PhysAddr::new(storage)).as_mut_ptr(), 2 * words)
    };
    let (free_words, managed_words) = all.split_at_mut(words);
    let mut bitmap = FrameBitmap::new(free_words, frames);
    let mut managed_set = FrameBitmap::new(managed_words, frames);
    let mut managed = 0;
    for (start, end) in usable() {
        for frame in (start / PAGE_SIZE)..(end / PAGE_SIZE) {
            let phys = frame * PAGE_SIZE;
            if (storage..storage + storage_frames * PAGE_SIZE).contains(&phys) {
                continue;
            }
            // The bootloader's "usable" and the physical map agree on what is RAM: a frame
            // that another firmware region overlaps (the map gives the other kind
            // precedence) is never handed out.
            if !page_is_ram(phys) {
                continue;
            }
            if bitmap.free(frame).is_ok() {
                let _ = managed_set.free(frame);
                managed += 1;
            }
        }
    }
    MANAGED.call_once(|| managed);
    STORAGE.call_once(|| storage);
    *FRAMES.lock() = Some(Frames { free: bitmap, managed: managed_set });
}

/// The physical address of the bitmaps' storage (frames the allocator never manages).
static STORAGE: spin::Once<u64> = spin::Once::new();

fn with_frames<R>(f: impl FnOnce(&mut Frames) -> R) -> R {
    let mut guard = FRAMES.lock();
    f(guard.as_mut().expect("mm::init has set up the frame allocator"))
}

fn with_bitmap<R>(f: impl FnOnce(&mut FrameBitmap<'static>) -> R) -> R {
    with_frames(|frames| f(&mut frames.free))
}

/// A free frame, now in use; `None` when memory is exhausted.
pub fn allocate() -> Option<PhysFrame> {
    with_bitmap(|bitmap| bitmap.allocate()).map(PhysFrame::from_pfn)
}

/// A free frame filled with zeros.
pub fn allocate_zeroed() -> Option<PhysFrame> {
    let frame = allocate()?;
    let va = phys_to_virt(frame.start_address());
    // SAFETY: the frame was just allocated, so nothing else refers to it; the direct map
    // covers it.
    unsafe { core::ptr::write_bytes(va.as_mut_ptr::<u8>(), 0, PAGE_SIZE as usize) };
    Some(frame)
}

/// Returns a frame to the allocator. Errors (and changes nothing) for a frame it does
/// not manage (`OutOfRange`: not usable RAM, below 1 MiB, the bitmaps' own storage) or
/// that is already free. A frame the allocator never handed out but manages is the
/// caller's to give (only `allocate` hands managed frames out).
pub fn free(frame: PhysFrame) -> Result<(), FrameError> {
    if frame.start_address().as_u64() < FIRST_ALLOCATABLE {
        return Err(FrameError::OutOfRange);
    }
    let pfn = frame.pfn();
    with_frames(|frames| {
        if !frames.managed.is_free(pfn) {
            return Err(FrameError::OutOfRange);
        }
        frames.free.free(pfn)
    })
}

/// Whether the allocator manages `frame` (hands it out and takes it back).
pub fn is_managed(frame: PhysFrame) -> bool {
    with_frames(|frames| frames.managed.is_free(frame.pfn()))
}

/// Whether `frame` is free.
pub fn is_free(frame: PhysFrame) -> bool {
    with_bitmap(|bitmap| bitmap.is_free(frame.pfn()))
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

    fn frame(phys: u64) -> PhysFrame {
        PhysFrame::containing_address(PhysAddr::new(phys))
    }

    #[ktest]
    fn every_managed_frame_is_ram_the_map_agrees_on() {
        use mm_core::physmap::RegionKind;
        let map = crate::mm::physmap::map();
        let top =
            map.regions().iter().filter(|r| r.kind == RegionKind::SystemRam).map(|r| r.end).max().unwrap();
        let mut managed = 0;
        for phys in (0..top).step_by(PAGE_SIZE as usize) {
            if is_managed(frame(phys)) {
                assert!(map.page_is_ram(phys), "frame {phys:#x} is managed but not System RAM");
                managed += 1;
            }
        }
        assert_eq!(managed, stats().managed, "the counted frames are the managed ones");
        // Nor are the direct map's own tables, the bitmaps or the first MiB.
        assert!(!is_managed(frame(0x1000)));
    }

    #[ktest]
    fn frames_are_never_handed_out_twice_and_all_come_back() {
        let before = stats();
        let mut taken: Vec<u64> =
            (0..4000).map(|_| allocate().expect("a free frame").start_address().as_u64()).collect();
        assert_eq!(stats().free, before.free - 4000);
        for &phys in &taken {
            assert_eq!(phys % PAGE_SIZE, 0);
            assert!(phys >= FIRST_ALLOCATABLE, "{phys:#x} is below 1 MiB");
            assert!(crate::mm::physmap::map().page_is_ram(phys), "{phys:#x} is not RAM");
            assert!(!is_free(frame(phys)));
        }
        taken.sort_unstable();
        let count = taken.len();
        taken.dedup();
        assert_eq!(taken.len(), count, "a frame was handed out twice");
        for &phys in &taken {
            free(frame(phys)).unwrap();
        }
        assert_eq!(stats(), before);
    }

    /// Prints the rate for the record; speed targets belong to `cargo xtask bench`.
    #[ktest(timeout = 30)]
    fn allocate_and_free_in_a_loop() {
        let before = stats();
        let rounds = 100_000;
        let start = crate::arch::timer::uptime_ns();
        let mut previous = None;
        for _ in 0..rounds {
            let taken = allocate().unwrap();
            free(taken).unwrap();
            // The lowest free frame comes back every time: nothing leaks.
            assert!(previous.is_none_or(|previous| taken == previous));
            previous = Some(taken);
        }
        let ns = (crate::arch::timer::uptime_ns() - start).max(1);
        assert_eq!(stats(), before);
        crate::println!("{} alloc+free pairs per second", rounds as u64 * 1_000_000_000 / ns);
    }

    #[ktest]
    fn bad_frees_are_refused() {
        let taken = allocate().unwrap();
        free(taken).unwrap();
        assert_eq!(free(taken), Err(FrameError::AlreadyFree));
        // A misaligned address is not a frame at all.
        assert!(
            PhysFrame::<x86_64::structures::paging::Size4KiB>::from_start_address(taken.start_address() + 1)
                .is_err()
        );
        assert_eq!(free(frame(0x1000)), Err(FrameError::OutOfRange), "the first MiB is never managed");
        assert_eq!(free(frame(1 << 50)), Err(FrameError::OutOfRange));
    }

    #[ktest]
    fn frames_the_allocator_does_not_manage_are_refused() {
        let before = stats();
        // The bitmaps' own storage, a frame of the kernel's page tables and the kernel
        // image: RAM in range of the bitmap, but never the allocator's.
        let storage = *STORAGE.get().unwrap();
        let root = crate::mm::paging::kernel_root();
        let code = crate::mm::paging::translate(x86_64::VirtAddr::from_ptr(
            frames_the_allocator_does_not_manage_are_refused as *const (),
        ))
        .unwrap()
        .phys;
        for phys in [frame(storage), root, PhysFrame::containing_address(code)] {
            assert!(!is_managed(phys), "{phys:?}");
            assert_eq!(free(phys), Err(FrameError::OutOfRange), "{phys:?} was accepted");
            assert!(!is_free(phys), "{phys:?} became allocatable");
        }
        // A hole or reserved frame below the top of RAM, if the map has one.
        let map = crate::mm::physmap::map();
        if let Some(hole) =
            (0x10_0000..map.end()).step_by(PAGE_SIZE as usize).take(1 << 20).find(|&p| !map.page_is_ram(p))
        {
            assert_eq!(free(frame(hole)), Err(FrameError::OutOfRange), "{hole:#x}");
        }
        assert_eq!(stats(), before);
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
