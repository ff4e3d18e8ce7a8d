//! Oracle c: security invariants, for every program on every version.
//! * User mode never resumes at an IP the kernel set at or above TASK_SIZE.
//! * The kernel never moves the IP to an abort_ip whose four preceding bytes
//!   it did not read, successfully, as the registered signature, in the same
//!   step (an interrupt over an invalid descriptor never ends in an abort to
//!   an unchecked address).
//! * The kernel never writes user memory outside a registered area (or one
//!   being registered).
//! * The kernel never writes user memory for a task that is not registered
//!   before or after a return and made no rseq call in between: user space
//!   may reuse the memory of an area it unregistered (or left by execve).

use super::Finding;
use crate::kernel::{Event, Syscall};
use crate::mem::AccessKind;
use crate::runner::Run;
use crate::scenario::Lowered;
use crate::trace::TraceEvent;

const FRAME_REASON: &str = "signal handler frame";

pub fn check(run: &Run, lowered: &Lowered) -> Vec<Finding> {
    let mut out = check_trace(run, lowered);
    if out.is_empty() {
        out.extend(write_while_unregistered(run, lowered));
    }
    out
}

/// A successful kernel write in a window whose task was unregistered at
/// both ends and made no rseq call.
fn write_while_unregistered(run: &Run, lowered: &Lowered) -> Option<Finding> {
    for (k, o) in run.observations.iter().enumerate().skip(1) {
        let before = &run.observations[k - 1];
        if before.registration.is_some() || o.registration.is_some() {
            continue;
        }
        if lowered
            .window_events(before.step, o.step)
            .iter()
            .any(|e| matches!(e, Event::Syscall(Syscall::Rseq { .. })))
        {
            continue;
        }
        let (a, b) = o.trace_range;
        let wrote = run
            .trace
            .events
            .get(a..b)
            .unwrap_or(&[])
            .iter()
            .find_map(successful_write);
        if let Some((function, addr, width)) = wrote {
            return Some(Finding::new(
                "security",
                vec![run.name()],
                o.step,
                format!(
                    "{function} wrote {width} bytes at {addr:#x} while the task was not registered"
                ),
            ));
        }
    }
    None
}

/// (function, address, width) of a kernel write to user memory that
/// succeeded.
fn successful_write(e: &TraceEvent) -> Option<(&'static str, u64, u8)> {
    match e {
        TraceEvent::Access {
            function,
            addr,
            width,
            kind: AccessKind::Write,
            result: Ok(()),
            ..
        } => Some((*function, *addr, *width)),
        _ => None,
    }
}

fn check_trace(run: &Run, lowered: &Lowered) -> Vec<Finding> {
    // Every area the task had registered or tried to register, and every
    // signature it registered.
    let mut areas: Vec<(u64, u64)> = Vec::new();
    let mut sigs: Vec<u32> = Vec::new();
    // Most observations repeat the same registration: keep each area once,
    // since every kernel write is checked against all of them.
    for o in &run.observations {
        if let Some(r) = o.registration {
            let area = (r.addr, u64::from(r.len).max(32));
            if areas.last() != Some(&area) {
                areas.push(area);
            }
            if sigs.last() != Some(&r.sig) {
                sigs.push(r.sig);
            }
        }
    }
    for e in &lowered.events {
        if let Event::Syscall(Syscall::Rseq { addr, len, sig, .. }) = e {
            let addr = addr & crate::abi::word_mask(lowered.arch.word_bits());
            areas.push((addr, u64::from(*len).max(32)));
            sigs.push(*sig);
        }
    }
    let finding =
        |step: usize, message: String| Finding::new("security", vec![run.name()], step, message);
    let mut step = 0;
    let mut step_start = 0;
    let events = &run.trace.events;
    for (i, e) in events.iter().enumerate() {
        if let Some((function, addr, width)) = successful_write(e) {
            let end = addr.saturating_add(u64::from(width));
            if !areas
                .iter()
                .any(|&(a, l)| addr >= a && end <= a.saturating_add(l))
            {
                return vec![finding(
                    step,
                    format!("{function} wrote {width} bytes at {addr:#x}, outside every registered area"),
                )];
            }
            continue;
        }
        match e {
            TraceEvent::Step { index, .. } => {
                step = *index;
                step_start = i;
            }
            TraceEvent::IpSet { ip, reason } => {
                // A handler address is the program's own choice (sigaction).
                if *ip >= run.task_size && *reason != FRAME_REASON {
                    return vec![finding(step, format!("the kernel set the user IP to {ip:#x}, at or above TASK_SIZE ({reason})"))];
                }
                if *reason != FRAME_REASON {
                    let sig_addr = ip.wrapping_sub(4);
                    let check = events[step_start..i].iter().rev().find_map(|a| match a {
                        TraceEvent::Access {
                            addr,
                            width: 4,
                            kind: AccessKind::Read,
                            value,
                            result,
                            ..
                        } if *addr == sig_addr => Some((*value, *result)),
                        _ => None,
                    });
                    match check {
                        Some((Some(v), Ok(()))) if sigs.contains(&(v as u32)) => {}
                        Some((v, _)) => {
                            // One line: a panic message is grepped from logs.
                            let read =
                                v.map_or("nothing (fault)".to_string(), |v| format!("{v:#x}"));
                            let sigs: Vec<String> =
                                sigs.iter().map(|s| format!("{s:#x}")).collect();
                            return vec![finding(step, format!(
                                "abort to {ip:#x} although the word at {sig_addr:#x} read as {read}, not a registered signature [{}]",
                                sigs.join(", ")
                            ))];
                        }
                        None => {
                            let why = format!(
                                "abort to {ip:#x} without reading the signature at {sig_addr:#x}"
                            );
                            return vec![finding(step, why)];
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Vec::new()
}
