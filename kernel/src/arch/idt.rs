//! The IDT: a handler for every CPU exception, and the timer interrupt.
//!
//! Every exception is fatal here: its handler panics with a readable report (name,
//! vector, error code, RIP, CR2 for page faults), and the panic handler ends the run as
//! a failure, or, inside a `should_panic` test that expects it, as a pass.
//! Vectors and error-code layouts: Intel SDM Vol. 3A, 6.15 "Exception and Interrupt Reference".

use core::fmt;
use spin::Lazy;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame, PageFaultErrorCode};

use super::{apic, extable, gdt, pic, serial, smp, timer};

static IDT: Lazy<InterruptDescriptorTable> = Lazy::new(|| {
    let mut idt = InterruptDescriptorTable::new();
    idt.divide_error.set_handler_fn(divide_error);
    idt.debug.set_handler_fn(debug);
    idt.breakpoint.set_handler_fn(breakpoint);
    idt.overflow.set_handler_fn(overflow);
    idt.bound_range_exceeded.set_handler_fn(bound_range_exceeded);
    idt.invalid_opcode.set_handler_fn(invalid_opcode);
    idt.device_not_available.set_handler_fn(device_not_available);
    idt.invalid_tss.set_handler_fn(invalid_tss);
    idt.segment_not_present.set_handler_fn(segment_not_present);
    idt.stack_segment_fault.set_handler_fn(stack_segment_fault);
    idt.general_protection_fault.set_handler_fn(general_protection_fault);
    idt.page_fault.set_handler_fn(page_fault);
    idt.x87_floating_point.set_handler_fn(x87_floating_point);
    idt.alignment_check.set_handler_fn(alignment_check);
    idt.simd_floating_point.set_handler_fn(simd_floating_point);
    idt.virtualization.set_handler_fn(virtualization);
    idt.cp_protection_exception.set_handler_fn(control_protection);
    idt.hv_injection_exception.set_handler_fn(hypervisor_injection);
    idt.vmm_communication_exception.set_handler_fn(vmm_communication);
    idt.security_exception.set_handler_fn(security_exception);
    // SAFETY: the IST indices name stacks that gdt::init installed in the TSS, each
    // used by no other handler that could nest inside these.
    unsafe {
        idt.double_fault.set_handler_fn(double_fault).set_stack_index(gdt::DOUBLE_FAULT_IST_INDEX);
        idt.non_maskable_interrupt
            .set_handler_fn(non_maskable_interrupt)
            .set_stack_index(gdt::NMI_MCE_IST_INDEX);
        idt.machine_check.set_handler_fn(machine_check).set_stack_index(gdt::NMI_MCE_IST_INDEX);
    }
    idt[timer::TIMER_VECTOR].set_handler_fn(timer_interrupt);
    idt[pic::vector(pic::COM1_IRQ)].set_handler_fn(com1_interrupt);
    idt[pic::SPURIOUS_MASTER_VECTOR].set_handler_fn(spurious_master);
    idt[pic::SPURIOUS_SLAVE_VECTOR].set_handler_fn(spurious_slave);
    idt[smp::CALL_VECTOR].set_handler_fn(cross_cpu_call);
    idt[apic::SPURIOUS_VECTOR].set_handler_fn(apic_spurious);
    idt
});

/// Loads the IDT.
pub fn init() {
    IDT.load();
}

/// What the CPU told us about an exception, printed as the panic message.
struct ExceptionReport<'a> {
    mnemonic: &'static str,
    name: &'static str,
    vector: u8,
    frame: &'a InterruptStackFrame,
    error_code: Option<u64>,
    page_fault: Option<PageFaultErrorCode>,
}

impl fmt::Display for ExceptionReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "CPU EXCEPTION: {} ({}, vector {})", self.name, self.mnemonic, self.vector)?;
        if let Some(code) = self.error_code {
            write!(f, "    error code: {code:#x}")?;
            if let Some(flags) = self.page_fault {
                write!(f, " ({})", PageFaultCause(flags))?;
            }
            writeln!(f)?;
        }
        let frame = &**self.frame;
        writeln!(
            f,
            "    RIP: {:#018x}  CS: {:#06x}  RFLAGS: {:#010x}",
            frame.instruction_pointer.as_u64(),
            frame.code_segment.0,
            frame.cpu_flags.bits()
        )?;
        write!(f, "    RSP: {:#018x}  SS: {:#06x}", frame.stack_pointer.as_u64(), frame.stack_segment.0)?;
        if self.page_fault.is_some() {
            // CR2 is read before anything else can fault and overwrite it: the report is
            // built at the top of the handler.
            match Cr2::read() {
                Ok(address) => write!(f, "\n    CR2: {:#018x}", address.as_u64())?,
                Err(invalid) => write!(f, "\n    CR2: {:#018x} (non-canonical)", invalid.0)?,
            }
        }
        Ok(())
    }
}

/// The page-fault error code in words (SDM Vol. 3A, Figure 4-12).
struct PageFaultCause(PageFaultErrorCode);

impl fmt::Display for PageFaultCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = self.0;
        let present = if flags.contains(PageFaultErrorCode::PROTECTION_VIOLATION) {
            "protection violation"
        } else {
            "page not present"
        };
        let access = if flags.contains(PageFaultErrorCode::INSTRUCTION_FETCH) {
            "instruction fetch"
        } else if flags.contains(PageFaultErrorCode::CAUSED_BY_WRITE) {
            "write"
        } else {
            "read"
        };
        let mode = if flags.contains(PageFaultErrorCode::USER_MODE) { "user" } else { "kernel" };
        write!(f, "{present}, {access}, {mode} mode")?;
        if flags.contains(PageFaultErrorCode::MALFORMED_TABLE) {
            f.write_str(", reserved bit set in a page-table entry")?;
        }
        Ok(())
    }
}

/// An exception raised by ring-3 code ends the process, not the kernel: hands it to the
/// process layer (which never returns here).
fn from_user(frame: &InterruptStackFrame, vector: u8, address: u64, error_code: u64) {
    if frame.code_segment.rpl() == x86_64::PrivilegeLevel::Ring3 {
        let rip = frame.instruction_pointer.as_u64();
        super::usermode::user_fault(super::usermode::UserFault { vector, rip, address, error_code });
    }
}

fn fatal(report: ExceptionReport<'_>) -> ! {
    panic!("{report}")
}

/// Handlers for exceptions without an error code.
macro_rules! fatal_handlers {
    ($($handler:ident => $mnemonic:literal, $name:literal, $vector:literal;)*) => {$(
        extern "x86-interrupt" fn $handler(frame: InterruptStackFrame) {
            from_user(&frame, $vector, 0, 0);
            fatal(ExceptionReport {
                mnemonic: $mnemonic, name: $name, vector: $vector, frame: &frame,
                error_code: None, page_fault: None,
            })
        }
    )*};
}

/// Handlers for exceptions that push an error code.
macro_rules! fatal_handlers_with_code {
    ($($handler:ident => $mnemonic:literal, $name:literal, $vector:literal;)*) => {$(
        extern "x86-interrupt" fn $handler(frame: InterruptStackFrame, error_code: u64) {
            from_user(&frame, $vector, 0, error_code);
            fatal(ExceptionReport {
                mnemonic: $mnemonic, name: $name, vector: $vector, frame: &frame,
                error_code: Some(error_code), page_fault: None,
            })
        }
    )*};
}

fatal_handlers! {
    divide_error => "#DE", "DIVIDE ERROR", 0;
    debug => "#DB", "DEBUG", 1;
    non_maskable_interrupt => "NMI", "NON-MASKABLE INTERRUPT", 2;
    breakpoint => "#BP", "BREAKPOINT", 3;
    overflow => "#OF", "OVERFLOW", 4;
    bound_range_exceeded => "#BR", "BOUND RANGE EXCEEDED", 5;
    invalid_opcode => "#UD", "INVALID OPCODE", 6;
    device_not_available => "#NM", "DEVICE NOT AVAILABLE", 7;
    x87_floating_point => "#MF", "X87 FLOATING-POINT ERROR", 16;
    simd_floating_point => "#XM", "SIMD FLOATING-POINT EXCEPTION", 19;
    virtualization => "#VE", "VIRTUALIZATION EXCEPTION", 20;
    hypervisor_injection => "#HV", "HYPERVISOR INJECTION EXCEPTION", 28;
}

fatal_handlers_with_code! {
    invalid_tss => "#TS", "INVALID TSS", 10;
    segment_not_present => "#NP", "SEGMENT NOT PRESENT", 11;
    stack_segment_fault => "#SS", "STACK-SEGMENT FAULT", 12;
    alignment_check => "#AC", "ALIGNMENT CHECK", 17;
    control_protection => "#CP", "CONTROL PROTECTION EXCEPTION", 21;
    vmm_communication => "#VC", "VMM COMMUNICATION EXCEPTION", 29;
    security_exception => "#SX", "SECURITY EXCEPTION", 30;
}

extern "x86-interrupt" fn double_fault(frame: InterruptStackFrame, error_code: u64) -> ! {
    fatal(ExceptionReport {
        mnemonic: "#DF",
        name: "DOUBLE FAULT",
        vector: 8,
        frame: &frame,
        error_code: Some(error_code),
        page_fault: None,
    })
}

extern "x86-interrupt" fn machine_check(frame: InterruptStackFrame) -> ! {
    fatal(ExceptionReport {
        mnemonic: "#MC",
        name: "MACHINE CHECK",
        vector: 18,
        frame: &frame,
        error_code: None,
        page_fault: None,
    })
}

/// A non-canonical address raises #GP, not #PF: fault-safe accesses recover from both.
extern "x86-interrupt" fn general_protection_fault(mut frame: InterruptStackFrame, error_code: u64) {
    from_user(&frame, 13, 0, error_code);
    if extable::fixup(&mut frame) {
        return;
    }
    fatal(ExceptionReport {
        mnemonic: "#GP",
        name: "GENERAL PROTECTION FAULT",
        vector: 13,
        frame: &frame,
        error_code: Some(error_code),
        page_fault: None,
    })
}

extern "x86-interrupt" fn page_fault(mut frame: InterruptStackFrame, error_code: PageFaultErrorCode) {
    let address = Cr2::read_raw();
    from_user(&frame, 14, address, error_code.bits());
    if extable::fixup(&mut frame) {
        return;
    }
    fatal(ExceptionReport {
        mnemonic: "#PF",
        name: "PAGE FAULT",
        vector: 14,
        frame: &frame,
        error_code: Some(error_code.bits()),
        page_fault: Some(error_code),
    })
}

extern "x86-interrupt" fn timer_interrupt(frame: InterruptStackFrame) {
    timer::on_tick();
    if frame.code_segment.rpl() == x86_64::PrivilegeLevel::Ring3 {
        super::usermode::user_tick();
    }
}

extern "x86-interrupt" fn com1_interrupt(_frame: InterruptStackFrame) {
    serial::on_interrupt();
    pic::end_of_interrupt(pic::COM1_IRQ);
}

extern "x86-interrupt" fn spurious_master(_frame: InterruptStackFrame) {
    pic::on_spurious(pic::SPURIOUS_MASTER_VECTOR);
}

extern "x86-interrupt" fn spurious_slave(_frame: InterruptStackFrame) {
    pic::on_spurious(pic::SPURIOUS_SLAVE_VECTOR);
}

extern "x86-interrupt" fn cross_cpu_call(_frame: InterruptStackFrame) {
    smp::on_call_interrupt();
}

/// The local APIC's spurious interrupt: no end of interrupt (SDM Vol. 3A, 11.9).
extern "x86-interrupt" fn apic_spurious(_frame: InterruptStackFrame) {}

#[cfg(test)]
mod tests {
    use crate::ktest::ktest;

    #[ktest(should_panic = "BREAKPOINT (#BP, vector 3)")]
    fn breakpoint_is_reported_and_fatal() {
        x86_64::instructions::interrupts::int3();
    }

    #[ktest(should_panic = "    RIP: 0x")]
    fn the_report_shows_the_faulting_rip() {
        x86_64::instructions::interrupts::int3();
    }
}
