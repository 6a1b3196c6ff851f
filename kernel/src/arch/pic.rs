//! The legacy 8259 interrupt controllers: IRQs 0-15 remapped to vectors 32-47, each
//! unmasked only when a driver asks for it.

use pic8259::ChainedPics;
use spin::Mutex;

/// Where the PICs' IRQs 0-15 land in the IDT: just past the CPU's exceptions.
pub const MASTER_OFFSET: u8 = 32;
pub const SLAVE_OFFSET: u8 = MASTER_OFFSET + 8;
/// IRQ 0, the PIT.
pub const TIMER_IRQ: u8 = 0;
/// IRQ 4, COM1.
pub const COM1_IRQ: u8 = 4;
/// IRQ 7 and IRQ 15 are where each PIC reports a spurious interrupt.
pub const SPURIOUS_MASTER_VECTOR: u8 = MASTER_OFFSET + 7;
pub const SPURIOUS_SLAVE_VECTOR: u8 = SLAVE_OFFSET + 7;

/// The vector of `irq`.
pub const fn vector(irq: u8) -> u8 {
    if irq < 8 { MASTER_OFFSET + irq } else { SLAVE_OFFSET + irq - 8 }
}

static PICS: Mutex<ChainedPics> =
    // SAFETY: the offsets map IRQs to vectors 32-47, past the exceptions and used by
    // nothing else in the IDT.
    Mutex::new(unsafe { ChainedPics::new(MASTER_OFFSET, SLAVE_OFFSET) });

/// Remaps both PICs and masks every IRQ.
pub fn init() {
    super::cpu::without_interrupts(|| {
        let mut pics = PICS.lock();
        // SAFETY: remapping and masking only change which vectors the IRQs raise (all of
        // them have IDT entries) and whether they are raised at all.
        unsafe {
            pics.initialize();
            pics.write_masks(0xff, 0xff);
        }
    });
}

/// Lets `irq` through (the cascade line too, for IRQs of the slave).
pub fn unmask(irq: u8) {
    super::cpu::without_interrupts(|| {
        let mut pics = PICS.lock();
        // SAFETY: reading and writing the mask registers only enables delivery of an IRQ
        // whose vector has a handler (the callers install it first).
        unsafe {
            let [mut master, mut slave] = pics.read_masks();
            if irq < 8 {
                master &= !(1 << irq);
            } else {
                slave &= !(1 << (irq - 8));
                master &= !(1 << 2);
            }
            pics.write_masks(master, slave);
        }
    });
}

/// Acknowledges `irq`; called at the end (or start) of its handler.
pub(super) fn end_of_interrupt(irq: u8) {
    // SAFETY: the caller is the handler of `irq`, which the PIC raised.
    unsafe { PICS.lock().notify_end_of_interrupt(vector(irq)) };
}

/// A spurious IRQ 7 needs no acknowledgement; a spurious IRQ 15 still needs one on the
/// master, which saw a real cascade interrupt.
pub(super) fn on_spurious(vector: u8) {
    if vector == SPURIOUS_SLAVE_VECTOR {
        // SAFETY: acknowledging the master's cascade line (IRQ 2) for the slave's spurious
        // interrupt; the slave itself must not be acknowledged.
        unsafe { PICS.lock().notify_end_of_interrupt(MASTER_OFFSET + 2) };
    }
}
