use alloc::string::String;
use alloc::vec::Vec;
use proptest::prelude::*;

use super::strings;
use crate::lex::{LexError, split_line};

fn words(line: &str) -> Vec<String> {
    split_line(line, 0).expect("the line splits")
}

#[test]
fn blanks_separate_words() {
    assert_eq!(words("echo hello  world"), strings(&["echo", "hello", "world"]));
    assert_eq!(words("\techo\t a \t"), strings(&["echo", "a"]));
    assert_eq!(words(""), strings(&[]));
    assert_eq!(words("  \t  "), strings(&[]));
}

#[test]
fn quoted_and_unquoted_parts_join() {
    assert_eq!(words("a\"b c\"d"), strings(&["ab cd"]));
    assert_eq!(words("'a b'\"c d\"e"), strings(&["a bc de"]));
    assert_eq!(words("x'' y"), strings(&["x", "y"]));
}

#[test]
fn empty_quotes_make_empty_words() {
    assert_eq!(words("''"), strings(&[""]));
    assert_eq!(words("\"\""), strings(&[""]));
    assert_eq!(words("a '' b"), strings(&["a", "", "b"]));
}

#[test]
fn status_expands_outside_single_quotes() {
    assert_eq!(split_line("echo $?", 3), Ok(strings(&["echo", "3"])));
    assert_eq!(split_line("echo '$?'", 3), Ok(strings(&["echo", "$?"])));
    assert_eq!(split_line("\"x$?y\"", 127), Ok(strings(&["x127y"])));
    assert_eq!(split_line("$?$?", 1), Ok(strings(&["11"])));
    assert_eq!(split_line("$? ", -1), Ok(strings(&["-1"])));
    assert_eq!(split_line("\\$? \"\\$?\"", 5), Ok(strings(&["$?", "$?"])));
    assert_eq!(words("$ $x a$"), strings(&["$", "$x", "a$"]));
}

#[test]
fn backslashes() {
    assert_eq!(words("a\\ b"), strings(&["a b"]));
    assert_eq!(words("\\'x"), strings(&["'x"]));
    assert_eq!(words("\"a\\\"b\""), strings(&["a\"b"]));
    assert_eq!(words("\"a\\\\b\""), strings(&["a\\b"]));
    assert_eq!(words("\"a\\nb\""), strings(&["a\\nb"]));
    assert_eq!(words("'a\\b'"), strings(&["a\\b"]));
    assert_eq!(words("a\\"), strings(&["a\\"]));
}

#[test]
fn comments_start_only_at_a_word() {
    assert_eq!(words("# all of it"), strings(&[]));
    assert_eq!(words("echo a # b 'c"), strings(&["echo", "a"]));
    assert_eq!(words("echo a#b"), strings(&["echo", "a#b"]));
    assert_eq!(words("echo '#' \"#\" \\#x"), strings(&["echo", "#", "#", "#x"]));
    assert_eq!(words("''#x"), strings(&["#x"]));
}

#[test]
fn unterminated_quotes_fail() {
    assert_eq!(split_line("'abc", 0), Err(LexError::UnterminatedQuote));
    assert_eq!(split_line("echo \"abc", 0), Err(LexError::UnterminatedQuote));
    assert_eq!(split_line("echo \"a'b", 0), Err(LexError::UnterminatedQuote));
    assert_eq!(split_line("\"a\\\"", 0), Err(LexError::UnterminatedQuote));
}

/// `word` in single quotes, a `'` written as `'\''` (what `printf %q`-style quoting does).
fn single_quoted(word: &str) -> String {
    let mut out = String::from("'");
    for c in word.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// `word` in double quotes with `"`, `\` and `$` escaped.
fn double_quoted(word: &str) -> String {
    let mut out = String::from("\"");
    for c in word.chars() {
        if matches!(c, '"' | '\\' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn never_panics(line in ".{0,64}", status: i32) {
        let _ = split_line(&line, status);
    }

    #[test]
    fn plain_words_split_back(ws in proptest::collection::vec("[a-z0-9./=-]{1,8}", 0..8), gaps in proptest::collection::vec("[ \t]{1,3}", 9)) {
        let mut line = gaps[8].clone();
        for (word, gap) in ws.iter().zip(&gaps) {
            line.push_str(word);
            line.push_str(gap);
        }
        prop_assert_eq!(split_line(&line, 0), Ok(ws));
    }

    #[test]
    fn quoting_round_trips(ws in proptest::collection::vec(".{0,10}", 0..6), double: bool, status: i32) {
        let quoted: Vec<String> = ws.iter().map(|w| if double { double_quoted(w) } else { single_quoted(w) }).collect();
        prop_assert_eq!(split_line(&quoted.join(" "), status), Ok(ws));
    }

    #[test]
    fn status_is_decimal(status: i32) {
        prop_assert_eq!(split_line("$?", status), Ok(alloc::vec![alloc::format!("{status}")]));
    }
}
