//! `lspci [-n] [-v]`: the enumerated functions in the shape of pciutils' output. There
//! is no pci.ids: names are the class names only, devices show as `Device vvvv:dddd`.

use alloc::string::String;

use pci_core::format;

use crate::print;
use crate::vfs::Context;

/// `lspci [-n] [-v]` (`-nv`, `-vv` accepted; more `v`s show no more).
pub fn run(_ctx: &mut Context, args: &[String]) -> i32 {
    let mut numeric = false;
    let mut verbose = false;
    if args[1..].iter().any(|a| a == "-h" || a == "--help") {
        print!("usage: lspci [-n] [-v]\n");
        return 0;
    }
    for arg in &args[1..] {
        let Some(letters) = arg.strip_prefix('-').filter(|l| !l.is_empty()) else {
            print!("lspci: unexpected argument '{arg}'\nUsage: lspci [-n] [-v]\n");
            return 2;
        };
        for letter in letters.chars() {
            match letter {
                'n' => numeric = true,
                'v' => verbose = true,
                other => {
                    print!("lspci: invalid option -- '{other}'\nUsage: lspci [-n] [-v]\n");
                    return 2;
                }
            }
        }
    }
    for dev in super::devices() {
        print!("{}", format::lspci_line(dev, numeric, verbose));
        if verbose {
            print!("{}", format::lspci_verbose(dev));
        }
    }
    0
}
