//! Unit and property tests, one file per module, with golden strings from the real tools.

mod args_tests;
mod dd_tests;
mod devmem_tests;
mod getopt_tests;
mod hexdump_tests;
mod human_tests;
mod lex_tests;
mod ls_tests;
mod memcontrol_tests;
mod num_tests;
mod users_tests;

use alloc::string::String;
use alloc::vec::Vec;

/// Owned strings from literals, as the shell hands arguments to the tools.
pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|&item| String::from(item)).collect()
}
