//! What a live case is, and how it resolves against the real anchors of the
//! harness: the critical section's labels, the abort pads, the arena of pages
//! the harness owns, and TASK_SIZE.
//!
//! A case never names an absolute address of the harness: every address is an
//! [`Anchor`] plus a wrapping offset, so that the same case means the same
//! thing on every run, and a fuzzer explores boundaries around the anchors.

use crate::abi::rseq_cs;
use crate::mem::PAGE_SIZE;
use arbitrary::Arbitrary;
use serde::{Deserialize, Serialize};

/// RSEQ_SIG on x86 (glibc registers every thread with it).
pub const SIG: u32 = 0x5305_3053;

/// Pages of the arena the harness maps at a fixed address in its child.
pub const ARENA_PAGES: u64 = 8;
/// Arena page 0: the drain descriptor (and the area if the harness had to
/// register rseq itself). Never changed by a case.
pub const CONTROL_PAGE: u64 = 0;
/// Arena pages 2 and 3: the descriptor region ([`Region::DescPair`]).
pub const DESC_PAIR_PAGE: u64 = 2;
/// Arena pages 5 and 6: the signature region ([`Region::SigPair`]).
pub const SIG_PAIR_PAGE: u64 = 5;
/// Arena pages 1, 4 and 7 stay PROT_NONE: they keep everything else out of
/// the arena and make any jump next to a region fault.
pub const GUARD_PAGES: [u64; 3] = [1, 4, 7];
/// Offset in the control page of the area the harness registers when libc
/// has not registered one.
pub const OWN_AREA_OFFSET: u64 = 0x100;

/// A real address of the harness that case addresses are relative to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Arbitrary,
)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// Address 0: the offset is the absolute address.
    Zero,
    /// The first byte of the critical section.
    CsStart,
    /// The IP after the syscall instruction inside the critical section.
    SiteIn,
    /// The first byte after the critical section (a pad with the right
    /// signature before it, so an abort there is valid).
    CsEnd,
    /// The IP after the syscall instruction outside the critical section.
    SiteOut,
    /// An abort pad before the critical section, right signature before it.
    PadPre,
    /// An abort pad after the critical section, right signature before it.
    PadGood,
    /// An abort pad whose 4 preceding bytes are a wrong signature.
    PadBadSig,
    /// Where the descriptor bytes are placed ([`LiveCase::desc_at`]).
    Desc,
    /// The address just after the placed signature bytes: an abort_ip there
    /// makes the kernel check the placed signature.
    AfterSig,
    /// The base of the arena.
    Arena,
    /// TASK_SIZE of the host.
    TaskSize,
}

/// An anchor plus a wrapping offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Arbitrary)]
pub struct Addr {
    pub anchor: Anchor,
    #[serde(default)]
    pub offset: i64,
}

impl Addr {
    pub const fn at(anchor: Anchor) -> Addr {
        Addr { anchor, offset: 0 }
    }

    pub const fn new(anchor: Anchor, offset: i64) -> Addr {
        Addr { anchor, offset }
    }
}

/// `post_commit_offset`: a raw length, or "the critical section ends at".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Arbitrary)]
#[serde(rename_all = "snake_case")]
pub enum PostCommit {
    /// The raw field value.
    Len(u64),
    /// `end - start_ip` (wrapping), i.e. the post-commit IP is `end`.
    EndAt(Addr),
}

/// A region of pages whose states a case chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Arbitrary)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// Two arena pages with the states [`LiveCase::desc_pages`].
    DescPair,
    /// Two arena pages with the states [`LiveCase::sig_pages`].
    SigPair,
    /// The last page below TASK_SIZE, state [`LiveCase::top_page`] (when the
    /// host has it free; otherwise the case is skipped).
    Top,
}

/// Bytes placed at an offset (taken modulo the region size) in a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Arbitrary)]
pub struct Place {
    pub region: Region,
    #[serde(default)]
    pub offset: u16,
}

/// The state the harness gives a page before the trigger.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Arbitrary,
)]
#[serde(rename_all = "snake_case")]
pub enum PageKind {
    /// Private anonymous, read-write, written (present).
    Present,
    /// Written, then mprotect(PROT_READ).
    ReadOnly,
    /// Written, then mprotect(PROT_NONE).
    ProtNone,
    /// No mapping (a hole).
    Unmapped,
    /// Private anonymous, never touched: reads as zeroes, first access faults.
    /// Bytes a case places there are not written.
    AnonUntouched,
    /// A shared memfd page, written, then madvise(MADV_DONTNEED): not
    /// present, contents kept in the file.
    MemfdDontneed,
}

impl PageKind {
    pub const ALL: [PageKind; 6] = [
        PageKind::Present,
        PageKind::ReadOnly,
        PageKind::ProtNone,
        PageKind::Unmapped,
        PageKind::AnonUntouched,
        PageKind::MemfdDontneed,
    ];

    /// Whether the harness writes the placed bytes into such a page.
    pub fn keeps_contents(self) -> bool {
        !matches!(self, PageKind::Unmapped | PageKind::AnonUntouched)
    }

    pub fn code(self) -> u64 {
        match self {
            PageKind::Present => 0,
            PageKind::ReadOnly => 1,
            PageKind::ProtNone => 2,
            PageKind::Unmapped => 3,
            PageKind::AnonUntouched => 4,
            PageKind::MemfdDontneed => 5,
        }
    }

    pub fn from_code(c: u64) -> PageKind {
        match c {
            0 => PageKind::Present,
            1 => PageKind::ReadOnly,
            2 => PageKind::ProtNone,
            4 => PageKind::AnonUntouched,
            5 => PageKind::MemfdDontneed,
            _ => PageKind::Unmapped,
        }
    }
}

/// Which syscall site the trigger runs from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Arbitrary)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    /// The syscall instruction inside [CsStart, CsEnd).
    Inside,
    /// The syscall instruction after the critical section.
    Outside,
}

/// What makes the kernel run the rseq fixup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Arbitrary)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// tgkill(self, SIGUSR1) from the site: the fixup runs at signal
    /// delivery with the IP after the syscall; errors force SIGSEGV with
    /// force_sigsegv(SIGUSR1), which a handler can catch.
    Tgkill,
    /// tgkill(self, SIGSEGV): as [`Trigger::Tgkill`], but an error is
    /// force_sigsegv(SIGSEGV), which resets the handler.
    TgkillSegv,
    /// nanosleep(1 ns) from the site: the task sleeps, is switched out and
    /// back, and the fixup runs from TIF_NOTIFY_RESUME on the way out.
    Nanosleep,
    /// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
    /// MEMBARRIER_CMD_FLAG_CPU, own CPU) from the site: the IPI handler runs
    /// on the caller (rseq_preempt) and the fixup runs on the syscall's way
    /// out. The harness keeps a second, sleeping thread in the child, since
    /// membarrier skips the IPIs for a single-threaded process.
    Membarrier,
}

impl Trigger {
    pub fn code(self) -> u64 {
        match self {
            Trigger::Tgkill => 0,
            Trigger::TgkillSegv => 1,
            Trigger::Nanosleep => 2,
            Trigger::Membarrier => 3,
        }
    }

    pub fn from_code(c: u64) -> Trigger {
        match c {
            1 => Trigger::TgkillSegv,
            2 => Trigger::Nanosleep,
            3 => Trigger::Membarrier,
            _ => Trigger::Tgkill,
        }
    }

    /// The signal the trigger sends, if any.
    pub fn signal(self) -> Option<u8> {
        match self {
            Trigger::Tgkill => Some(crate::abi::sig::SIGUSR1),
            Trigger::TgkillSegv => Some(crate::abi::sig::SIGSEGV),
            Trigger::Nanosleep | Trigger::Membarrier => None,
        }
    }
}

/// One live case. Every field has a default (the valid abort case), so a
/// JSON case names only what differs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Arbitrary)]
#[serde(default, deny_unknown_fields)]
pub struct LiveCase {
    /// A label for reports.
    #[arbitrary(default)]
    pub name: String,
    pub site: Site,
    pub trigger: Trigger,
    /// The value stored in `rseq->rseq_cs` right before the trigger.
    pub rseq_cs: Addr,
    /// Where the descriptor bytes are written.
    pub desc_at: Place,
    pub version: u32,
    pub flags: u32,
    pub start_ip: Addr,
    pub post_commit: PostCommit,
    pub abort_ip: Addr,
    /// Where the 4 signature bytes are written, and their value.
    pub sig_at: Place,
    pub sig_value: u32,
    pub desc_pages: [PageKind; 2],
    pub sig_pages: [PageKind; 2],
    pub top_page: PageKind,
    /// The value of `rseq->flags` during the case (libc keeps it 0).
    pub area_flags: u32,
}

impl Default for LiveCase {
    fn default() -> Self {
        LiveCase {
            name: String::new(),
            site: Site::Inside,
            trigger: Trigger::Tgkill,
            rseq_cs: Addr::at(Anchor::Desc),
            desc_at: Place {
                region: Region::DescPair,
                offset: 0,
            },
            version: 0,
            flags: 0,
            start_ip: Addr::at(Anchor::CsStart),
            post_commit: PostCommit::EndAt(Addr::at(Anchor::CsEnd)),
            abort_ip: Addr::at(Anchor::PadGood),
            sig_at: Place {
                region: Region::SigPair,
                offset: 0,
            },
            sig_value: SIG,
            desc_pages: [PageKind::Present; 2],
            sig_pages: [PageKind::Present; 2],
            top_page: PageKind::Unmapped,
            area_flags: 0,
        }
    }
}

/// The real addresses of one harness process (fork keeps them in children).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub cs_start: u64,
    pub site_in: u64,
    pub cs_end: u64,
    pub site_out: u64,
    pub pad_pre: u64,
    pub pad_good: u64,
    pub pad_bad_sig: u64,
    pub pad_drain: u64,
    /// Where the signal handler sends the child after a case.
    pub resume: u64,
    /// The entry of the signal handler (SIGUSR1 and SIGSEGV).
    pub handler: u64,
    /// The critical-section code: [code_lo, code_hi).
    pub code_lo: u64,
    pub code_hi: u64,
    pub arena: u64,
    /// The last page below TASK_SIZE, if the harness can map it.
    pub top: Option<u64>,
    pub task_size: u64,
    /// The registered `struct rseq`.
    pub area: u64,
    /// The length it was registered with.
    pub area_len: u32,
    /// The CPU the child is pinned to.
    pub cpu: u32,
}

impl Layout {
    pub fn anchor(&self, a: Anchor, desc: u64, sig: u64) -> u64 {
        match a {
            Anchor::Zero => 0,
            Anchor::CsStart => self.cs_start,
            Anchor::SiteIn => self.site_in,
            Anchor::CsEnd => self.cs_end,
            Anchor::SiteOut => self.site_out,
            Anchor::PadPre => self.pad_pre,
            Anchor::PadGood => self.pad_good,
            Anchor::PadBadSig => self.pad_bad_sig,
            Anchor::Desc => desc,
            Anchor::AfterSig => sig.wrapping_add(4),
            Anchor::Arena => self.arena,
            Anchor::TaskSize => self.task_size,
        }
    }

    /// The code pads a kernel abort may safely return to.
    pub fn pads(&self) -> [(u64, &'static str); 5] {
        [
            (self.pad_pre, "pad_pre"),
            (self.cs_end, "cs_end"),
            (self.pad_good, "pad_good"),
            (self.pad_bad_sig, "pad_bad_sig"),
            (self.pad_drain, "pad_drain"),
        ]
    }

    /// The arena page with index `i`.
    pub fn arena_page(&self, i: u64) -> u64 {
        self.arena + i * PAGE_SIZE
    }

    /// Whether `addr` is in a page the harness owns and never executes
    /// (the arena, and the top page when it has it).
    pub fn in_owned_pages(&self, addr: u64) -> bool {
        let in_arena = addr >= self.arena && addr - self.arena < ARENA_PAGES * PAGE_SIZE;
        let in_top = self.top.is_some_and(|t| addr >= t && addr - t < PAGE_SIZE);
        in_arena || in_top
    }

    /// A name for an address, relative to the nearest anchor that explains it.
    pub fn describe(&self, addr: u64) -> String {
        for (a, name) in self.pads() {
            if addr == a {
                return name.to_string();
            }
        }
        let named = [
            (self.site_in, "site_in"),
            (self.site_out, "site_out"),
            (self.cs_start, "cs_start"),
            (self.resume, "resume"),
            (self.handler, "handler"),
        ];
        for (a, name) in named {
            if addr == a {
                return name.to_string();
            }
        }
        if self.in_owned_pages(addr) {
            if let Some(t) = self.top {
                if addr >= t {
                    return format!("top+{:#x}", addr - t);
                }
            }
            return format!("arena+{:#x}", addr - self.arena);
        }
        format!("{addr:#x}")
    }
}

/// A case with every address resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub rseq_cs: u64,
    pub desc_addr: u64,
    pub desc: [u8; rseq_cs::SIZE as usize],
    pub sig_addr: u64,
    pub sig: [u8; 4],
    /// desc pair (2), sig pair (2), top: address and kind. The top entry
    /// has address 0 when the host has no top page (then its kind is Unmapped).
    pub pages: [(u64, PageKind); 5],
    pub area_flags: u32,
    pub site_ip: u64,
    pub trigger: Trigger,
    pub start_ip: u64,
    pub post_commit_offset: u64,
    pub abort_ip: u64,
}

/// Number of words of a resolved case on the wire to the child.
pub const CMD_WORDS: usize = 20;

impl Resolved {
    /// The bytes the harness writes, in order (the signature last, so it
    /// wins where the two overlap).
    pub fn writes(&self) -> [(u64, &[u8]); 2] {
        [
            (self.desc_addr, &self.desc[..]),
            (self.sig_addr, &self.sig[..]),
        ]
    }

    /// The byte the harness leaves at `addr` of a page it sets up, if a
    /// placed byte lands there and the page keeps contents.
    pub fn placed_byte(&self, addr: u64) -> Option<u8> {
        let mut out = None;
        for (base, bytes) in self.writes() {
            let off = addr.wrapping_sub(base);
            if off < bytes.len() as u64 {
                out = Some(bytes[off as usize]);
            }
        }
        out
    }

    /// Encode for the child.
    pub fn to_words(&self) -> [u64; CMD_WORDS] {
        let mut w = [0u64; CMD_WORDS];
        w[0] = self.rseq_cs;
        w[1] = self.desc_addr;
        for i in 0..4 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.desc[i * 8..i * 8 + 8]);
            w[2 + i] = u64::from_le_bytes(b);
        }
        w[6] = self.sig_addr;
        w[7] = u32::from_le_bytes(self.sig) as u64;
        for (i, (addr, kind)) in self.pages.iter().enumerate() {
            w[8 + 2 * i] = *addr;
            w[9 + 2 * i] = kind.code();
        }
        w[18] = self.area_flags as u64 | (self.trigger.code() << 32);
        w[19] = self.site_ip;
        w
    }

    /// Decode what [`Resolved::to_words`] made (the display-only fields are
    /// not carried).
    pub fn from_words(w: &[u64; CMD_WORDS]) -> Resolved {
        let mut desc = [0u8; 32];
        for i in 0..4 {
            desc[i * 8..i * 8 + 8].copy_from_slice(&w[2 + i].to_le_bytes());
        }
        let mut pages = [(0u64, PageKind::Unmapped); 5];
        for (i, p) in pages.iter_mut().enumerate() {
            *p = (w[8 + 2 * i], PageKind::from_code(w[9 + 2 * i]));
        }
        Resolved {
            rseq_cs: w[0],
            desc_addr: w[1],
            desc,
            sig_addr: w[6],
            sig: (w[7] as u32).to_le_bytes(),
            pages,
            area_flags: w[18] as u32,
            site_ip: w[19],
            trigger: Trigger::from_code(w[18] >> 32),
            start_ip: 0,
            post_commit_offset: 0,
            abort_ip: 0,
        }
    }
}

fn place(layout: &Layout, p: Place) -> Result<u64, String> {
    let (base, size) = match p.region {
        Region::DescPair => (layout.arena_page(DESC_PAIR_PAGE), 2 * PAGE_SIZE),
        Region::SigPair => (layout.arena_page(SIG_PAIR_PAGE), 2 * PAGE_SIZE),
        Region::Top => match layout.top {
            Some(t) => (t, PAGE_SIZE),
            None => return Err("the page below TASK_SIZE is not free on this host".into()),
        },
    };
    Ok(base + (p.offset as u64 % size))
}

/// Resolve a case against a layout. Fails only when the case needs the top
/// page and the host does not have it free (the case is then skipped).
pub fn resolve(case: &LiveCase, layout: &Layout) -> Result<Resolved, String> {
    let desc_addr = place(layout, case.desc_at)?;
    let sig_addr = place(layout, case.sig_at)?;
    let at = |a: Addr| {
        layout
            .anchor(a.anchor, desc_addr, sig_addr)
            .wrapping_add(a.offset as u64)
    };
    let start_ip = at(case.start_ip);
    let post_commit_offset = match case.post_commit {
        PostCommit::Len(l) => l,
        PostCommit::EndAt(end) => at(end).wrapping_sub(start_ip),
    };
    let abort_ip = at(case.abort_ip);
    let mut desc = [0u8; 32];
    desc[0..4].copy_from_slice(&case.version.to_le_bytes());
    desc[4..8].copy_from_slice(&case.flags.to_le_bytes());
    desc[8..16].copy_from_slice(&start_ip.to_le_bytes());
    desc[16..24].copy_from_slice(&post_commit_offset.to_le_bytes());
    desc[24..32].copy_from_slice(&abort_ip.to_le_bytes());
    let top = match layout.top {
        Some(t) => (t, case.top_page),
        None if case.top_page != PageKind::Unmapped => {
            return Err("the page below TASK_SIZE is not free on this host".into())
        }
        None => (0, PageKind::Unmapped),
    };
    let d = layout.arena_page(DESC_PAIR_PAGE);
    let s = layout.arena_page(SIG_PAIR_PAGE);
    Ok(Resolved {
        rseq_cs: at(case.rseq_cs),
        desc_addr,
        desc,
        sig_addr,
        sig: case.sig_value.to_le_bytes(),
        pages: [
            (d, case.desc_pages[0]),
            (d + PAGE_SIZE, case.desc_pages[1]),
            (s, case.sig_pages[0]),
            (s + PAGE_SIZE, case.sig_pages[1]),
            top,
        ],
        area_flags: case.area_flags,
        site_ip: match case.site {
            Site::Inside => layout.site_in,
            Site::Outside => layout.site_out,
        },
        trigger: case.trigger,
        start_ip,
        post_commit_offset,
        abort_ip,
    })
}

/// A made-up layout for unit tests: the code at 0x40_0000, the arena at
/// 0x1000_0000.
#[cfg(test)]
pub(crate) fn test_layout() -> Layout {
    Layout {
        cs_start: 0x40_0100,
        site_in: 0x40_0104,
        cs_end: 0x40_0110,
        site_out: 0x40_0120,
        pad_pre: 0x40_0010,
        pad_good: 0x40_0130,
        pad_bad_sig: 0x40_0140,
        pad_drain: 0x40_0150,
        resume: 0x40_0160,
        handler: 0x40_1000,
        code_lo: 0x40_0000,
        code_hi: 0x40_0170,
        arena: 0x1000_0000,
        top: Some(0x7FFF_FFFF_E000),
        task_size: 0x7FFF_FFFF_F000,
        area: 0x50_0020,
        area_len: 32,
        cpu: 0,
    }
}
