//! memcontrol(8)'s command line, help texts and listing format (FreeBSD
//! `usr.sbin/memcontrol/memcontrol.c`). The kernel shell does the MEMRANGE_GET/SET ioctls.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use memrange::{FLAG_NAMES, MDF_ACTIVE, MDF_FORCE, MDF_UNCACHEABLE, MDF_WRITEBACK, MDF_WRITECOMBINE};
use memrange::{MDF_WRITEPROTECT, MDF_WRITETHROUGH, MemRangeDesc};

use crate::getopt::Getopt;
use crate::num::{NumError, parse_u64};

/// What a memcontrol command line asks for (FreeBSD `usr.sbin/memcontrol/memcontrol.c` `functions[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Memcontrol {
    /// `list [-a] [-o owner]`: print the ranges (`listfunc`).
    List {
        /// `-a`: inactive slots too.
        all: bool,
        /// `-o`: only ranges of this owner.
        owner: Option<String>,
    },
    /// `set -b -l [-o] attr...`: MEMRANGE_SET with MEMRANGE_SET_UPDATE (`setfunc`).
    Set {
        /// The range, flags and owner to set.
        desc: MemRangeDesc,
    },
    /// `clear -o owner`: remove every ACTIVE, non-FIXACTIVE range of this owner, warning on failure (`clearfunc`).
    ClearOwner {
        /// The owner.
        owner: String,
    },
    /// `clear -b -l`: remove exactly this range, fatal on failure (`clearfunc`).
    ClearRange {
        /// The base address.
        base: u64,
        /// The length.
        len: u64,
    },
    /// `help [command]`: print [`help_text`] to stderr, exit status 0 (`helpfunc`).
    Help {
        /// The command asked about.
        topic: Option<String>,
    },
}

/// A refused command line: print `help_text(topic)` to stderr and exit 1 (FreeBSD `memcontrol.c` `help(what)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelpTopic(pub Option<String>);

/// The attributes `set` accepts (FreeBSD `memcontrol.c` `attrnames[]` entries with `MDF_SETTABLE`).
const SETTABLE: i32 = MDF_UNCACHEABLE
    | MDF_WRITECOMBINE
    | MDF_WRITETHROUGH
    | MDF_WRITEBACK
    | MDF_WRITEPROTECT
    | MDF_FORCE
    | MDF_ACTIVE;

/// The command descriptions (FreeBSD `memcontrol.c` `functions[].desc`).
const COMMANDS: [(&str, &str); 3] = [
    (
        "list",
        "List current memory range attributes\n    list [-a] [-o <owner>]\n        \
         -a    list all range slots, even those that are inactive\n        \
         -o    list only the ranges with this owner",
    ),
    (
        "set",
        "Set memory range attributes\n    set -b <base> -l <length> -o <owner> <attribute>\n        \
         <base>      memory range base address\n        \
         <length>    length of memory range in bytes, power of 2\n        \
         <owner>     text identifier for this setting (7 char max)\n        \
         <attribute> attribute(s) to be applied to this range:\n                        \
         uncacheable\n                        write-combine\n                        \
         write-through\n                        write-back\n                        write-protect",
    ),
    (
        "clear",
        "Clear memory range attributes\n    clear -o <owner>\n        \
         <owner>     all ranges with this owner will be cleared\n    \
         clear -b <base> -l <length>\n        <base>      memory range base address\n        \
         <length>    length of memory range in bytes, power of 2\n                    \
         Base and length must exactly match an existing range",
    ),
];

/// What `help(topic)` prints to stderr (FreeBSD `memcontrol.c` `help`).
pub fn help_text(topic: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(topic) = topic {
        if let Some((_, desc)) = COMMANDS.iter().find(|(name, _)| *name == topic) {
            out.push_str(desc);
            out.push('\n');
            return out;
        }
        // Writing into a String cannot fail.
        let _ = writeln!(out, "Unknown command '{topic}'");
    }
    out.push_str("Valid commands are :\n");
    for (name, _) in COMMANDS {
        let _ = writeln!(out, "    {name}");
    }
    out.push_str("Use help <command> for command-specific help\n");
    out
}

fn help(topic: &str) -> HelpTopic {
    HelpTopic(Some(topic.to_owned()))
}

/// `strtouq(optarg, &ep, 0)` refusing `ep == optarg` or `*ep != 0`; an overflow gives `ULLONG_MAX`,
/// as memcontrol never checks `errno` (FreeBSD `memcontrol.c` `setfunc`).
fn strtouq(text: &str) -> Result<u64, NumError> {
    match parse_u64(text) {
        Err(NumError::Overflow) => Ok(u64::MAX),
        other => other,
    }
}

/// `-o owner`: 1 to 7 bytes (FreeBSD `memcontrol.c`: `*optarg == 0 || strlen(optarg) > 7` is help).
fn owner_ok(owner: &str) -> bool {
    (1..=7).contains(&owner.len())
}

/// The `-b`, `-l` and `-o` options of set and clear, and the operands after them.
fn range_options(args: &[String], topic: &str) -> Result<(u64, u64, Option<String>, Vec<String>), HelpTopic> {
    let (mut base, mut len, mut owner) = (0, 0, None);
    let mut options = Getopt::new(args, "b:l:o:");
    for option in options.by_ref() {
        match option.map_err(|_| help(topic))? {
            ('b', Some(text)) => base = strtouq(text).map_err(|_| help(topic))?,
            ('l', Some(text)) => len = strtouq(text).map_err(|_| help(topic))?,
            ('o', Some(text)) if owner_ok(text) => owner = Some(text.to_owned()),
            _ => return Err(help(topic)),
        }
    }
    Ok((base, len, owner, options.operands().to_vec()))
}

/// memcontrol's command line, subcommand first (FreeBSD `memcontrol.c` `main`, `listfunc`, `setfunc`, `clearfunc`).
pub fn parse_memcontrol(operands: &[String]) -> Result<Memcontrol, HelpTopic> {
    let Some(command) = operands.first() else {
        return Err(HelpTopic(None));
    };
    match command.as_str() {
        "-h" | "--help" => Ok(Memcontrol::Help { topic: None }),
        "list" => {
            let (mut all, mut owner) = (false, None);
            for option in Getopt::new(operands, "ao:") {
                match option.map_err(|_| help("list"))? {
                    ('a', _) => all = true,
                    (_, text) => owner = text.map(str::to_owned),
                }
            }
            Ok(Memcontrol::List { all, owner })
        }
        "set" => {
            let (base, len, owner, attributes) = range_options(operands, "set")?;
            if len == 0 {
                return Err(help("set"));
            }
            let mut flags = 0;
            for name in &attributes {
                match FLAG_NAMES.iter().find(|(_, known)| known == name) {
                    Some(&(flag, _)) if flag & SETTABLE != 0 => flags |= flag,
                    _ => return Err(help("flags")),
                }
            }
            let owner = owner.as_deref().unwrap_or("user");
            Ok(Memcontrol::Set { desc: MemRangeDesc::new(base, len, flags, owner) })
        }
        "clear" => match range_options(operands, "clear")? {
            (0, 0, Some(owner), _) => Ok(Memcontrol::ClearOwner { owner }),
            (_, _, Some(_), _) => Err(help("clear")),
            (base, len, None, _) if len != 0 => Ok(Memcontrol::ClearRange { base, len }),
            _ => Err(help("clear")),
        },
        "help" => Ok(Memcontrol::Help { topic: operands.get(1).cloned() }),
        other => Err(help(other)),
    }
}

/// Whether `list` shows `desc`: active unless `all`, and the owner matching exactly if given (FreeBSD `memcontrol.c` `listfunc`).
pub fn list_filter(desc: &MemRangeDesc, all: bool, owner: Option<&str>) -> bool {
    if !all && desc.mr_flags & MDF_ACTIVE == 0 {
        return false;
    }
    match owner {
        // strcmp(mr_owner, owner): the owner field up to its NUL, at most 8 bytes.
        Some(owner) => owner_field(desc) == owner.as_bytes(),
        None => true,
    }
}

/// The owner bytes up to the first NUL (C's view of `mr_owner`, bounded by its 8 bytes).
fn owner_field(desc: &MemRangeDesc) -> &[u8] {
    let end = desc.mr_owner.iter().position(|&b| b == 0).unwrap_or(desc.mr_owner.len());
    &desc.mr_owner[..end]
}

/// `0x<base>/0x<len> <owner|-> ` then `<flag> ` for each set flag in `FLAG_NAMES` order, then `\n` (FreeBSD `memcontrol.c` `listfunc`).
pub fn list_line(desc: &MemRangeDesc) -> String {
    let owner = owner_field(desc);
    let owner = if owner.is_empty() { "-".into() } else { String::from_utf8_lossy(owner) };
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write!(out, "0x{:x}/0x{:x} {} ", desc.mr_base, desc.mr_len, owner);
    for (flag, name) in FLAG_NAMES {
        if desc.mr_flags & flag != 0 {
            out.push_str(name);
            out.push(' ');
        }
    }
    out.push('\n');
    out
}
