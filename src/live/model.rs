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
        let mut probe = m.clone();
        if let Ok(d) = probe.read::<32>(ptr, FaultMode::Enabled) {
            let mut b = [0u8; 8];
            b.copy_from_slice(&d[24..32]);
            let abort_ip = u64::from_le_bytes(b);
            if abort_ip >= 4 {
                fill(&mut m, l, abort_ip - 4, 4, PageState::ReadOnly, false, peek);
            }
        }
    }
    m
}

/// Whether running the case could make the child execute at an address the
/// case chose: only the nanosleep trigger returns to the abort IP without a
/// signal frame, and only an abort IP whose 4 preceding bytes hold the
/// signature can be reached. The code pads and the arena are safe.
pub fn unsafe_abort_target(l: &Layout, res: &Resolved, mem: &UserMem) -> Option<u64> {
    if res.trigger != Trigger::Nanosleep || res.rseq_cs == 0 || res.rseq_cs >= l.task_size {
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
/// nanosleep), then the signal or the switch out and back in, and return.
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
    ev.push(Event::Syscall(Syscall::Getpid));
    match res.trigger.signal() {
        Some(s) => ev.push(Event::Signal { sig: s }),
        None => {
            ev.push(Event::SwitchOut);
            ev.push(Event::SwitchIn { cpu: l.cpu, mm_cid });
        }
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
    if obs.iter().any(|o| !o.kills.is_empty()) {
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
        .and_then(|o| o.area.clone())
        .ok_or("the model's area is unreadable after the trigger")?;
    let mut b = [0u8; 8];
    b.copy_from_slice(&area[8..16]);
    Ok(super::classify(res, resume_ip, u64::from_le_bytes(b)))
}
