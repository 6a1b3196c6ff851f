//! POSIX `getopt(3)` as an iterator (POSIX XSH getopt, busybox/glibc `getopt` without GNU
//! permutation): options stop at the first operand.

use alloc::string::String;
use core::fmt;

/// What `getopt` reports with `'?'` (glibc `posix/getopt.c` messages, see the `Display` impl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetoptError {
    /// An option letter not in the option string.
    Unknown(char),
    /// An option that takes an argument came last.
    MissingArgument(char),
}

impl fmt::Display for GetoptError {
    /// glibc's texts, to follow `TOOL: ` (glibc `posix/getopt.c`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetoptError::Unknown(c) => write!(f, "invalid option -- '{c}'"),
            GetoptError::MissingArgument(c) => write!(f, "option requires an argument -- '{c}'"),
        }
    }
}

/// The state of one getopt scan over `args` (POSIX `optind` plus glibc's `nextchar`).
#[derive(Debug)]
pub struct Getopt<'a> {
    args: &'a [String],
    optstring: &'a str,
    /// Index of the argument being scanned (POSIX `optind`).
    index: usize,
    /// Byte position inside `args[index]` of the next option letter; 0 between arguments.
    pos: usize,
    done: bool,
}

impl<'a> Getopt<'a> {
    /// A scan of `args` (`args[0]` is the command name) against `optstring` such as `"ab:"` (POSIX getopt).
    ///
    /// A letter followed by `:` takes an argument; a leading `:` (POSIX's quiet mode) is ignored.
    pub fn new(args: &'a [String], optstring: &'a str) -> Self {
        let optstring = optstring.strip_prefix(':').unwrap_or(optstring);
        Getopt { args, optstring, index: 1, pos: 0, done: false }
    }

    /// The arguments after the options (`argv + optind`); complete once the iterator ended or failed.
    pub fn operands(&self) -> &'a [String] {
        &self.args[self.index.min(self.args.len())..]
    }

    /// Whether `c` is an option, and whether it takes an argument.
    fn lookup(&self, c: char) -> Option<bool> {
        if c == ':' {
            return None;
        }
        let at = self.optstring.find(c)?;
        Some(self.optstring[at + c.len_utf8()..].starts_with(':'))
    }

    fn next_argument(&mut self) {
        self.index += 1;
        self.pos = 0;
    }
}

impl<'a> Iterator for Getopt<'a> {
    type Item = Result<(char, Option<&'a str>), GetoptError>;

    /// The next option, `None` at the first operand, `--` or the end (POSIX getopt returning -1).
    ///
    /// After an error the scan stops: the iterator returns `None` from then on.
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let args = self.args;
        if self.pos == 0 {
            let arg = match args.get(self.index) {
                Some(arg) => arg.as_str(),
                None => {
                    self.done = true;
                    return None;
                }
            };
            if arg == "--" {
                self.index += 1;
                self.done = true;
                return None;
            }
            if arg.len() < 2 || !arg.starts_with('-') {
                self.done = true;
                return None;
            }
            self.pos = 1;
        }
        let arg = args[self.index].as_str();
        let c = arg[self.pos..].chars().next()?;
        self.pos += c.len_utf8();
        let at_end = self.pos >= arg.len();
        match self.lookup(c) {
            None => {
                self.next_argument();
                self.done = true;
                Some(Err(GetoptError::Unknown(c)))
            }
            Some(false) => {
                if at_end {
                    self.next_argument();
                }
                Some(Ok((c, None)))
            }
            Some(true) if !at_end => {
                let value = &arg[self.pos..];
                self.next_argument();
                Some(Ok((c, Some(value))))
            }
            Some(true) => match args.get(self.index + 1) {
                Some(value) => {
                    self.index += 2;
                    self.pos = 0;
                    Some(Ok((c, Some(value.as_str()))))
                }
                None => {
                    self.next_argument();
                    self.done = true;
                    Some(Err(GetoptError::MissingArgument(c)))
                }
            },
        }
    }
}
