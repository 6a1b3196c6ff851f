//! The console's line discipline: echo, Backspace, Ctrl-C, Enter (CR, LF, CRLF once),
//! escape sequences swallowed, and a length limit.

use alloc::string::String;
use alloc::vec::Vec;

use crate::console;

/// Longest line kept; further characters are refused with a bell.
pub const MAX_LINE: usize = 1024;

const CTRL_C: u8 = 0x03;
const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7f;
const ESCAPE: u8 = 0x1b;
const BELL: &[u8] = b"\x07";

/// Where a line ended.
pub enum Line {
    /// Enter: the text typed.
    Complete(String),
    /// Ctrl-C: the line was dropped.
    Interrupted,
}

#[derive(Default)]
pub struct LineEditor {
    /// The previous byte was CR: a following LF is the same Enter.
    after_cr: bool,
}

/// Escape-sequence states: ESC, then `[` or `O`, then parameters until a final byte.
#[derive(PartialEq, Eq)]
enum Escape {
    None,
    Start,
    Sequence,
}

impl LineEditor {
    /// Reads one line from the console, echoing as it goes.
    pub fn read_line(&mut self) -> Line {
        let mut line: Vec<u8> = Vec::new();
        let mut escape = Escape::None;
        loop {
            let byte = console::read_byte();
            let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
            match escape {
                Escape::Start => {
                    escape = if byte == b'[' || byte == b'O' { Escape::Sequence } else { Escape::None };
                    continue;
                }
                Escape::Sequence => {
                    if (0x40..=0x7e).contains(&byte) {
                        escape = Escape::None;
                    }
                    continue;
                }
                Escape::None => {}
            }
            match byte {
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    console::write_bytes(b"\n");
                    return Line::Complete(String::from_utf8_lossy(&line).into_owned());
                }
                CTRL_C => {
                    console::write_bytes(b"^C\n");
                    return Line::Interrupted;
                }
                BACKSPACE | DELETE => {
                    if !line.is_empty() {
                        // Remove a whole UTF-8 character: its continuation bytes first.
                        while line.pop().is_some_and(|b| b & 0xc0 == 0x80) {}
                        console::write_bytes(b"\x08 \x08");
                    }
                }
                ESCAPE => escape = Escape::Start,
                b'\t' | 0x20..=0x7e | 0x80..=0xff => {
                    if line.len() < MAX_LINE {
                        line.push(byte);
                        console::write_bytes(&[byte]);
                    } else {
                        console::write_bytes(BELL);
                    }
                }
                _ => {}
            }
        }
    }
}
