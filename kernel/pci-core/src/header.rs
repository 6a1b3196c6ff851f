//! Configuration addresses (mechanism 1) and the standard configuration header.

use core::fmt;

/// Bus, device (0..32) and function (0..8): a function's place in configuration space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    bus: u8,
    device: u8,
    function: u8,
}

/// Command register bits (PCI Local Bus 3.0, 6.2.2).
pub const COMMAND_IO: u16 = 1 << 0;
pub const COMMAND_MEMORY: u16 = 1 << 1;
/// Linux's `PCI_COMMAND_DECODE_ENABLE`: the bits `__pci_read_base` clears while sizing.
pub const COMMAND_DECODE_ENABLE: u16 = COMMAND_IO | COMMAND_MEMORY;

/// Offset of the command register; the status register is the upper half of its dword.
pub const COMMAND_OFFSET: u8 = 0x04;
/// Offset of BAR 0.
pub const BAR0_OFFSET: u8 = 0x10;

impl Address {
    /// `None` when `device` is 32 or more or `function` is 8 or more.
    pub const fn new(bus: u8, device: u8, function: u8) -> Option<Self> {
        if device < 32 && function < 8 { Some(Self { bus, device, function }) } else { None }
    }

    pub const fn bus(self) -> u8 {
        self.bus
    }

    pub const fn device(self) -> u8 {
        self.device
    }

    pub const fn function(self) -> u8 {
        self.function
    }

    /// Linux's `devfn`: device in bits 7..3, function in bits 2..0.
    pub const fn devfn(self) -> u8 {
        self.device << 3 | self.function
    }

    /// The value written to port 0xCF8 to reach the dword holding `offset`: enable bit,
    /// bus, device, function, register (offset rounded down to 4).
    pub const fn config_address(self, offset: u8) -> u32 {
        0x8000_0000
            | (self.bus as u32) << 16
            | (self.device as u32) << 11
            | (self.function as u32) << 8
            | (offset & 0xfc) as u32
    }

    /// The name Linux gives the device (`pci_name`): domain 0000.
    pub fn linux_name(self) -> LinuxName {
        LinuxName(self)
    }
}

/// `bb:dd.f`, as lspci prints it for domain 0.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// `0000:bb:dd.f`.
#[derive(Clone, Copy, Debug)]
pub struct LinuxName(Address);

impl fmt::Display for LinuxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0000:{}", self.0)
    }
}

/// The first 64 bytes of a function's configuration space, as 16 dwords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header(pub [u32; 16]);

impl Header {
    fn byte(&self, offset: usize) -> u8 {
        self.0[offset / 4].to_le_bytes()[offset % 4]
    }

    fn word(&self, offset: usize) -> u16 {
        u16::from(self.byte(offset)) | u16::from(self.byte(offset + 1)) << 8
    }

    /// 0xffff when no function answers at this address.
    pub fn vendor(&self) -> u16 {
        self.word(0x00)
    }

    pub fn device(&self) -> u16 {
        self.word(0x02)
    }

    /// True when a function answers (a vendor other than 0xffff and 0).
    pub fn present(&self) -> bool {
        !matches!(self.vendor(), 0xffff | 0x0000)
    }

    pub fn command(&self) -> u16 {
        self.word(0x04)
    }

    pub fn status(&self) -> u16 {
        self.word(0x06)
    }

    pub fn revision(&self) -> u8 {
        self.byte(0x08)
    }

    pub fn prog_if(&self) -> u8 {
        self.byte(0x09)
    }

    /// Base class and subclass, as lspci -n prints them (`0300`).
    pub fn class(&self) -> u16 {
        self.word(0x0a)
    }

    /// Header layout: 0 general device, 1 PCI-to-PCI bridge, 2 CardBus bridge.
    pub fn header_type(&self) -> u8 {
        self.byte(0x0e) & 0x7f
    }

    /// Bit 7 of the header type: the device has functions 1 to 7.
    pub fn multi_function(&self) -> bool {
        self.byte(0x0e) & 0x80 != 0
    }

    /// How many BAR registers this header layout has (Linux's `pci_setup_device`).
    pub fn bar_count(&self) -> usize {
        match self.header_type() {
            0 => 6,
            1 => 2,
            2 => 1,
            _ => 0,
        }
    }

    /// Where the expansion ROM register is, if this layout has one.
    pub fn rom_offset(&self) -> Option<u8> {
        match self.header_type() {
            0 => Some(0x30),
            1 => Some(0x38),
            _ => None,
        }
    }

    /// Subsystem vendor and device (type 0 headers only).
    pub fn subsystem(&self) -> Option<(u16, u16)> {
        (self.header_type() == 0).then(|| (self.word(0x2c), self.word(0x2e)))
    }

    pub fn interrupt_line(&self) -> u8 {
        self.byte(0x3c)
    }

    pub fn interrupt_pin(&self) -> u8 {
        self.byte(0x3d)
    }

    /// Linux's `mmio_always_on` (quirk for host bridges): sizing leaves decoding on.
    pub fn mmio_always_on(&self) -> bool {
        self.class() == 0x0600
    }
}
