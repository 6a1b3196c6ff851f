//! `hexdump -C`'s canonical format, fed in pieces (util-linux `text-utils/hexdump.c` with the
//! `-C` format `"%08.8_Ax\n" "%08.8_ax  " 8/1 "%02x " "  " 8/1 "%02x " "  |" 16/1 "%_p" "|\n"`,
//! and the duplicate folding of `text-utils/hexdump-display.c` `get`).

use alloc::string::String;
use core::fmt::Write;

/// Bytes per canonical line (util-linux `hexdump -C` blocksize).
const LINE: usize = 16;

/// A `hexdump -C` in progress (util-linux `text-utils/hexdump-display.c` state: address, saved block, `vflag`).
#[derive(Debug)]
pub struct Canonical {
    /// Offset of the first byte in `buf`.
    offset: u64,
    wide: bool,
    buf: [u8; LINE],
    len: usize,
    /// The last full line printed, for folding repeats.
    previous: Option<[u8; LINE]>,
    /// Whether the `*` for the current run of repeats has been printed.
    starred: bool,
}

impl Canonical {
    /// A dump whose first byte is at `start_offset`; `wide` prints offsets with 16 hex digits (util-linux `hexdump -C -s`).
    pub fn new(start_offset: u64, wide: bool) -> Self {
        Canonical { offset: start_offset, wide, buf: [0; LINE], len: 0, previous: None, starred: false }
    }

    /// Appends the lines `data` completes to `out`, keeping a partial line for later (util-linux `display`).
    pub fn push(&mut self, data: &[u8], out: &mut String) {
        let mut data = data;
        while !data.is_empty() {
            let take = (LINE - self.len).min(data.len());
            self.buf[self.len..self.len + take].copy_from_slice(&data[..take]);
            self.len += take;
            data = &data[take..];
            if self.len == LINE {
                self.full_line(out);
            }
        }
    }

    /// Prints the last partial line, if any, and the final offset line (util-linux `display` end and `%_A`).
    pub fn finish(mut self, out: &mut String) {
        if self.len > 0 {
            let len = self.len;
            self.write_line(len, out);
            self.offset = self.offset.wrapping_add(len as u64);
        }
        self.write_offset(self.offset, out);
        out.push('\n');
    }

    fn full_line(&mut self, out: &mut String) {
        if self.previous == Some(self.buf) {
            if !self.starred {
                out.push_str("*\n");
                self.starred = true;
            }
        } else {
            self.write_line(LINE, out);
            self.previous = Some(self.buf);
            self.starred = false;
        }
        self.offset = self.offset.wrapping_add(LINE as u64);
        self.len = 0;
    }

    fn write_offset(&self, offset: u64, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = if self.wide { write!(out, "{offset:016x}") } else { write!(out, "{offset:08x}") };
    }

    /// One canonical line of the first `len` bytes of `buf`, padded so that `|` lines up.
    fn write_line(&self, len: usize, out: &mut String) {
        self.write_offset(self.offset, out);
        out.push_str("  ");
        for index in 0..LINE {
            if index == LINE / 2 {
                out.push(' ');
            }
            match self.buf[..len].get(index) {
                Some(byte) => {
                    let _ = write!(out, "{byte:02x} ");
                }
                None => out.push_str("   "),
            }
        }
        out.push_str(" |");
        out.extend(
            self.buf[..len].iter().map(|&b| if (0x20..=0x7e).contains(&b) { char::from(b) } else { '.' }),
        );
        out.push_str("|\n");
    }
}
