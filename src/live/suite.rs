//! The built-in live suite: one case per validation rule of the legacy
//! rseq_get_rseq_cs(), rseq_ip_fixup() and rseq_need_restart() (kernel/rseq.c
//! up to v6.18; spec §3.5), the boundaries around TASK_SIZE and wrap-around,
//! every page state for the descriptor and the signature, and every trigger.
//!
//! Each case carries what the spec's legacy description says should happen
//! ([`Expect`]); the real kernel is the authority and the model is compared
//! with it, the expectation only documents the intent of the case.

use super::case::{
    Addr, Anchor, LiveCase, PageKind, Place, PostCommit, Region, Resolved, Site, Trigger,
};
use super::Outcome;
use serde::Serialize;

/// What the spec's legacy description says a case does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// ABORT to the case's abort_ip.
    Abort,
    /// CLEAR: rseq_cs is 0 afterwards, the IP stays.
    Clear,
    /// rseq_get_rseq_cs() fails (EINVAL/EFAULT): force_sigsegv. The next
    /// delivery (of that SIGSEGV) runs the same check and fails again with
    /// force_sigsegv(SIGSEGV): fatal whatever the trigger.
    KillValidation,
    /// rseq_need_restart() fails (flags): force_sigsegv; with
    /// tgkill(SIGUSR1) the SIGSEGV is delivered with the IP at the handler,
    /// outside the critical section, so the second fixup clears and the
    /// handler catches it; with the other triggers the IP is still inside
    /// and the second failure is fatal.
    KillNeedRestart,
}

impl Expect {
    /// The outcome this expectation means for a resolved case.
    pub fn outcome(&self, case: &LiveCase, res: &Resolved) -> Outcome {
        match *self {
            Expect::Abort => Outcome::Aborted { to: res.abort_ip },
            Expect::Clear => Outcome::Cleared,
            Expect::KillValidation => Outcome::Killed { fatal: true },
            Expect::KillNeedRestart => Outcome::Killed {
                fatal: case.trigger != Trigger::Tgkill,
            },
        }
    }
}

/// A suite entry.
#[derive(Clone, Debug)]
pub struct SuiteCase {
    pub case: LiveCase,
    pub expect: Expect,
}

fn c(name: &str, expect: Expect, f: impl FnOnce(&mut LiveCase)) -> SuiteCase {
    let mut case = LiveCase {
        name: name.to_string(),
        ..LiveCase::default()
    };
    f(&mut case);
    SuiteCase { case, expect }
}

fn at(a: Anchor) -> Addr {
    Addr::at(a)
}

fn off(a: Anchor, o: i64) -> Addr {
    Addr::new(a, o)
}

const GOOD: Expect = Expect::Abort;
const KILL: Expect = Expect::KillValidation;

/// The built-in suite.
pub fn suite() -> Vec<SuiteCase> {
    use Anchor::*;
    let mut s = vec![
        // A valid descriptor, IP inside: abort, for every trigger.
        c("valid_inside_tgkill_aborts", GOOD, |_| {}),
        c("valid_inside_tgkill_segv_aborts", GOOD, |k| {
            k.trigger = Trigger::TgkillSegv
        }),
        c("valid_inside_nanosleep_aborts", GOOD, |k| {
            k.trigger = Trigger::Nanosleep
        }),
        c("valid_inside_membarrier_aborts", GOOD, |k| {
            k.trigger = Trigger::Membarrier
        }),
        // IP outside: clear.
        c("valid_outside_tgkill_clears", Expect::Clear, |k| {
            k.site = Site::Outside
        }),
        c("valid_outside_nanosleep_clears", Expect::Clear, |k| {
            k.site = Site::Outside;
            k.trigger = Trigger::Nanosleep
        }),
        c("valid_outside_membarrier_clears", Expect::Clear, |k| {
            k.site = Site::Outside;
            k.trigger = Trigger::Membarrier
        }),
        c("null_rseq_cs_clears", Expect::Clear, |k| {
            k.rseq_cs = at(Zero)
        }),
        c("null_rseq_cs_nanosleep_clears", Expect::Clear, |k| {
            k.rseq_cs = at(Zero);
            k.trigger = Trigger::Nanosleep
        }),
        // Abort targets.
        c("abort_at_post_commit_ip", Expect::Abort, |k| {
            k.abort_ip = at(CsEnd)
        }),
        c("abort_before_cs", Expect::Abort, |k| {
            k.abort_ip = at(PadPre)
        }),
        c("abort_into_arena", Expect::Abort, |k| {
            k.abort_ip = at(AfterSig)
        }),
        c("abort_into_arena_nanosleep", Expect::Abort, |k| {
            k.abort_ip = at(AfterSig);
            k.trigger = Trigger::Nanosleep
        }),
        c("abort_into_arena_membarrier", Expect::Abort, |k| {
            k.abort_ip = at(AfterSig);
            k.trigger = Trigger::Membarrier
        }),
        // rseq_get_rseq_cs(): the pointer.
        c("rseq_cs_at_task_size", KILL, |k| k.rseq_cs = at(TaskSize)),
        c("rseq_cs_task_size_minus_1", KILL, |k| {
            k.rseq_cs = off(TaskSize, -1)
        }),
        c("rseq_cs_all_ones", KILL, |k| k.rseq_cs = off(Zero, -1)),
        c("rseq_cs_kernel_half", KILL, |k| {
            k.rseq_cs = off(Zero, 0xffff_8000_0000_0000u64 as i64)
        }),
        c("rseq_cs_page_zero", KILL, |k| k.rseq_cs = off(Zero, 0x10)),
        c("rseq_cs_into_code", KILL, |k| k.rseq_cs = at(CsStart)),
        // The descriptor's page state.
        c("desc_read_only", GOOD, |k| {
            k.desc_pages = [PageKind::ReadOnly; 2]
        }),
        c("desc_prot_none", KILL, |k| {
            k.desc_pages = [PageKind::ProtNone; 2]
        }),
        c("desc_unmapped", KILL, |k| {
            k.desc_pages = [PageKind::Unmapped; 2]
        }),
        // Never touched: zeroes, so abort_ip 0 and the signature read at
        // 0 - 4 wraps to the top of the address space and faults.
        c("desc_anon_untouched", KILL, |k| {
            k.desc_pages = [PageKind::AnonUntouched; 2]
        }),
        c("desc_memfd_dontneed", GOOD, |k| {
            k.desc_pages = [PageKind::MemfdDontneed; 2]
        }),
        c("desc_memfd_dontneed_nanosleep", GOOD, |k| {
            k.desc_pages = [PageKind::MemfdDontneed; 2];
            k.trigger = Trigger::Nanosleep
        }),
        // Straddling a page boundary, misaligned.
        c("desc_straddles_present_present", GOOD, |k| {
            k.desc_at = place(Region::DescPair, 4096 - 12)
        }),
        c("desc_straddles_present_prot_none", KILL, |k| {
            k.desc_at = place(Region::DescPair, 4096 - 12);
            k.desc_pages = [PageKind::Present, PageKind::ProtNone]
        }),
        c("desc_straddles_present_unmapped", KILL, |k| {
            k.desc_at = place(Region::DescPair, 4096 - 12);
            k.desc_pages = [PageKind::Present, PageKind::Unmapped]
        }),
        c("desc_straddles_present_memfd", GOOD, |k| {
            k.desc_at = place(Region::DescPair, 4096 - 12);
            k.desc_pages = [PageKind::Present, PageKind::MemfdDontneed]
        }),
        c("desc_straddles_present_untouched", KILL, |k| {
            k.desc_at = place(Region::DescPair, 4096 - 16);
            k.desc_pages = [PageKind::Present, PageKind::AnonUntouched]
        }),
        c("desc_misaligned_1", GOOD, |k| {
            k.desc_at = place(Region::DescPair, 1)
        }),
        c("desc_misaligned_7", GOOD, |k| {
            k.desc_at = place(Region::DescPair, 7)
        }),
        // At the top of the user address space.
        c("desc_last_bytes_below_task_size", GOOD, |k| {
            k.desc_at = place(Region::Top, 4096 - 32);
            k.top_page = PageKind::Present
        }),
        c("desc_crosses_task_size", KILL, |k| {
            k.desc_at = place(Region::Top, 4096 - 16);
            k.top_page = PageKind::Present
        }),
        // version.
        c("version_1", KILL, |k| k.version = 1),
        c("version_max", KILL, |k| k.version = u32::MAX),
        c("version_1_outside_still_kills", KILL, |k| {
            k.version = 1;
            k.site = Site::Outside
        }),
        c("version_1_nanosleep", KILL, |k| {
            k.version = 1;
            k.trigger = Trigger::Nanosleep
        }),
        c("version_1_membarrier", KILL, |k| {
            k.version = 1;
            k.trigger = Trigger::Membarrier
        }),
        c("desc_memfd_dontneed_membarrier", GOOD, |k| {
            k.desc_pages = [PageKind::MemfdDontneed; 2];
            k.trigger = Trigger::Membarrier
        }),
        // start_ip and start_ip + post_commit_offset against TASK_SIZE.
        c("start_at_task_size", KILL, |k| {
            k.start_ip = at(TaskSize);
            k.post_commit = PostCommit::Len(0)
        }),
        c("start_task_size_minus_1_empty", Expect::Clear, |k| {
            k.start_ip = off(TaskSize, -1);
            k.post_commit = PostCommit::Len(0)
        }),
        c("end_at_task_size", KILL, |k| {
            k.post_commit = PostCommit::EndAt(at(TaskSize));
            k.abort_ip = at(PadPre)
        }),
        c("end_task_size_minus_1", Expect::Abort, |k| {
            k.post_commit = PostCommit::EndAt(off(TaskSize, -1));
            k.abort_ip = at(PadPre)
        }),
        c("post_commit_all_ones_overflows", KILL, |k| {
            k.post_commit = PostCommit::Len(u64::MAX)
        }),
        c("end_wraps_to_page_zero", KILL, |k| {
            k.post_commit = PostCommit::EndAt(off(Zero, 0x10))
        }),
        // abort_ip.
        c("abort_at_task_size", KILL, |k| k.abort_ip = at(TaskSize)),
        c("abort_task_size_minus_1", KILL, |k| {
            k.abort_ip = off(TaskSize, -1)
        }),
        c("abort_at_cs_start", KILL, |k| k.abort_ip = at(CsStart)),
        c("abort_at_site_inside", KILL, |k| k.abort_ip = at(SiteIn)),
        c("abort_last_byte_of_cs", KILL, |k| {
            k.abort_ip = off(CsEnd, -1)
        }),
        c("abort_0_sig_read_wraps", KILL, |k| k.abort_ip = at(Zero)),
        c("abort_2_sig_read_wraps", KILL, |k| {
            k.abort_ip = off(Zero, 2)
        }),
        c("abort_4_sig_at_page_zero", KILL, |k| {
            k.abort_ip = off(Zero, 4)
        }),
        c("abort_inside_cs_outside_ip", KILL, |k| {
            k.abort_ip = at(CsStart);
            k.site = Site::Outside
        }),
        // The signature.
        c("sig_wrong_before_pad", KILL, |k| k.abort_ip = at(PadBadSig)),
        c("sig_wrong_in_arena", KILL, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_value = super::SIG ^ 1
        }),
        c("sig_wrong_nanosleep", KILL, |k| {
            k.abort_ip = at(PadBadSig);
            k.trigger = Trigger::Nanosleep
        }),
        c("sig_read_only", Expect::Abort, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_pages = [PageKind::ReadOnly; 2]
        }),
        c("sig_prot_none", KILL, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_pages = [PageKind::ProtNone; 2]
        }),
        c("sig_unmapped", KILL, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_pages = [PageKind::Unmapped; 2]
        }),
        c("sig_anon_untouched", KILL, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_pages = [PageKind::AnonUntouched; 2]
        }),
        c("sig_memfd_dontneed", Expect::Abort, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_pages = [PageKind::MemfdDontneed; 2]
        }),
        c("sig_straddles_present_present", Expect::Abort, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_at = place(Region::SigPair, 4096 - 2)
        }),
        c("sig_straddles_present_prot_none", KILL, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_at = place(Region::SigPair, 4096 - 2);
            k.sig_pages = [PageKind::Present, PageKind::ProtNone]
        }),
        c("sig_misaligned", Expect::Abort, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_at = place(Region::SigPair, 3)
        }),
        c("sig_in_descriptor_page", Expect::Abort, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_at = place(Region::DescPair, 64)
        }),
        c("sig_last_bytes_below_task_size", Expect::Abort, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_at = place(Region::Top, 4096 - 8);
            k.top_page = PageKind::Present
        }),
        c("sig_ends_at_task_size", KILL, |k| {
            k.abort_ip = at(AfterSig);
            k.sig_at = place(Region::Top, 4096 - 4);
            k.top_page = PageKind::Present
        }),
        // in_rseq_cs(): ip - start_ip < post_commit_offset, unsigned.
        c("start_at_ip_inside", GOOD, |k| k.start_ip = at(SiteIn)),
        c("start_after_ip_clears", Expect::Clear, |k| {
            k.start_ip = off(SiteIn, 1)
        }),
        c("end_at_ip_clears", Expect::Clear, |k| {
            k.post_commit = PostCommit::EndAt(at(SiteIn))
        }),
        c("end_after_ip_inside", GOOD, |k| {
            k.post_commit = PostCommit::EndAt(off(SiteIn, 1))
        }),
        c("empty_cs_clears", Expect::Clear, |k| {
            k.post_commit = PostCommit::Len(0)
        }),
        c("ip_below_start_wraps_clears", Expect::Clear, |k| {
            k.start_ip = at(CsEnd);
            k.post_commit = PostCommit::Len(0x100);
            k.abort_ip = at(PadPre)
        }),
        c("cs_covers_all_user_space", Expect::Abort, |k| {
            k.start_ip = off(PadPre, 1);
            k.post_commit = PostCommit::EndAt(off(TaskSize, -1));
            k.abort_ip = at(PadPre)
        }),
        // rseq_need_restart(): rseq_cs.flags then rseq->flags, only inside.
        c(
            "cs_flags_no_restart_on_preempt",
            Expect::KillNeedRestart,
            |k| k.flags = 1,
        ),
        c(
            "cs_flags_no_restart_on_signal",
            Expect::KillNeedRestart,
            |k| k.flags = 2,
        ),
        c(
            "cs_flags_no_restart_on_migrate",
            Expect::KillNeedRestart,
            |k| k.flags = 4,
        ),
        c("cs_flags_unknown_bit_3", Expect::KillNeedRestart, |k| {
            k.flags = 8
        }),
        c("cs_flags_top_bit", Expect::KillNeedRestart, |k| {
            k.flags = 0x8000_0000
        }),
        c("cs_flags_outside_clears", Expect::Clear, |k| {
            k.flags = 1;
            k.site = Site::Outside
        }),
        c("cs_flags_nanosleep", Expect::KillNeedRestart, |k| {
            k.flags = 1;
            k.trigger = Trigger::Nanosleep
        }),
        c("cs_flags_tgkill_segv", Expect::KillNeedRestart, |k| {
            k.flags = 2;
            k.trigger = Trigger::TgkillSegv
        }),
        c("cs_flags_membarrier", Expect::KillNeedRestart, |k| {
            k.flags = 4;
            k.trigger = Trigger::Membarrier
        }),
        c("area_flags_no_restart", Expect::KillNeedRestart, |k| {
            k.area_flags = 1
        }),
        c("area_flags_unknown", Expect::KillNeedRestart, |k| {
            k.area_flags = 0x10
        }),
        c("area_flags_outside_clears", Expect::Clear, |k| {
            k.area_flags = 4;
            k.site = Site::Outside
        }),
        c("area_flags_nanosleep", Expect::KillNeedRestart, |k| {
            k.area_flags = 2;
            k.trigger = Trigger::Nanosleep
        }),
    ];
    // Every page state for the descriptor's second page and the signature's
    // first, with the other pages present, as a sweep.
    for kind in PageKind::ALL {
        let keeps = matches!(
            kind,
            PageKind::Present | PageKind::ReadOnly | PageKind::MemfdDontneed
        );
        s.push(c(
            &format!("sweep_desc_second_page_{}", kind_name(kind)),
            if keeps { GOOD } else { KILL },
            |k| {
                k.desc_at = place(Region::DescPair, 4096 - 4);
                k.desc_pages = [PageKind::Present, kind]
            },
        ));
    }
    s
}

fn place(region: Region, offset: u16) -> Place {
    Place { region, offset }
}

/// The snake_case name of a page kind.
pub fn kind_name(k: PageKind) -> &'static str {
    match k {
        PageKind::Present => "present",
        PageKind::ReadOnly => "read_only",
        PageKind::ProtNone => "prot_none",
        PageKind::Unmapped => "unmapped",
        PageKind::AnonUntouched => "anon_untouched",
        PageKind::MemfdDontneed => "memfd_dontneed",
    }
}
