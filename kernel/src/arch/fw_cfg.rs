//! QEMU's firmware configuration device, read through its legacy I/O ports.
//!
//! The host passes small files to the kernel with `-fw_cfg name=opt/...,string=...`
//! (the test runner's resume state, for one). Reference: QEMU `docs/specs/fw_cfg.rst`.

use spin::Mutex;
use x86_64::instructions::port::Port;

const SELECTOR_PORT: u16 = 0x510;
const DATA_PORT: u16 = 0x511;
/// Selector of the 4-byte signature "QEMU".
const SIGNATURE_KEY: u16 = 0x0000;
/// Selector of the file directory: a big-endian u32 count, then 64-byte entries.
const FILE_DIR_KEY: u16 = 0x0019;
/// Selector of the feature bitmap (little-endian u32).
const FEATURES_KEY: u16 = 0x0001;
/// Feature bit: the DMA interface exists.
const FEATURE_DMA: u32 = 1 << 1;
/// The DMA address register: two big-endian 32-bit halves, high at 0x514, low at 0x518.
const DMA_ADDRESS_PORT: u16 = 0x514;
const DMA_ERROR: u32 = 1 << 0;
const DMA_READ: u32 = 1 << 1;
const DMA_SELECT: u32 = 1 << 3;
/// Size of a directory entry: size (u32 BE), select (u16 BE), reserved (u16), name [u8; 56].
const DIR_ENTRY_LEN: usize = 64;
const NAME_LEN: usize = 56;

/// The device's two ports; selecting an item and reading it must not interleave.
static PORTS: Mutex<()> = Mutex::new(());

/// Reads the fw_cfg file `name` into `buf`; returns the file's full size, which may be
/// larger than what fitted. `None` when there is no fw_cfg device or no such file.
pub fn read_file(name: &str, buf: &mut [u8]) -> Option<usize> {
    let _guard = PORTS.lock();
    let (size, key) = find_locked(name)?;
    let size = size as usize;
    let len = size.min(buf.len());
    select_and_read(key, &mut buf[..len]);
    Some(size)
}

/// A file in the fw_cfg directory: its size in bytes and its selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub size: u32,
    key: u16,
}

/// Looks `name` up in the fw_cfg directory. `None` when there is no fw_cfg device, no
/// such file, or the device has no DMA interface (large files are read by DMA only: the
/// one-byte data port costs a trap per byte under emulation).
pub fn find_dma_file(name: &str) -> Option<FileEntry> {
    let _guard = PORTS.lock();
    let (size, key) = find_locked(name)?;
    let mut features = [0u8; 4];
    select_and_read(FEATURES_KEY, &mut features);
    (u32::from_le_bytes(features) & FEATURE_DMA != 0).then_some(FileEntry { size, key })
}

/// The DMA interface's descriptor (QEMU `docs/specs/fw_cfg.rst`, "FWCfgDmaAccess"): all
/// fields big-endian; the device clears `control` when the transfer is done, or leaves
/// the error bit set.
#[repr(C, align(16))]
#[derive(Debug, Default)]
pub struct DmaAccess {
    control: u32,
    length: u32,
    address: u64,
}

/// The device set the DMA descriptor's error bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaError;

/// Copies `len` bytes of `file` into physical memory at `dst_phys` by DMA: from the
/// file's start when `from_start`, else from where the previous transfer of the same
/// file ended. `Err(DmaError)` when the device reports an error.
///
/// # Safety
///
/// `descriptor_phys` is the physical address of `descriptor`; the caller owns the
/// physical memory `[dst_phys, dst_phys + len)` (no Rust reference to it is used during
/// the call, and it is RAM, not a device); the device writes it.
pub unsafe fn dma_read(
    descriptor: &mut DmaAccess,
    descriptor_phys: u64,
    file: FileEntry,
    from_start: bool,
    dst_phys: u64,
    len: u32,
) -> Result<(), DmaError> {
    let _guard = PORTS.lock();
    let mut control = DMA_READ;
    if from_start {
        control |= DMA_SELECT | (u32::from(file.key) << 16);
    }
    descriptor.control = control.to_be();
    descriptor.length = len.to_be();
    descriptor.address = dst_phys.to_be();
    let descriptor_ptr: *mut DmaAccess = descriptor;
    // The device reads the descriptor from memory: the stores above must be done first.
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    let mut high = Port::<u32>::new(DMA_ADDRESS_PORT);
    let mut low = Port::<u32>::new(DMA_ADDRESS_PORT + 4);
    // SAFETY: the two writes give the device the descriptor's physical address (big-endian
    // halves, the low one starting the transfer); the caller guarantees that address and
    // that the destination is memory it owns. QEMU completes the transfer before the
    // write returns.
    unsafe {
        high.write(((descriptor_phys >> 32) as u32).to_be());
        low.write((descriptor_phys as u32).to_be());
    }
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    loop {
        // SAFETY: `descriptor_ptr` points at the caller's descriptor, alive for the call;
        // a volatile read sees the device's update of `control`.
        let control = u32::from_be(unsafe { core::ptr::read_volatile(&raw const (*descriptor_ptr).control) });
        if control & DMA_ERROR != 0 {
            return Err(DmaError);
        }
        if control == 0 {
            return Ok(());
        }
        core::hint::spin_loop();
    }
}

/// The size and selector of `name` in the directory; the caller holds `PORTS`.
fn find_locked(name: &str) -> Option<(u32, u16)> {
    let mut signature = [0u8; 4];
    select_and_read(SIGNATURE_KEY, &mut signature);
    if &signature != b"QEMU" {
        return None;
    }
    let mut count = [0u8; 4];
    select_and_read(FILE_DIR_KEY, &mut count);
    // Entries follow the count in the same item, so keep reading without reselecting.
    for _ in 0..u32::from_be_bytes(count) {
        let mut entry = [0u8; DIR_ENTRY_LEN];
        read_data(&mut entry);
        if let Some(found) = matching_entry(&entry, name) {
            return Some(found);
        }
    }
    None
}

/// The size and selector of the file `entry` describes, if its name is `name`.
fn matching_entry(entry: &[u8; DIR_ENTRY_LEN], name: &str) -> Option<(u32, u16)> {
    let size = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
    let key = u16::from_be_bytes([entry[4], entry[5]]);
    let raw_name = &entry[8..8 + NAME_LEN];
    let end = raw_name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    (&raw_name[..end] == name.as_bytes() && key != 0).then_some((size, key))
}

fn select_and_read(key: u16, buf: &mut [u8]) {
    let mut selector = Port::<u16>::new(SELECTOR_PORT);
    // SAFETY: writing a selector to fw_cfg only chooses which item the data port
    // returns; it has no effect on memory. Without the device the write goes nowhere.
    unsafe { selector.write(key) };
    read_data(buf);
}

fn read_data(buf: &mut [u8]) {
    let mut data = Port::<u8>::new(DATA_PORT);
    for byte in buf {
        // SAFETY: reading the fw_cfg data port returns the next byte of the selected
        // item (or 0xff without the device); it has no effect on memory.
        *byte = unsafe { data.read() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;

    #[ktest]
    fn a_missing_file_reads_as_none() {
        assert_eq!(read_file("opt/devmem/no-such-file", &mut [0u8; 8]), None);
    }

    #[ktest]
    fn directory_entries_match_by_exact_name() {
        let mut entry = [0u8; DIR_ENTRY_LEN];
        entry[..4].copy_from_slice(&12u32.to_be_bytes());
        entry[4..6].copy_from_slice(&0x0020u16.to_be_bytes());
        entry[8..8 + 9].copy_from_slice(b"opt/a/b.c");
        assert_eq!(matching_entry(&entry, "opt/a/b.c"), Some((12, 0x20)));
        assert_eq!(matching_entry(&entry, "opt/a/b"), None);
        assert_eq!(matching_entry(&entry, "opt/a/b.cd"), None);
    }
}
