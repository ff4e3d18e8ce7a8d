//! The same case through a model: a [`Setup`] whose user memory reproduces
//! the child's pages at the real addresses, and the driver events that stand
//! for what the child does.

use super::case::{
    Layout, PageKind, Resolved, Trigger, CONTROL_PAGE, GUARD_PAGES, OWN_AREA_OFFSET, SIG,
};
use super::Outcome;
use crate::abi::{rseq, rseq_cs, sig};
use crate::config::Config;
use crate::kernel::{Event, Fate, Model, Setup, Syscall};
use crate::mem::{page_of, FaultMode, PageState, UserMem, PAGE_SIZE};
use crate::trace::TraceEvent;

/// How a page kind of the harness looks to the model.
pub fn page_state(kind: PageKind) -> PageState {
    match kind {
        PageKind::Present => PageState::Present,
        PageKind::ReadOnly => PageState::ReadOnly,
        PageKind::ProtNone => PageState::ProtNone,
        PageKind::Unmapped => PageState::Unmapped,
        // Anonymous memory never touched, and a memfd page after
        // MADV_DONTNEED: not present; a fault brings in zeroes or the file's
        // contents.
        PageKind::AnonUntouched | PageKind::MemfdDontneed => PageState::NotPresent,
    }
}

/// The descriptor the child drains the event mask with (arena control page).
pub fn drain_desc(l: &Layout) -> [u8; 32] {
    let mut d = [0u8; 32];
    d[8..16].copy_from_slice(&l.cs_start.to_le_bytes());
    d[16..24].copy_from_slice(&l.cs_end.wrapping_sub(l.cs_start).to_le_bytes());
    d[24..32].copy_from_slice(&l.pad_drain.to_le_bytes());
    d
}

/// The pages the harness owns in the child (their contents are known without
/// reading the child).
fn owned(l: &Layout, addr: u64) -> bool {
    l.in_owned_pages(addr)
}

/// Fill `[addr, addr + len)` of the model from the child's memory, page by
/// page, for pages the harness does not own. A page that reads gets the
/// given state (if it had none yet); one that does not stays unmapped.
fn fill(
    m: &mut UserMem,
    l: &Layout,
    addr: u64,
    len: u64,
    state: PageState,
    force: bool,
    peek: &mut dyn FnMut(u64, &mut [u8]) -> bool,
) {
    let Some(end) = addr.checked_add(len) else {
        return;
    };
    let end = end.min(l.task_size);
    let mut a = addr;
    while a < end {
        let page_end = (page_of(a) + 1) * PAGE_SIZE;
        let chunk_end = page_end.min(end);
        if force || !owned(l, a) {
            let mut buf = vec![0u8; (chunk_end - a) as usize];
            if peek(a, &mut buf) {
                if m.state(a) == PageState::Unmapped {
                    m.set_state(a, state);
                }
                m.poke(a, &buf);
            }
        }
        a = chunk_end;
    }
}

/// The model's user memory for a case: the arena as the child sets it up,
/// the area page, and the pages outside the arena the kernel reads (the
/// descriptor at `rseq_cs`, then the signature before its abort IP), read
/// from the child before the case runs.
pub fn model_memory(
    l: &Layout,
    res: &Resolved,
    peek: &mut dyn FnMut(u64, &mut [u8]) -> bool,
) -> UserMem {
    let mut m = UserMem::new(l.task_size);
    let control = l.arena_page(CONTROL_PAGE);
    m.set_state(control, PageState::Present);
    m.poke(control, &drain_desc(l));
    for g in GUARD_PAGES {
        m.set_state(l.arena_page(g), PageState::ProtNone);
    }
    for (addr, kind) in res.pages {
        if addr != 0 {
            m.set_state(addr, page_state(kind));
        }
    }
    // The placed bytes, where the harness writes them.
    for (base, bytes) in res.writes() {
        for i in 0..bytes.len() as u64 {
            let a = base.wrapping_add(i);
            let kind = res
                .pages
                .iter()
                .find(|(p, _)| *p != 0 && page_of(*p) == page_of(a))
                .map(|(_, k)| *k);
            if kind.is_some_and(|k| k.keeps_contents()) {
                m.poke(a, &bytes[i as usize..i as usize + 1]);
            }
        }
    }
    // The area (read from the child even when it lives in the control page).
    let own_area = l.area == control + OWN_AREA_OFFSET;
    fill(
        &mut m,
        l,
        l.area,
        l.area_len.max(32) as u64,
        PageState::Present,
        own_area,
        peek,
    );
    if own_area {
        // Keep the drain descriptor the area read may have overwritten.
        m.poke(control, &drain_desc(l));
    }
    // The descriptor, in the kernel's order of reads.
    let ptr = res.rseq_cs;
    if ptr != 0 && ptr < l.task_size {
        fill(
            &mut m,
            l,
            ptr,
            rseq_cs::SIZE,
            PageState::ReadOnly,
            false,
            peek,
        );
        // The signature word before abort_ip. abort_ip is read alone: the
        // rework reads the descriptor field by field and finds abort_ip
        // (and aborts) where the whole descriptor would fault, e.g. when
        // version and flags lie on an unmapped page (found against a real
        // 7.3 kernel: requiring all 32 bytes left the signature out and the
        // model killed for a mismatch).
        let mut probe = m.clone();
        let field = ptr.wrapping_add(rseq_cs::ABORT_IP);
        if let Ok(b) = probe.read::<8>(field, FaultMode::Enabled) {
            let abort_ip = u64::from_le_bytes(b);
            if abort_ip >= 4 {
                fill(&mut m, l, abort_ip - 4, 4, PageState::ReadOnly, false, peek);
            }
        }
    }
    m
}

/// Whether running the case could make the child execute at an address the
/// case chose. The kernel moves the IP to abort_ip only when the 4 bytes
/// before it hold the signature. With the nanosleep and membarrier triggers
/// it returns there directly; with a signal trigger the handler sends the
/// child away from the frame's IP, except when that IP is the handler's own entry (it takes
/// such a frame for a nested delivery and returns into it). The code pads
/// and the arena are always safe (the arena is never executable).
pub fn unsafe_abort_target(l: &Layout, res: &Resolved, mem: &UserMem) -> Option<u64> {
    if res.rseq_cs == 0 || res.rseq_cs >= l.task_size {
        return None;
    }
    let mut probe = mem.clone();
    let d = probe.read::<32>(res.rseq_cs, FaultMode::Enabled).ok()?;
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[24..32]);
    let abort_ip = u64::from_le_bytes(b);
    if l.pads().iter().any(|(p, _)| *p == abort_ip) || l.in_owned_pages(abort_ip) {
        return None;
    }
    if res.trigger.signal().is_some() && abort_ip != l.handler {
        return None;
    }
    let sig_bytes = probe
        .read::<4>(abort_ip.wrapping_sub(4), FaultMode::Enabled)
        .ok()?;
    (u32::from_le_bytes(sig_bytes) == SIG).then_some(abort_ip)
}

/// Index of the trigger's syscall event in [`model_events`].
pub fn trigger_step(res: &Resolved) -> usize {
    if res.area_flags != 0 {
        5
    } else {
        4
    }
}

/// The driver events for a case: register rseq at the area, return to user,
/// set `rseq->flags` and `rseq->rseq_cs`, move to the syscall site, make the
/// trigger syscall (any syscall rseq does not look at stands for tgkill and
/// nanosleep; membarrier is modelled), then the signal or the switch out and
/// back in, and return.
pub fn model_events(l: &Layout, res: &Resolved, mm_cid: u32) -> Vec<Event> {
    let mut ev = vec![
        Event::Syscall(Syscall::Rseq {
            addr: l.area,
            len: l.area_len,
            flags: 0,
            sig: SIG,
        }),
        Event::ExitToUser,
    ];
    if res.area_flags != 0 {
        ev.push(Event::Store {
            addr: l.area + rseq::FLAGS,
            bytes: res.area_flags.to_le_bytes().to_vec(),
        });
    }
    ev.push(Event::Store {
        addr: l.area + rseq::RSEQ_CS,
        bytes: res.rseq_cs.to_le_bytes().to_vec(),
    });
    ev.push(Event::SetIp { ip: res.site_ip });
    match res.trigger {
        Trigger::Tgkill | Trigger::TgkillSegv => {
            ev.push(Event::Syscall(Syscall::Getpid));
            ev.push(Event::Signal {
                sig: res.trigger.signal().unwrap_or(sig::SIGUSR1),
            });
        }
        Trigger::Nanosleep => {
            ev.push(Event::Syscall(Syscall::Getpid));
            ev.push(Event::SwitchOut);
            ev.push(Event::SwitchIn { cpu: l.cpu, mm_cid });
        }
        // membarrier itself is modelled: the IPI runs on the caller.
        Trigger::Membarrier => ev.push(Event::Syscall(Syscall::Membarrier { own_cpu: true })),
    }
    ev.push(Event::ExitToUser);
    ev
}

/// The model's [`Setup`] for a case.
pub fn model_setup(l: &Layout, mem: UserMem, mm_cid: u32) -> Setup {
    Setup {
        mem,
        ip: l.site_out,
        cpu: l.cpu,
        mm_cid,
        handlers: (1u64 << sig::SIGUSR1) | (1u64 << sig::SIGSEGV),
        handler_ip: l.handler,
        exec_entry_ip: l.resume,
        area: l.area,
        area_len: 32,
    }
}

/// The mm_cid the child's area shows (the model switches the task back in
/// with it).
pub fn area_mm_cid(l: &Layout, mem: &UserMem) -> u32 {
    mem.peek(l.area + rseq::MM_CID, 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

/// Run a case through a model and classify what it did the way the live
/// harness classifies the child.
pub fn model_outcome(
    build: &dyn Fn(Config, Setup) -> Box<dyn Model>,
    cfg: Config,
    l: &Layout,
    res: &Resolved,
    mem: UserMem,
) -> Result<Outcome, String> {
    let mm_cid = area_mm_cid(l, &mem);
    let events = model_events(l, res, mm_cid);
    let mut model = build(cfg, model_setup(l, mem, mm_cid));
    for (i, e) in events.iter().enumerate() {
        model.step(i, e);
    }
    model.finish(events.len());
    let from = trigger_step(res);
    let task = model.current();
    if let Fate::Killed { .. } = task.fate {
        return Ok(Outcome::Killed { fatal: true });
    }
    let obs: Vec<_> = model
        .observations()
        .iter()
        .filter(|o| o.step >= from)
        .collect();
    // A kill that merged into a SIGSEGV already pending (the tgkill_segv
    // trigger's) is delivered with the trigger's siginfo: the harness sees
    // its trigger, not a kill.
    let trace = &model.trace().events;
    let seen_kill = obs.iter().any(|o| {
        let window = trace.get(o.trace_range.0..o.trace_range.1).unwrap_or(&[]);
        let merged = window
            .iter()
            .filter(|e| matches!(e, TraceEvent::SignalMerged { .. }))
            .count();
        o.kills.len() > merged
    });
    if seen_kill {
        return Ok(Outcome::Killed { fatal: false });
    }
    let resume_ip = match res.trigger.signal() {
        Some(s) => match task.frames.iter().find(|f| f.sig == s) {
            Some(f) => f.saved_ip,
            None => return Err(format!("the model delivered no frame for signal {s}")),
        },
        None => task.frames.first().map_or(task.ip, |f| f.saved_ip),
    };
    let area = obs
        .last()
        .and_then(|o| o.area)
        .ok_or("the model's area is unreadable after the trigger")?;
    let mut b = [0u8; 8];
    b.copy_from_slice(&area[8..16]);
    Ok(super::classify(res, resume_ip, u64::from_le_bytes(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::case::{
        resolve, test_layout as layout, Addr, Anchor, LiveCase, Place, Region,
    };

    /// The "child's memory" outside the arena: code bytes with the
    /// signature before `sig_before`, the area page readable.
    fn peek_with_sig_before(sig_before: u64) -> impl FnMut(u64, &mut [u8]) -> bool {
        move |addr, buf| {
            if page_of(addr) == page_of(0x50_0000) {
                buf.fill(0);
                return true;
            }
            if page_of(addr) != page_of(0x40_0000) && page_of(addr) != page_of(0x40_1000) {
                return false;
            }
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr + i as u64;
                let off = a.wrapping_sub(sig_before - 4);
                *b = if off < 4 {
                    SIG.to_le_bytes()[off as usize]
                } else {
                    0x90
                };
            }
            true
        }
    }

    fn prepared(case: &LiveCase, sig_before: u64) -> (Resolved, UserMem) {
        let l = layout();
        let res = resolve(case, &l).unwrap();
        let mem = model_memory(&l, &res, &mut peek_with_sig_before(sig_before));
        (res, mem)
    }

    #[test]
    fn arena_pages_and_placed_bytes_are_reproduced() {
        let l = layout();
        let case = LiveCase {
            desc_at: Place {
                region: Region::DescPair,
                offset: 4096 - 8,
            },
            desc_pages: [PageKind::Present, PageKind::MemfdDontneed],
            sig_pages: [PageKind::AnonUntouched, PageKind::ProtNone],
            abort_ip: Addr::at(Anchor::AfterSig),
            ..LiveCase::default()
        };
        let (res, mem) = prepared(&case, l.pad_good);
        let d = l.arena_page(2);
        assert_eq!(mem.state(d), PageState::Present);
        assert_eq!(mem.state(d + PAGE_SIZE), PageState::NotPresent);
        assert_eq!(mem.state(l.arena_page(5)), PageState::NotPresent);
        assert_eq!(mem.state(l.arena_page(6)), PageState::ProtNone);
        assert_eq!(mem.state(l.arena_page(4)), PageState::ProtNone);
        // The descriptor straddles: both halves are there (memfd keeps them).
        assert_eq!(mem.peek(res.desc_addr, 32), Some(res.desc.to_vec()));
        // An untouched page drops the signature the case placed.
        assert_eq!(mem.peek(res.sig_addr, 4), Some(vec![0; 4]));
        // The area page was read from the child; the code page too, since
        // the kernel reads... nothing there: abort_ip is in the arena.
        assert_eq!(mem.state(l.area), PageState::Present);
        assert_eq!(mem.state(l.pad_good), PageState::Unmapped);
        // The wire format keeps what the child needs.
        let back = Resolved::from_words(&res.to_words());
        assert_eq!(
            (back.rseq_cs, back.desc, back.sig, back.pages, back.site_ip),
            (res.rseq_cs, res.desc, res.sig, res.pages, res.site_ip)
        );
    }

    #[test]
    fn code_pages_the_kernel_reads_are_copied_from_the_child() {
        let l = layout();
        let (_, mem) = prepared(&LiveCase::default(), l.pad_good);
        assert_eq!(mem.state(l.pad_good), PageState::ReadOnly);
        assert_eq!(
            mem.peek(l.pad_good - 4, 4),
            Some(SIG.to_le_bytes().to_vec())
        );
    }

    #[test]
    fn the_signature_is_copied_when_only_abort_ip_is_readable() {
        // Version and flags on an unmapped page, the fields from start_ip on
        // the next (read-only) page: the rework reads the fields one by one,
        // finds abort_ip and checks the signature before it, so the model
        // needs that word although the whole descriptor would fault.
        let l = layout();
        let case = LiveCase {
            desc_at: Place {
                region: Region::DescPair,
                offset: 4096 - 4,
            },
            desc_pages: [PageKind::Unmapped, PageKind::ReadOnly],
            ..LiveCase::default()
        };
        let (res, mut mem) = prepared(&case, l.pad_good);
        assert!(mem.read::<32>(res.rseq_cs, FaultMode::Enabled).is_err());
        assert_eq!(
            mem.peek(l.pad_good - 4, 4),
            Some(SIG.to_le_bytes().to_vec())
        );
    }

    #[test]
    fn only_safe_abort_targets_run() {
        let l = layout();
        let foreign = 0x40_0090; // in the code page, not a pad
        let at = |a: u64| Addr::new(Anchor::Zero, a as i64);
        let nanosleep = |abort: Addr| LiveCase {
            trigger: Trigger::Nanosleep,
            abort_ip: abort,
            ..LiveCase::default()
        };
        // Nanosleep to a foreign address with the signature before it: refused.
        let (res, mem) = prepared(&nanosleep(at(foreign)), foreign);
        assert_eq!(unsafe_abort_target(&l, &res, &mem), Some(foreign));
        // Without the signature the kernel kills instead: allowed.
        let (res, mem) = prepared(&nanosleep(at(foreign)), l.pad_good);
        assert_eq!(unsafe_abort_target(&l, &res, &mem), None);
        // Pads and the arena: allowed.
        let (res, mem) = prepared(&nanosleep(Addr::at(Anchor::PadGood)), l.pad_good);
        assert_eq!(unsafe_abort_target(&l, &res, &mem), None);
        let (res, mem) = prepared(&nanosleep(Addr::at(Anchor::AfterSig)), l.pad_good);
        assert_eq!(unsafe_abort_target(&l, &res, &mem), None);
        // A signal trigger: foreign targets are safe (the handler redirects)...
        let tgkill = LiveCase {
            abort_ip: at(foreign),
            ..LiveCase::default()
        };
        let (res, mem) = prepared(&tgkill, foreign);
        assert_eq!(unsafe_abort_target(&l, &res, &mem), None);
        // ...except the handler's own entry.
        let tgkill = LiveCase {
            abort_ip: at(l.handler),
            ..LiveCase::default()
        };
        let (res, mem) = prepared(&tgkill, l.handler);
        assert_eq!(unsafe_abort_target(&l, &res, &mem), Some(l.handler));
    }

    #[test]
    fn events_stand_for_each_trigger() {
        let l = layout();
        for (trigger, n) in [(Trigger::Tgkill, 8), (Trigger::Nanosleep, 9)] {
            let case = LiveCase {
                trigger,
                area_flags: 1,
                ..LiveCase::default()
            };
            let res = resolve(&case, &l).unwrap();
            let ev = model_events(&l, &res, 0);
            assert_eq!(ev.len(), n, "{trigger:?}");
            assert_eq!(ev[trigger_step(&res)], Event::Syscall(Syscall::Getpid));
            assert_eq!(ev.last(), Some(&Event::ExitToUser));
        }
        let case = LiveCase {
            trigger: Trigger::Membarrier,
            ..LiveCase::default()
        };
        let res = resolve(&case, &l).unwrap();
        let ev = model_events(&l, &res, 0);
        assert_eq!(
            ev[trigger_step(&res)],
            Event::Syscall(Syscall::Membarrier { own_cpu: true })
        );
    }
}
