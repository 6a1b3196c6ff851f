//! PCI configuration mechanism 1: the address goes to port 0xCF8, the dword comes and
//! goes through port 0xCFC, always as 32-bit accesses.
//!
//! Reading configuration space changes nothing on the devices a PC has, so reads are
//! public. Writing is not harmless, so the only writes are the BAR sizing of [`probe`],
//! which puts every register back as it was: Linux's `__pci_read_base` order (decoding
//! off in the command register unless the device is a host bridge, each BAR written with
//! ones, read, restored, then the command register restored), done with interrupts off
//! and the configuration lock held so nothing sees a BAR in the middle.

use pci_core::bar::{Probe, ROM_SIZING_VALUE};
use pci_core::header::{BAR0_OFFSET, COMMAND_DECODE_ENABLE, COMMAND_OFFSET};
use pci_core::{Address, Header};
use spin::Mutex;
use x86_64::instructions::port::Port;

use super::cpu;

const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;

/// Serializes the address/data pair: one configuration access at a time.
static CONFIG: Mutex<()> = Mutex::new(());

/// One dword of `address`'s configuration space; `offset` is rounded down to 4.
/// A function that is not there reads all ones.
pub fn read_u32(address: Address, offset: u8) -> u32 {
    cpu::without_interrupts(|| {
        let _guard = CONFIG.lock();
        raw_read(address, offset)
    })
}

/// The first 64 bytes of configuration space.
pub fn read_header(address: Address) -> Header {
    let mut regs = [0u32; 16];
    cpu::without_interrupts(|| {
        let _guard = CONFIG.lock();
        for (i, reg) in regs.iter_mut().enumerate() {
            *reg = raw_read(address, (i * 4) as u8);
        }
    });
    Header(regs)
}

/// A function's header and the sizing probes of its BAR registers and ROM register.
#[derive(Clone, Copy, Debug)]
pub struct Probed {
    pub header: Header,
    /// One probe per BAR register, `bar_count` of them valid.
    pub bars: [Probe; 6],
    pub bar_count: usize,
    pub rom: Option<Probe>,
}

/// Reads the function at `address` and sizes its BARs; `None` when nothing answers.
/// Every register sizing touches holds its original value again when this returns.
pub fn probe(address: Address) -> Option<Probed> {
    cpu::without_interrupts(|| {
        let _guard = CONFIG.lock();
        let mut regs = [0u32; 16];
        for (i, reg) in regs.iter_mut().enumerate() {
            *reg = raw_read(address, (i * 4) as u8);
        }
        let header = Header(regs);
        if !header.present() {
            return None;
        }
        let command = header.command();
        let quiet = !header.mmio_always_on() && command & COMMAND_DECODE_ENABLE != 0;
        if quiet {
            // Zero in the status half: its bits are write-one-to-clear.
            raw_write(address, COMMAND_OFFSET, u32::from(command & !COMMAND_DECODE_ENABLE));
        }
        let bar_count = header.bar_count();
        let mut bars = [Probe::default(); 6];
        for (i, bar) in bars.iter_mut().enumerate().take(bar_count) {
            *bar = size_register(address, BAR0_OFFSET + 4 * i as u8, u32::MAX);
        }
        let rom = header.rom_offset().map(|offset| {
            let original = raw_read(address, offset);
            size_register(address, offset, original | ROM_SIZING_VALUE)
        });
        if quiet {
            raw_write(address, COMMAND_OFFSET, u32::from(command));
        }
        Some(Probed { header, bars, bar_count, rom })
    })
}

/// Writes `ones` to the register, reads what stuck, and writes the original back.
/// Called with the lock held and interrupts off.
fn size_register(address: Address, offset: u8, ones: u32) -> Probe {
    let original = raw_read(address, offset);
    raw_write(address, offset, ones);
    let sized = raw_read(address, offset);
    raw_write(address, offset, original);
    Probe { original, sized }
}

/// Called with the lock held.
fn raw_read(address: Address, offset: u8) -> u32 {
    // SAFETY: ports 0xCF8/0xCFC are the PC's configuration mechanism 1; a 32-bit OUT of
    // an address with the enable bit and an IN of the data register read a configuration
    // dword and touch no memory the compiler knows about. The lock keeps the pair whole.
    unsafe {
        Port::<u32>::new(CONFIG_ADDRESS).write(address.config_address(offset));
        Port::<u32>::new(CONFIG_DATA).read()
    }
}

/// Called with the lock held, by the BAR sizing only.
fn raw_write(address: Address, offset: u8, value: u32) {
    // SAFETY: as for `raw_read`, plus: the only values written are a BAR or ROM register's
    // sizing pattern followed by its original value, and the command register without
    // and then with its original decode bits, so every device ends as it began; with
    // interrupts off and the lock held no code runs while a BAR is moved.
    unsafe {
        Port::<u32>::new(CONFIG_ADDRESS).write(address.config_address(offset));
        Port::<u32>::new(CONFIG_DATA).write(value);
    }
}
