//! hello-rs: a Rust program built for x86_64-unknown-linux-musl (static), the same binary
//! that runs on Linux. Prints its arguments, how many environment variables it got, and
//! what it reads back from a file it writes, then exits 0.

use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("hello from Rust in ring 3: args {:?}, {} environment variables", args, std::env::vars().count());
    let mut bytes = [0u8; 4];
    match std::fs::File::open("/dev/zero").and_then(|mut zero| zero.read_exact(&mut bytes)) {
        Ok(()) => println!("read {:?} from /dev/zero", bytes),
        Err(error) => println!("/dev/zero: {error}"),
    }
}
