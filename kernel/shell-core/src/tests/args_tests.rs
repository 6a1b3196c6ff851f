use errno::Errno;

use super::strings;
use crate::args::{error_line, wants_help};

#[test]
fn error_lines() {
    assert_eq!(
        error_line("hexdump", "/dev/mem", Errno::EPERM),
        "hexdump: /dev/mem: Operation not permitted\n"
    );
    assert_eq!(error_line("dd", "/dev/full", Errno::ENOSPC), "dd: /dev/full: No space left on device\n");
    assert_eq!(
        error_line("memcontrol", "can't set range", Errno::EINVAL),
        "memcontrol: can't set range: Invalid argument\n"
    );
}

#[test]
fn help_requests() {
    assert!(wants_help(&strings(&["-h"])));
    assert!(wants_help(&strings(&["x", "--help"])));
    assert!(!wants_help(&strings(&[])));
    assert!(!wants_help(&strings(&["--", "-h"])));
    assert!(!wants_help(&strings(&["-help", "--h", "-hx", "if=-h"])));
}
