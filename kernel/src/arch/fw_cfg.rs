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
/// Size of a directory entry: size (u32 BE), select (u16 BE), reserved (u16), name [u8; 56].
const DIR_ENTRY_LEN: usize = 64;
const NAME_LEN: usize = 56;

/// The device's two ports; selecting an item and reading it must not interleave.
static PORTS: Mutex<()> = Mutex::new(());

/// Reads the fw_cfg file `name` into `buf`; returns the file's full size, which may be
/// larger than what fitted. `None` when there is no fw_cfg device or no such file.
pub fn read_file(name: &str, buf: &mut [u8]) -> Option<usize> {
    let _guard = PORTS.lock();
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
        if let Some((size, key)) = matching_entry(&entry, name) {
            let size = size as usize;
            let len = size.min(buf.len());
            select_and_read(key, &mut buf[..len]);
            return Some(size);
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
