//! The console's line editor: echo, Backspace and Delete, Left/Right/Home/End, history
//! with Up/Down, Ctrl-A/E (start, end), Ctrl-U (erase to the start), Ctrl-W (erase a
//! word), Ctrl-L (clear the screen), Ctrl-C (drop the line), Ctrl-D (end of input on an
//! empty line), Enter (CR, LF, CRLF once), and a length limit.
//!
//! Typing at the end of the line echoes exactly what was typed (piped input stays byte
//! for byte what the script holds); editing elsewhere redraws the rest of the line with
//! VT100 sequences. Escape sequences it does not know are swallowed.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::console;

/// Longest line kept; further characters are refused with a bell.
pub const MAX_LINE: usize = 1024;
/// Lines of history kept.
const HISTORY: usize = 100;

const CTRL_A: u8 = 0x01;
const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const CTRL_E: u8 = 0x05;
const BACKSPACE: u8 = 0x08;
const CTRL_L: u8 = 0x0c;
const CTRL_U: u8 = 0x15;
const CTRL_W: u8 = 0x17;
const DELETE: u8 = 0x7f;
const ESCAPE: u8 = 0x1b;
const BELL: &[u8] = b"\x07";

/// Where a line ended.
pub enum Line {
    /// Enter: the text typed.
    Complete(String),
    /// Ctrl-C: the line was dropped.
    Interrupted,
    /// Ctrl-D on an empty line: no more input.
    EndOfInput,
}

#[derive(Default)]
pub struct LineEditor {
    /// The previous byte was CR: a following LF is the same Enter.
    after_cr: bool,
    history: VecDeque<String>,
}

/// Escape-sequence states: ESC, then `[` or `O`, then parameters until a final byte.
#[derive(PartialEq, Eq)]
enum Escape {
    None,
    Start,
    Sequence,
}

/// The line being edited and the cursor in it (a byte index, at a character boundary).
struct Edit<'p> {
    prompt: &'p str,
    text: Vec<u8>,
    cursor: usize,
}

impl Edit<'_> {
    /// Reprints the line from the cursor to its end, erases what was after it, and puts
    /// the terminal's cursor back.
    fn redraw_tail(&self, erased: usize) {
        let tail = &self.text[self.cursor..];
        console::write_bytes(tail);
        for _ in 0..erased {
            console::write_bytes(b" ");
        }
        for _ in 0..tail.len() + erased {
            console::write_bytes(b"\x08");
        }
    }

    fn insert(&mut self, byte: u8) {
        if self.text.len() >= MAX_LINE {
            console::write_bytes(BELL);
            return;
        }
        self.text.insert(self.cursor, byte);
        console::write_bytes(&[byte]);
        self.cursor += 1;
        if self.cursor < self.text.len() {
            self.redraw_tail(0);
        }
    }

    /// Removes the character before the cursor.
    fn backspace(&mut self) {
        if self.cursor == 0 {
            return;
        }
        let mut start = self.cursor - 1;
        while start > 0 && self.text[start] & 0xc0 == 0x80 {
            start -= 1;
        }
        self.text.drain(start..self.cursor);
        self.cursor = start;
        if self.cursor == self.text.len() {
            console::write_bytes(b"\x08 \x08");
        } else {
            console::write_bytes(b"\x08");
            self.redraw_tail(1);
        }
    }

    /// Removes the character under the cursor.
    fn delete(&mut self) {
        if self.cursor < self.text.len() {
            let mut end = self.cursor + 1;
            while end < self.text.len() && self.text[end] & 0xc0 == 0x80 {
                end += 1;
            }
            self.text.drain(self.cursor..end);
            self.redraw_tail(end - self.cursor);
        }
    }

    fn left(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            while self.cursor > 0 && self.text[self.cursor] & 0xc0 == 0x80 {
                self.cursor -= 1;
            }
            console::write_bytes(b"\x08");
        }
    }

    fn right(&mut self) {
        if self.cursor < self.text.len() {
            let start = self.cursor;
            self.cursor += 1;
            while self.cursor < self.text.len() && self.text[self.cursor] & 0xc0 == 0x80 {
                self.cursor += 1;
            }
            console::write_bytes(&self.text[start..self.cursor]);
        }
    }

    fn home(&mut self) {
        while self.cursor > 0 {
            self.left();
        }
    }

    fn end(&mut self) {
        while self.cursor < self.text.len() {
            self.right();
        }
    }

    /// Erases from the start of the line (Ctrl-U) or of the word (Ctrl-W) to the cursor.
    fn erase_back(&mut self, word: bool) {
        let mut start = self.cursor;
        if word {
            while start > 0 && self.text[start - 1] == b' ' {
                start -= 1;
            }
            while start > 0 && self.text[start - 1] != b' ' {
                start -= 1;
            }
        } else {
            start = 0;
        }
        let removed = self.cursor - start;
        for _ in 0..removed {
            console::write_bytes(b"\x08");
        }
        self.text.drain(start..self.cursor);
        self.cursor = start;
        self.redraw_tail(removed);
    }

    /// Replaces the whole line (history).
    fn replace(&mut self, text: &str) {
        self.end();
        let old = self.text.len();
        self.home();
        self.text = text.as_bytes().to_vec();
        self.cursor = 0;
        self.redraw_tail(old.saturating_sub(self.text.len()));
        self.end();
    }

    /// Ctrl-L: clears the screen and draws the prompt and line again.
    fn clear_screen(&mut self) {
        console::write_bytes(b"\x1b[H\x1b[2J");
        console::write_bytes(self.prompt.as_bytes());
        console::write_bytes(&self.text);
        for _ in self.cursor..self.text.len() {
            console::write_bytes(b"\x08");
        }
    }
}

impl LineEditor {
    /// Reads one line from the console after `prompt` (already printed), echoing and
    /// editing as it goes.
    pub fn read_line(&mut self, prompt: &str) -> Line {
        let mut edit = Edit { prompt, text: Vec::new(), cursor: 0 };
        let mut escape = Escape::None;
        let mut parameter: Vec<u8> = Vec::new();
        // Position in history while browsing with Up/Down; the line being typed is kept.
        let mut browsing: Option<usize> = None;
        let mut typed = String::new();
        loop {
            let byte = console::read_byte();
            let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
            match escape {
                Escape::Start => {
                    escape = if byte == b'[' || byte == b'O' { Escape::Sequence } else { Escape::None };
                    parameter.clear();
                    continue;
                }
                Escape::Sequence => {
                    if (0x40..=0x7e).contains(&byte) {
                        escape = Escape::None;
                        match (byte, parameter.as_slice()) {
                            (b'A', _) => {
                                let next = match browsing {
                                    None if !self.history.is_empty() => {
                                        typed = String::from_utf8_lossy(&edit.text).into_owned();
                                        Some(self.history.len() - 1)
                                    }
                                    Some(i) if i > 0 => Some(i - 1),
                                    other => other,
                                };
                                if next != browsing || next.is_some() {
                                    browsing = next;
                                    if let Some(i) = browsing {
                                        edit.replace(&self.history[i]);
                                    }
                                }
                            }
                            (b'B', _) => match browsing {
                                Some(i) if i + 1 < self.history.len() => {
                                    browsing = Some(i + 1);
                                    edit.replace(&self.history[i + 1]);
                                }
                                Some(_) => {
                                    browsing = None;
                                    edit.replace(&typed);
                                }
                                None => {}
                            },
                            (b'C', _) => edit.right(),
                            (b'D', _) => edit.left(),
                            (b'H', _) | (b'~', b"1") | (b'~', b"7") => edit.home(),
                            (b'F', _) | (b'~', b"4") | (b'~', b"8") => edit.end(),
                            (b'~', b"3") => edit.delete(),
                            _ => {}
                        }
                    } else {
                        parameter.push(byte);
                    }
                    continue;
                }
                Escape::None => {}
            }
            match byte {
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    edit.end();
                    console::write_bytes(b"\n");
                    let text = String::from_utf8_lossy(&edit.text).into_owned();
                    self.remember(&text);
                    return Line::Complete(text);
                }
                CTRL_C => {
                    edit.end();
                    console::write_bytes(b"^C\n");
                    return Line::Interrupted;
                }
                CTRL_D if edit.text.is_empty() => return Line::EndOfInput,
                CTRL_D => edit.delete(),
                CTRL_A => edit.home(),
                CTRL_E => edit.end(),
                CTRL_U => edit.erase_back(false),
                CTRL_W => edit.erase_back(true),
                CTRL_L => edit.clear_screen(),
                BACKSPACE | DELETE => edit.backspace(),
                ESCAPE => escape = Escape::Start,
                b'\t' | 0x20..=0x7e | 0x80..=0xff => edit.insert(byte),
                _ => {}
            }
        }
    }

    fn remember(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.back().is_some_and(|last| last == line) {
            return;
        }
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(String::from(line));
    }
}
