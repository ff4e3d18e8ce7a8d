//! Oracle b: the ABI contract, for conforming programs (spec §2.6):
//! * preempted, migrated, signalled or hit by a membarrier RSEQ IPI inside a
//!   critical section, the next user instruction is abort_ip and rseq_cs is 0;
//! * after any return to user mode while registered, cpu_id_start, cpu_id,
//!   node_id and mm_cid are current;
//! * the program is never killed by rseq;
//! * outside any critical section, rseq never moves the IP: the program
//!   resumes (or its first signal frame saves) the IP it entered the kernel
//!   at, unless a syscall of the window sets the IP itself;
//! * cpu_id_start is always a possible CPU number, registered or not (man
//!   page, spec §2.6): the kernel's last write to it before a return is one;
//! * a successful unregistration leaves cpu_id at RSEQ_CPU_ID_UNINITIALIZED
//!   ("rseq uninitialized"; glibc's sched_getcpu() trusts a cpu_id >= 0).
//!
//! Only windows up to the program's first ABI violation are held to it.

use super::Finding;
use crate::abi::rseq;
use crate::kernel::{cpu_to_node, Event, Fate, Observation, Syscall, NR_CPUS};
use crate::mem::AccessKind;
use crate::runner::{Run, Window};
use crate::scenario::Lowered;
use crate::trace::TraceEvent;

fn u32_at(b: &[u8], off: u64) -> Option<u32> {
    let s = b.get(off as usize..off as usize + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], off: u64) -> Option<u64> {
    let s = b.get(off as usize..off as usize + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// Findings with the index of the observation each is about.
pub fn check(run: &Run, lowered: &Lowered) -> Vec<(Finding, usize)> {
    let mut out = Vec::new();
    for (k, (o, w)) in run.observations.iter().zip(&run.windows).enumerate() {
        if !w.conforming {
            break;
        }
        let before = k.checked_sub(1).and_then(|p| run.observations.get(p));
        if let Some(msg) = violated(o, w)
            .or_else(|| cpu_id_start_impossible(run, before, o))
            .or_else(|| cpu_id_live_after_unregistration(run, before, o, lowered))
        {
            out.push((Finding::new("contract", vec![run.name()], o.step, msg), k));
            break;
        }
    }
    out
}

fn violated(o: &Observation, w: &Window) -> Option<String> {
    // Only rseq's own kills count: a program may die of a signal it (or
    // another thread) sent itself without a handler.
    if !o.kills.is_empty() {
        return Some(format!(
            "a conforming program was killed (rseq kills {:?}, fate {:?})",
            o.kills, o.fate
        ));
    }
    if o.fate != Fate::Running {
        return None;
    }
    if let Some(cs) = w.cs_at_entry {
        let must_abort =
            !w.entry_syscall && (w.preempted || w.migrated || w.membarrier || !w.frames.is_empty());
        if must_abort {
            let resumed = w.frames.first().map_or(o.ip, |f| f.1);
            let why = if !w.frames.is_empty() {
                "signalled"
            } else if w.migrated {
                "migrated"
            } else if w.preempted {
                "preempted"
            } else {
                "hit by the membarrier RSEQ IPI"
            };
            if resumed != cs.abort {
                return Some(format!(
                    "{why} inside the critical section [{:#x}, +{:#x}) but resumed at {resumed:#x}, not abort_ip {:#x}",
                    cs.start, cs.len, cs.abort
                ));
            }
            let cleared = o.area.as_deref().and_then(|a| u64_at(a, rseq::RSEQ_CS));
            if o.registration.is_some() && cleared != Some(0) {
                let cleared = cleared.map_or("unreadable".to_string(), |v| format!("{v:#x}"));
                return Some(format!(
                    "aborted to {:#x} but rseq_cs is {cleared}, not 0",
                    cs.abort
                ));
            }
        }
    }
    // Outside any critical section rseq never moves the IP: the task
    // resumes (or saves in its first signal frame) the IP it entered the
    // kernel with, or the one rt_sigreturn restored. A successful execve
    // sets its own IP, and a restored IP inside a section may be aborted.
    let kept = if w.ip_replaced {
        w.restored_ip_outside_cs
            .map(|ip| (ip, "rt_sigreturn restored"))
    } else if w.cs_at_entry.is_none() {
        w.entry_ip.map(|ip| (ip, "entered the kernel at"))
    } else {
        None
    };
    if let Some((ip, how)) = kept {
        let resumed = w.frames.first().map_or(o.ip, |f| f.1);
        if resumed != ip {
            return Some(format!(
                "{how} {ip:#x}, outside any critical section, but resumed at {resumed:#x}"
            ));
        }
    }
    // The observation holds the registered area's bytes, wherever the
    // program registered it.
    o.registration?;
    let area = o.area.as_deref()?;
    let want = [
        ("cpu_id_start", rseq::CPU_ID_START, o.cpu),
        ("cpu_id", rseq::CPU_ID, o.cpu),
        ("node_id", rseq::NODE_ID, cpu_to_node(o.cpu)),
        ("mm_cid", rseq::MM_CID, o.mm_cid),
    ];
    for (name, off, value) in want {
        let got = u32_at(area, off)?;
        if got != value {
            return Some(format!(
                "{name} is {got:#x} after a return to user mode, not the current {value:#x}"
            ));
        }
    }
    None
}

/// The value of the kernel's last successful write to the u32 field at
/// `field` in this observation's window: None when it did not write it,
/// Some(None) when the last write covered it only in part. The fields are
/// judged by what the kernel wrote, not by the bytes at the return: the
/// program (another thread, a ptracer) may store into the area while the
/// task is in the kernel.
fn last_kernel_write_u32(run: &Run, o: &Observation, field: u64) -> Option<Option<u32>> {
    let (a, b) = o.trace_range;
    run.trace
        .events
        .get(a..b)?
        .iter()
        .rev()
        .find_map(|e| match e {
            TraceEvent::Access {
                addr,
                width,
                kind: AccessKind::Write,
                result: Ok(()),
                value,
                ..
            } if *addr < field.wrapping_add(4) && field < addr.wrapping_add(u64::from(*width)) => {
                Some(
                    (*addr == field && *width == 4)
                        .then(|| value.map(|v| v as u32))
                        .flatten(),
                )
            }
            _ => None,
        })
}

/// The man page promises that cpu_id_start "is guaranteed to always be a
/// possible CPU number, even when rseq is not registered". The program
/// starts it at a possible CPU (0), so only a kernel write can break that:
/// the kernel's last write to it before a return must be a possible CPU.
/// (Registration may write RSEQ_CPU_ID_UNINITIALIZED first, as long as the
/// exit path overwrites it before the return.) The field is the
/// cpu_id_start of the area registered at the window's start (`before`) or
/// at its end, wherever the program registered it.
fn cpu_id_start_impossible(
    run: &Run,
    before: Option<&Observation>,
    o: &Observation,
) -> Option<String> {
    if o.fate != Fate::Running {
        return None;
    }
    let areas = [before.and_then(|b| b.registration), o.registration];
    areas.into_iter().flatten().find_map(|r| {
        let field = r.addr.wrapping_add(rseq::CPU_ID_START);
        let wrote = last_kernel_write_u32(run, o, field)??;
        (wrote >= NR_CPUS).then(|| {
            format!("the kernel's last write to cpu_id_start before the return was {wrote:#x}, not a possible CPU number")
        })
    })
}

/// A successful unregistration of the registered area resets cpu_id to
/// RSEQ_CPU_ID_UNINITIALIZED: every release does, and user space
/// (glibc's sched_getcpu()) reads a cpu_id >= 0 as "registered, on this
/// CPU". Judged by the kernel's last write to the field in the window.
fn cpu_id_live_after_unregistration(
    run: &Run,
    before: Option<&Observation>,
    o: &Observation,
    lowered: &Lowered,
) -> Option<String> {
    let before = before?;
    let area = before.registration?.addr;
    if o.fate != Fate::Running
        || o.task != before.task
        || o.registration.is_some()
        || o.syscall_ret != Some(0)
    {
        return None;
    }
    // The syscall whose return value the observation holds is the last
    // one that ran in the window: it must be the unregistration.
    let last_syscall = lowered
        .window_events(before.step, o.step)
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Syscall(sc) => Some(sc),
            _ => None,
        });
    let word = crate::abi::word_mask(lowered.arch.word_bits());
    if !matches!(last_syscall, Some(Syscall::Rseq { addr, flags, .. })
        if flags & 1 == 1 && addr & word == area)
    {
        return None;
    }
    let uninit = crate::abi::RSEQ_CPU_ID_UNINITIALIZED;
    match last_kernel_write_u32(run, o, area.wrapping_add(rseq::CPU_ID)) {
        None => Some("a successful unregistration did not reset cpu_id".to_string()),
        Some(Some(v)) if v != uninit => Some(format!(
            "the kernel's last write to cpu_id in a successful unregistration was {v:#x}, not RSEQ_CPU_ID_UNINITIALIZED"
        )),
        Some(_) => None,
    }
}
