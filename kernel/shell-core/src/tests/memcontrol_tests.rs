use alloc::string::{String, ToString};
use alloc::vec::Vec;
use memrange::*;
use proptest::prelude::*;

use super::strings;
use crate::memcontrol::{HelpTopic, Memcontrol, help_text, list_filter, list_line, parse_memcontrol};

fn mc(ops: &[&str]) -> Result<Memcontrol, HelpTopic> {
    parse_memcontrol(&strings(ops))
}

fn topic(text: &str) -> Result<Memcontrol, HelpTopic> {
    Err(HelpTopic(Some(text.to_string())))
}

const GENERAL: &str =
    "Valid commands are :\n    list\n    set\n    clear\nUse help <command> for command-specific help\n";

#[test]
fn help_texts_are_freebsd_s() {
    assert_eq!(help_text(None), GENERAL);
    assert_eq!(
        parse_memcontrol(&["-h".into()]).ok(),
        Some(Memcontrol::Help { topic: None }),
        "-h is help, not an unknown command"
    );
    assert_eq!(
        help_text(Some("list")),
        // FreeBSD's text, plus the -o option its list has but its help omits.
        "List current memory range attributes\n    list [-a] [-o <owner>]\n        -a    list all range slots, even those that are inactive\n        -o    list only the ranges with this owner\n"
    );
    assert_eq!(
        help_text(Some("set")),
        "Set memory range attributes\n    set -b <base> -l <length> -o <owner> <attribute>\n        <base>      memory range base address\n        <length>    length of memory range in bytes, power of 2\n        <owner>     text identifier for this setting (7 char max)\n        <attribute> attribute(s) to be applied to this range:\n                        uncacheable\n                        write-combine\n                        write-through\n                        write-back\n                        write-protect\n"
    );
    assert_eq!(
        help_text(Some("clear")),
        "Clear memory range attributes\n    clear -o <owner>\n        <owner>     all ranges with this owner will be cleared\n    clear -b <base> -l <length>\n        <base>      memory range base address\n        <length>    length of memory range in bytes, power of 2\n                    Base and length must exactly match an existing range\n"
    );
    assert_eq!(help_text(Some("flags")), alloc::format!("Unknown command 'flags'\n{GENERAL}"));
    assert_eq!(help_text(Some("")), alloc::format!("Unknown command ''\n{GENERAL}"));
}

#[test]
fn dispatch_and_help() {
    assert_eq!(mc(&[]), Err(HelpTopic(None)));
    assert_eq!(mc(&["help"]), Ok(Memcontrol::Help { topic: None }));
    assert_eq!(mc(&["help", "set"]), Ok(Memcontrol::Help { topic: Some("set".to_string()) }));
    assert_eq!(mc(&["frob"]), topic("frob"));
    assert_eq!(mc(&["LIST"]), topic("LIST"));
}

#[test]
fn list_options() {
    assert_eq!(mc(&["list"]), Ok(Memcontrol::List { all: false, owner: None }));
    assert_eq!(mc(&["list", "-a"]), Ok(Memcontrol::List { all: true, owner: None }));
    assert_eq!(
        mc(&["list", "-ao", "BIOS"]),
        Ok(Memcontrol::List { all: true, owner: Some("BIOS".to_string()) })
    );
    assert_eq!(
        mc(&["list", "-o", "longerthan8"]),
        Ok(Memcontrol::List { all: false, owner: Some("longerthan8".to_string()) })
    );
    assert_eq!(mc(&["list", "-x"]), topic("list"));
    assert_eq!(mc(&["list", "-o"]), topic("list"));
}

#[test]
fn set_options() {
    let set =
        |base, len, flags, owner| Ok(Memcontrol::Set { desc: MemRangeDesc::new(base, len, flags, owner) });
    assert_eq!(
        mc(&["set", "-b", "0xfd000000", "-l", "0x1000000", "write-combine"]),
        set(0xfd00_0000, 0x100_0000, MDF_WRITECOMBINE, "user")
    );
    assert_eq!(
        mc(&["set", "-b0x1000", "-l", "4096", "-o", "fb", "uncacheable", "force", "active"]),
        set(0x1000, 4096, MDF_UNCACHEABLE | MDF_FORCE | MDF_ACTIVE, "fb")
    );
    assert_eq!(mc(&["set", "-l", "010", "-o", "7chars!"]), set(0, 8, 0, "7chars!"));
    assert_eq!(
        mc(&["set", "-l", "1", "-l", "2", "write-back", "write-through", "write-protect"]),
        set(0, 2, MDF_WRITEBACK | MDF_WRITETHROUGH | MDF_WRITEPROTECT, "user")
    );
    // strtouq's ULLONG_MAX on overflow, unchecked by memcontrol.
    assert_eq!(mc(&["set", "-b", "0x10000000000000000", "-l", "4096"]), set(u64::MAX, 4096, 0, "user"));
    assert_eq!(mc(&["set", "-l", "4096", "--", "uncacheable"]), set(0, 4096, MDF_UNCACHEABLE, "user"));
}

#[test]
fn set_refusals() {
    assert_eq!(mc(&["set"]), topic("set"));
    assert_eq!(mc(&["set", "-b", "0x1000"]), topic("set"));
    assert_eq!(mc(&["set", "-l", "0", "uncacheable"]), topic("set"));
    assert_eq!(mc(&["set", "-l", "4k"]), topic("set"));
    assert_eq!(mc(&["set", "-l", ""]), topic("set"));
    assert_eq!(mc(&["set", "-l", "-1"]), topic("set"));
    assert_eq!(mc(&["set", "-l", "4096", "-o", ""]), topic("set"));
    assert_eq!(mc(&["set", "-l", "4096", "-o", "eightchr"]), topic("set"));
    assert_eq!(mc(&["set", "-l", "4096", "-x"]), topic("set"));
    assert_eq!(mc(&["set", "-l"]), topic("set"));
    for name in ["unknown", "fixed-base", "fixed-length", "set-by-firmware", "bogus", "wc", "Uncacheable", ""]
    {
        assert_eq!(mc(&["set", "-l", "4096", name]), topic("flags"), "{name}");
    }
    // The length check comes before the attributes.
    assert_eq!(mc(&["set", "bogus"]), topic("set"));
}

#[test]
fn clear_options() {
    assert_eq!(mc(&["clear", "-o", "fb"]), Ok(Memcontrol::ClearOwner { owner: "fb".to_string() }));
    assert_eq!(
        mc(&["clear", "-b", "0", "-l", "0", "-o", "fb"]),
        Ok(Memcontrol::ClearOwner { owner: "fb".to_string() })
    );
    assert_eq!(
        mc(&["clear", "-b", "0xfd000000", "-l", "0x1000000"]),
        Ok(Memcontrol::ClearRange { base: 0xfd00_0000, len: 0x100_0000 })
    );
    assert_eq!(mc(&["clear", "-l", "4096"]), Ok(Memcontrol::ClearRange { base: 0, len: 4096 }));
    assert_eq!(mc(&["clear"]), topic("clear"));
    assert_eq!(mc(&["clear", "-b", "0x1000"]), topic("clear"));
    assert_eq!(mc(&["clear", "-o", "fb", "-b", "1"]), topic("clear"));
    assert_eq!(mc(&["clear", "-o", "fb", "-l", "4096"]), topic("clear"));
    assert_eq!(mc(&["clear", "-o", ""]), topic("clear"));
    assert_eq!(mc(&["clear", "-o", "toolong8"]), topic("clear"));
    assert_eq!(mc(&["clear", "-b", "x", "-l", "1"]), topic("clear"));
    assert_eq!(mc(&["clear", "-a"]), topic("clear"));
}

#[test]
fn list_lines() {
    let bios =
        MemRangeDesc::new(0x8000_0000, 0x8000_0000, MDF_UNCACHEABLE | MDF_FIRMWARE | MDF_ACTIVE, "BIOS");
    assert_eq!(list_line(&bios), "0x80000000/0x80000000 BIOS uncacheable set-by-firmware active \n");
    let fixed = MemRangeDesc::new(
        0,
        0x10000,
        MDF_WRITEBACK | MDF_FIXBASE | MDF_FIXLEN | MDF_FIXACTIVE | MDF_FIRMWARE | MDF_ACTIVE,
        "BIOS",
    );
    assert_eq!(
        list_line(&fixed),
        "0x0/0x10000 BIOS write-back fixed-base fixed-length set-by-firmware active \n"
    );
    let inactive = MemRangeDesc::new(0, 1 << 40, 0, "");
    assert_eq!(list_line(&inactive), "0x0/0x10000000000 - \n");
    let all = MemRangeDesc::new(0xfd00_0000, 0x100_0000, -1, "user");
    assert_eq!(
        list_line(&all),
        "0xfd000000/0x1000000 user uncacheable write-combine write-through write-back write-protect force unknown fixed-base fixed-length set-by-firmware active bogus busy \n"
    );
    let full_owner = MemRangeDesc { mr_base: 1, mr_len: 2, mr_flags: MDF_ACTIVE, mr_owner: *b"12345678" };
    assert_eq!(list_line(&full_owner), "0x1/0x2 12345678 active \n");
}

#[test]
fn list_filters() {
    let active = MemRangeDesc::new(0, 4096, MDF_ACTIVE | MDF_WRITEBACK, "fb");
    let inactive = MemRangeDesc::new(0, 4096, MDF_WRITEBACK, "fb");
    assert!(list_filter(&active, false, None));
    assert!(!list_filter(&inactive, false, None));
    assert!(list_filter(&inactive, true, None));
    assert!(list_filter(&active, false, Some("fb")));
    assert!(!list_filter(&active, false, Some("f")));
    assert!(!list_filter(&active, false, Some("fbx")));
    assert!(!list_filter(&active, false, Some("")));
    assert!(list_filter(&MemRangeDesc::new(0, 1, MDF_ACTIVE, ""), false, Some("")));
    let full_owner = MemRangeDesc { mr_base: 1, mr_len: 2, mr_flags: MDF_ACTIVE, mr_owner: *b"12345678" };
    assert!(list_filter(&full_owner, false, Some("12345678")));
}

proptest! {
    #[test]
    fn never_panics(ops in proptest::collection::vec(".{0,10}", 0..6), first in 0usize..5) {
        let mut ops: Vec<String> = ops;
        ops.insert(0, ["list", "set", "clear", "help", "x"][first].to_string());
        let _ = parse_memcontrol(&ops);
        let _ = help_text(ops.get(1).map(String::as_str));
    }

    #[test]
    fn set_reads_back(base: u64, len in 1u64.., owner in "[a-z]{1,7}", mask in 0u16..1 << 7) {
        let settable = [MDF_UNCACHEABLE, MDF_WRITECOMBINE, MDF_WRITETHROUGH, MDF_WRITEBACK, MDF_WRITEPROTECT, MDF_FORCE, MDF_ACTIVE];
        let mut ops = strings(&["set", "-b"]);
        ops.push(alloc::format!("{base:#x}"));
        ops.push("-l".to_string());
        ops.push(alloc::format!("{len}"));
        ops.push("-o".to_string());
        ops.push(owner.clone());
        let mut flags = 0;
        for (bit, flag) in settable.iter().enumerate() {
            if mask & (1 << bit) != 0 {
                flags |= flag;
                let name = FLAG_NAMES.iter().find(|(f, _)| f == flag).map(|(_, n)| *n).unwrap_or("?");
                ops.push(name.to_string());
            }
        }
        prop_assert_eq!(parse_memcontrol(&ops), Ok(Memcontrol::Set { desc: MemRangeDesc::new(base, len, flags, &owner) }));
    }

    #[test]
    fn list_line_shape(base: u64, len: u64, flags: i32, owner in "[A-Za-z]{0,7}") {
        let desc = MemRangeDesc::new(base, len, flags, &owner);
        let line = list_line(&desc);
        let shown = if owner.is_empty() { "-" } else { owner.as_str() };
        let head = alloc::format!("0x{base:x}/0x{len:x} {shown} ");
        prop_assert!(line.starts_with(&head));
        let names: Vec<&str> = line[head.len()..].trim_end_matches('\n').split_terminator(' ').collect();
        let expected: Vec<&str> = FLAG_NAMES.iter().filter(|(f, _)| flags & f != 0).map(|(_, n)| *n).collect();
        prop_assert_eq!(names, expected);
        prop_assert!(line.ends_with(" \n"));
    }
}
