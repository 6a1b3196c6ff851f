use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

use super::strings;
use crate::getopt::{Getopt, GetoptError};

type Item = Result<(char, Option<String>), GetoptError>;

/// Every item of the scan, then the operands.
fn scan(args: &[&str], optstring: &str) -> (Vec<Item>, Vec<String>) {
    scan_owned(&strings(args), optstring)
}

fn scan_owned(args: &[String], optstring: &str) -> (Vec<Item>, Vec<String>) {
    let mut getopt = Getopt::new(args, optstring);
    let items = getopt.by_ref().map(|item| item.map(|(c, v)| (c, v.map(String::from)))).collect();
    (items, getopt.operands().to_vec())
}

fn ok(c: char, value: Option<&str>) -> Item {
    Ok((c, value.map(String::from)))
}

#[test]
fn grouped_flags() {
    assert_eq!(
        scan(&["cmd", "-ab", "-a"], "ab"),
        (vec![ok('a', None), ok('b', None), ok('a', None)], strings(&[]))
    );
}

#[test]
fn attached_and_separate_values() {
    assert_eq!(scan(&["cmd", "-bVALUE", "x"], "ab:"), (vec![ok('b', Some("VALUE"))], strings(&["x"])));
    assert_eq!(scan(&["cmd", "-b", "VALUE", "x"], "ab:"), (vec![ok('b', Some("VALUE"))], strings(&["x"])));
    assert_eq!(scan(&["cmd", "-ab", "V"], "ab:"), (vec![ok('a', None), ok('b', Some("V"))], strings(&[])));
    assert_eq!(scan(&["cmd", "-abV"], "ab:"), (vec![ok('a', None), ok('b', Some("V"))], strings(&[])));
    assert_eq!(scan(&["cmd", "-b", "-a"], "ab:"), (vec![ok('b', Some("-a"))], strings(&[])));
    assert_eq!(
        scan(&["cmd", "-b", "--", "-a"], "ab:"),
        (vec![ok('b', Some("--")), ok('a', None)], strings(&[]))
    );
    assert_eq!(scan(&["cmd", "-b", ""], "ab:"), (vec![ok('b', Some(""))], strings(&[])));
}

#[test]
fn where_options_stop() {
    assert_eq!(scan(&["cmd", "-a", "--", "-b"], "ab"), (vec![ok('a', None)], strings(&["-b"])));
    assert_eq!(scan(&["cmd", "--"], "ab"), (vec![], strings(&[])));
    assert_eq!(scan(&["cmd", "-", "-a"], "ab"), (vec![], strings(&["-", "-a"])));
    assert_eq!(scan(&["cmd", "x", "-a"], "ab"), (vec![], strings(&["x", "-a"])));
    assert_eq!(scan(&["cmd", "-a", "x", "-b"], "ab"), (vec![ok('a', None)], strings(&["x", "-b"])));
    assert_eq!(scan(&["cmd"], "ab"), (vec![], strings(&[])));
    assert_eq!(scan(&[], "ab"), (vec![], strings(&[])));
}

#[test]
fn errors_end_the_scan() {
    assert_eq!(scan(&["cmd", "-z", "-a"], "ab"), (vec![Err(GetoptError::Unknown('z'))], strings(&["-a"])));
    assert_eq!(
        scan(&["cmd", "-az", "x"], "ab"),
        (vec![ok('a', None), Err(GetoptError::Unknown('z'))], strings(&["x"]))
    );
    assert_eq!(
        scan(&["cmd", "-a", "-b"], "ab:"),
        (vec![ok('a', None), Err(GetoptError::MissingArgument('b'))], strings(&[]))
    );
    assert_eq!(scan(&["cmd", "-:"], "a:"), (vec![Err(GetoptError::Unknown(':'))], strings(&[])));
    assert_eq!(scan(&["cmd", "--x"], "ab"), (vec![Err(GetoptError::Unknown('-'))], strings(&[])));
}

#[test]
fn quiet_prefix_and_unicode() {
    assert_eq!(scan(&["cmd", "-a"], ":a"), (vec![ok('a', None)], strings(&[])));
    assert_eq!(
        scan(&["cmd", "-éa", "-é"], "aé:"),
        (vec![ok('é', Some("a")), Err(GetoptError::MissingArgument('é'))], strings(&[]))
    );
}

#[test]
fn messages_are_glibc_s() {
    assert_eq!(GetoptError::Unknown('z').to_string(), "invalid option -- 'z'");
    assert_eq!(GetoptError::MissingArgument('b').to_string(), "option requires an argument -- 'b'");
}

/// One option as a test writes it for optstring "acb:".
#[derive(Clone, Debug)]
enum Opt {
    Flags(Vec<char>),
    Attached(String),
    Separate(String),
}

fn opt() -> impl Strategy<Value = Opt> {
    prop_oneof![
        proptest::collection::vec(prop_oneof![Just('a'), Just('c')], 1..4).prop_map(Opt::Flags),
        "[^\u{0}]{1,6}".prop_map(Opt::Attached),
        ".{0,6}".prop_map(Opt::Separate),
    ]
}

proptest! {
    #[test]
    fn never_panics(args in proptest::collection::vec(".{0,6}", 0..6), optstring in ".{0,6}") {
        let args: Vec<String> = args;
        let mut getopt = Getopt::new(&args, &optstring);
        for _ in getopt.by_ref().take(64) {}
        prop_assert!(getopt.operands().len() <= args.len());
    }

    #[test]
    fn a_written_command_line_reads_back(opts in proptest::collection::vec(opt(), 0..6), dashdash: bool, operands in proptest::collection::vec("[a-z/][a-z0-9-]{0,5}|-|-[a-z]{1,3}", 0..4)) {
        let mut args = vec![String::from("cmd")];
        let mut expected: Vec<Item> = Vec::new();
        for o in &opts {
            match o {
                Opt::Flags(flags) => {
                    args.push(format!("-{}", flags.iter().collect::<String>()));
                    expected.extend(flags.iter().map(|&c| ok(c, None)));
                }
                Opt::Attached(value) => {
                    args.push(format!("-b{value}"));
                    expected.push(ok('b', Some(value)));
                }
                Opt::Separate(value) => {
                    args.push("-b".to_string());
                    args.push(value.clone());
                    expected.push(ok('b', Some(value)));
                }
            }
        }
        // Without "--", the first operand must not look like an option.
        let dashdash = dashdash || operands.first().is_some_and(|op| op.starts_with('-') && op != "-");
        if dashdash {
            args.push("--".to_string());
        }
        args.extend(operands.iter().cloned());
        prop_assert_eq!(scan_owned(&args, "acb:"), (expected, operands));
    }
}
