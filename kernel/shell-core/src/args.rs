//! Small helpers every tool shares: the error line and `--help` detection (busybox
//! `libbb/perror_msg.c` `bb_perror_msg`, coreutils `error()`).

use alloc::format;
use alloc::string::String;

use errno::Errno;

/// `TOOL: WHAT: strerror(errno)` and a newline (busybox `libbb/perror_msg.c` `bb_perror_msg`, coreutils `error(0, errno, "%s", what)`).
pub fn error_line(tool: &str, what: &str, errno: Errno) -> String {
    format!("{tool}: {what}: {}\n", errno.text())
}

/// Whether an operand before any `--` is `-h` or `--help` (busybox `libbb/appletlib.c` `--help` handling).
pub fn wants_help(operands: &[String]) -> bool {
    operands.iter().take_while(|op| *op != "--").any(|op| op == "-h" || op == "--help")
}
