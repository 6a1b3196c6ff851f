//! Splitting a command line into words the way a POSIX shell's tokenizer does for the subset this
//! shell has: blanks, quotes, backslashes, `$?` and comments (busybox `shell/ash.c` `readtoken1`,
//! POSIX XCU 2.2-2.3).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// Why a line could not be split (busybox `ash`: "unterminated quoted string").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexError {
    /// A `'` or `"` without its closing quote.
    UnterminatedQuote,
}

/// The word being built, and whether one has started even if still empty (`''` is a word).
struct Word {
    text: String,
    started: bool,
}

impl Word {
    fn push(&mut self, c: char) {
        self.text.push(c);
        self.started = true;
    }

    fn push_status(&mut self, status: i32) {
        // Writing into a String cannot fail.
        let _ = write!(self.text, "{status}");
        self.started = true;
    }

    fn take(&mut self, words: &mut Vec<String>) {
        if self.started {
            words.push(core::mem::take(&mut self.text));
            self.started = false;
        }
    }
}

/// The words of `line` with `$?` replaced by `last_status` (busybox `shell/ash.c` tokenizer and `$?` expansion).
///
/// Blanks are spaces and tabs. `'...'` is literal; in `"..."`, `$?` expands and `\"`, `\\`, `\$`
/// are escapes (any other backslash stays); outside quotes a backslash takes the next character
/// literally (a backslash at the end of the line stays a backslash). Quoted and unquoted parts
/// next to each other form one word. An unquoted `#` at the start of a word starts a comment.
pub fn split_line(line: &str, last_status: i32) -> Result<Vec<String>, LexError> {
    let mut words = Vec::new();
    let mut word = Word { text: String::new(), started: false };
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => word.take(&mut words),
            '#' if !word.started => break,
            '\\' => word.push(chars.next().unwrap_or('\\')),
            '$' if chars.peek() == Some(&'?') => {
                chars.next();
                word.push_status(last_status);
            }
            '\'' => {
                word.started = true;
                loop {
                    match chars.next() {
                        None => return Err(LexError::UnterminatedQuote),
                        Some('\'') => break,
                        Some(inner) => word.push(inner),
                    }
                }
            }
            '"' => {
                word.started = true;
                loop {
                    match chars.next() {
                        None => return Err(LexError::UnterminatedQuote),
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            Some(&next @ ('"' | '\\' | '$')) => {
                                chars.next();
                                word.push(next);
                            }
                            _ => word.push('\\'),
                        },
                        Some('$') if chars.peek() == Some(&'?') => {
                            chars.next();
                            word.push_status(last_status);
                        }
                        Some(inner) => word.push(inner),
                    }
                }
            }
            other => word.push(other),
        }
    }
    word.take(&mut words);
    Ok(words)
}
