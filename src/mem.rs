//! A sparse, page-granular model of a user address space.
//!
//! Faults are properties of pages, never random per access, because on real
//! hardware they are: the same access to the same page in the same state always
//! has the same result. Whether a fault is *resolved* depends on the context the
//! kernel accesses user memory from: the v6.19 fast path runs with page faults
//! disabled (`pagefault_disable()`), everything else may sleep and resolve them.
//!
//! Contents are stored sparsely, as 8-byte words, because a scenario touches a
//! few dozen bytes: a 4 KiB buffer per page would dominate the fuzz targets'
//! cost. Bytes never written read as zero (anonymous memory).

use serde::{Deserialize, Serialize};

/// The page size every modelled architecture uses here.
pub const PAGE_SIZE: u64 = 4096;

/// Page number of an address.
pub fn page_of(addr: u64) -> u64 {
    addr / PAGE_SIZE
}

/// The state of one user page.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    arbitrary::Arbitrary,
)]
#[serde(rename_all = "snake_case")]
pub enum PageState {
    /// Mapped, present and writable.
    Present,
    /// Present but write-protected for copy-on-write (after fork): reads
    /// succeed; a write faults, and where faults can be resolved it breaks COW
    /// and succeeds (the page becomes [`PageState::Present`]).
    Cow,
    /// Mapped but not present (never touched, swapped out, MADV_DONTNEED):
    /// every access faults; where faults can be resolved the page is brought
    /// in with its contents and becomes present.
    NotPresent,
    /// Mapped read-only (mprotect(PROT_READ)): reads succeed, writes always fail.
    ReadOnly,
    /// Mapped PROT_NONE: every access fails; the contents are kept, so an
    /// mprotect back to read-write brings them back.
    ProtNone,
    /// Not mapped: every access fails.
    Unmapped,
}

impl PageState {
    pub const ALL: [PageState; 6] = [
        PageState::Present,
        PageState::Cow,
        PageState::NotPresent,
        PageState::ReadOnly,
        PageState::ProtNone,
        PageState::Unmapped,
    ];

    /// Whether a fault on this page can ever be resolved (the page is
    /// accessible once faults are allowed).
    pub fn resolvable(self) -> bool {
        matches!(self, PageState::Cow | PageState::NotPresent)
    }
}

/// Whether the kernel context that accesses user memory can resolve page faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultMode {
    /// `pagefault_disable()` is in force (the v6.19 exit fast path): any fault fails.
    Disabled,
    /// Ordinary process context: resolvable faults are resolved.
    Enabled,
}

/// Why a user access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessError {
    /// The range is not below TASK_SIZE (access_ok() fails, or the masked
    /// kernel address faults): no page is touched.
    BadAddress,
    /// A page of the range faulted and the fault was not (or could not be) resolved.
    Fault,
}

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    Read,
    Write,
}

/// A sparse user address space below `task_size`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserMem {
    /// Sorted by page number; pages not listed are unmapped.
    pages: Vec<(u64, PageState)>,
    /// Sorted by 8-byte-aligned address; words not listed are zero.
    words: Vec<(u64, [u8; 8])>,
    task_size: u64,
    /// Fault-free mode (the fault-transparency oracle's reference run):
    /// every resolvable page is present, so no access ever needs a fault.
    #[serde(default)]
    faultless: bool,
    /// Changes whenever the contents or a page state change, to a number no
    /// other address space has had (clones share it until one of them
    /// changes): an observer that read this memory may reuse what it
    /// computed while the generation is the same ([`UserMem::generation`]).
    #[serde(skip, default = "fresh_generation")]
    generation: u64,
}

/// A generation number never handed out before, in any thread: a clone
/// made on one thread and changed on another must not meet a number some
/// other address space already has. Only the ABI classifier's memo reads
/// it, so its values never reach a model's results.
fn fresh_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Equal when the pages, contents and TASK_SIZE are, whatever the
/// generations.
impl PartialEq for UserMem {
    fn eq(&self, other: &Self) -> bool {
        self.pages == other.pages
            && self.words == other.words
            && self.task_size == other.task_size
            && self.faultless == other.faultless
    }
}
impl Eq for UserMem {}

impl Default for UserMem {
    fn default() -> Self {
        UserMem::new(0)
    }
}

impl UserMem {
    /// An empty address space whose valid user addresses are `[0, task_size)`.
    pub fn new(task_size: u64) -> Self {
        UserMem {
            pages: Vec::new(),
            words: Vec::new(),
            task_size,
            faultless: false,
            generation: fresh_generation(),
        }
    }

    /// Which contents and page states the address space has: the same
    /// number means nothing changed (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Switch to fault-free mode: every copy-on-write or not-present page
    /// becomes present now, and whatever would make one later (fork, reclaim,
    /// MADV_DONTNEED, mmap of such a state) makes it present instead.
    pub fn make_faultless(&mut self) {
        self.faultless = true;
        self.generation = fresh_generation();
        for entry in self.pages.iter_mut() {
            if entry.1.resolvable() {
                entry.1 = PageState::Present;
            }
        }
    }

    pub fn is_faultless(&self) -> bool {
        self.faultless
    }

    pub fn task_size(&self) -> u64 {
        self.task_size
    }

    /// The state of the page that holds `addr`.
    pub fn state(&self, addr: u64) -> PageState {
        let page = page_of(addr);
        match self.pages.binary_search_by_key(&page, |&(p, _)| p) {
            Ok(i) => self.pages[i].1,
            Err(_) => PageState::Unmapped,
        }
    }

    /// Every mapped page (address, state), in address order.
    pub fn pages(&self) -> impl Iterator<Item = (u64, PageState)> + '_ {
        self.pages.iter().map(|&(p, s)| (p * PAGE_SIZE, s))
    }

    /// Set the state of the page holding `addr`. Pages at or above TASK_SIZE
    /// cannot be mapped; asking for that is ignored (returns false).
    pub fn set_state(&mut self, addr: u64, state: PageState) -> bool {
        if addr >= self.task_size {
            return false;
        }
        let state = if self.faultless && state.resolvable() {
            PageState::Present
        } else {
            state
        };
        let page = page_of(addr);
        match self.pages.binary_search_by_key(&page, |&(p, _)| p) {
            Ok(i) => {
                if state == PageState::Unmapped {
                    self.pages.remove(i);
                } else if self.pages[i].1 != state {
                    self.pages[i].1 = state;
                } else {
                    return true;
                }
            }
            Err(i) => {
                if state == PageState::Unmapped {
                    return true;
                }
                self.pages.insert(i, (page, state));
            }
        }
        self.generation = fresh_generation();
        true
    }

    /// Drop the contents of the page that holds `addr` (munmap, MADV_DONTNEED
    /// on private anonymous memory): it reads as zeroes from now on.
    pub fn zap_contents(&mut self, addr: u64) {
        let base = page_of(addr) * PAGE_SIZE;
        self.words
            .retain(|&(w, _)| w < base || w >= base + PAGE_SIZE);
        self.generation = fresh_generation();
    }

    /// Whether `[addr, addr + len)` lies below TASK_SIZE (the access_ok() test).
    pub fn access_ok(&self, addr: u64, len: u64) -> bool {
        match addr.checked_add(len) {
            Some(end) => end <= self.task_size,
            None => false,
        }
    }

    /// Copy `out.len()` bytes from `addr` (which must not wrap): the hot path
    /// of every model access. One binary search finds the first word; the
    /// words are sorted, so the rest of the range is a forward walk.
    fn copy_out(&self, addr: u64, out: &mut [u8]) {
        out.fill(0);
        let first = addr & !7;
        let mut k = self.words.partition_point(|&(w, _)| w < first);
        let end = addr + out.len() as u64;
        while let Some(&(w, word)) = self.words.get(k) {
            if w >= end {
                break;
            }
            // The overlap of [w, w + 8) with [addr, end).
            let lo = w.max(addr);
            let hi = (w + 8).min(end);
            out[(lo - addr) as usize..(hi - addr) as usize]
                .copy_from_slice(&word[(lo - w) as usize..(hi - w) as usize]);
            k += 1;
        }
    }

    /// Store `bytes` at `addr` (which must not wrap). One binary search finds
    /// the first word, then the walk goes forward through the sorted words;
    /// all-zero stores into absent words allocate nothing.
    fn copy_in(&mut self, addr: u64, bytes: &[u8]) {
        self.generation = fresh_generation();
        let mut k = self.words.partition_point(|&(w, _)| w < (addr & !7));
        let mut i = 0;
        while i < bytes.len() {
            let a = addr + i as u64;
            let w = a & !7;
            let off = (a & 7) as usize;
            let n = (8 - off).min(bytes.len() - i);
            let part = &bytes[i..i + n];
            if self.words.get(k).is_some_and(|&(x, _)| x == w) {
                self.words[k].1[off..off + n].copy_from_slice(part);
                k += 1;
            } else if part.iter().any(|&b| b != 0) {
                let mut word = [0u8; 8];
                word[off..off + n].copy_from_slice(part);
                self.words.insert(k, (w, word));
                k += 1;
            }
            i += n;
        }
    }

    /// The pages `[addr, addr + len)` touches, in address order (len >= 1).
    fn touched_pages(addr: u64, len: u64) -> impl Iterator<Item = u64> {
        let first = page_of(addr);
        let last = page_of(addr + (len - 1));
        first..=last
    }

    /// Check (and in [`FaultMode::Enabled`], resolve) the pages of an access, in
    /// address order, the way the CPU and the fault handler would: a resolvable
    /// page is brought in even when a later page of the same access fails.
    fn check(
        &mut self,
        addr: u64,
        len: u64,
        kind: AccessKind,
        mode: FaultMode,
    ) -> Result<(), AccessError> {
        if len == 0 {
            return Ok(());
        }
        if !self.access_ok(addr, len) {
            return Err(AccessError::BadAddress);
        }
        for page in Self::touched_pages(addr, len) {
            let a = page * PAGE_SIZE;
            let next = match (self.state(a), kind, mode) {
                (PageState::Present, _, _) => None,
                (PageState::Cow | PageState::ReadOnly, AccessKind::Read, _) => None,
                (PageState::Cow, AccessKind::Write, FaultMode::Enabled) => Some(PageState::Present),
                (PageState::NotPresent, _, FaultMode::Enabled) => Some(PageState::Present),
                _ => return Err(AccessError::Fault),
            };
            if let Some(state) = next {
                self.set_state(a, state);
            }
        }
        Ok(())
    }

    /// Whether an access that failed with page faults disabled would have
    /// succeeded in the fault-free reference run, where every copy-on-write
    /// or not-present page is present. Only then can the two runs part: with
    /// faults enabled the fault handler makes such a page present before the
    /// access completes, and every other page state behaves the same in both
    /// runs (see [`UserMem::make_faultless`]).
    pub fn fails_only_for_resolvable_pages(&self, addr: u64, len: u64, kind: AccessKind) -> bool {
        if len == 0 || !self.access_ok(addr, len) {
            return false;
        }
        Self::touched_pages(addr, len).all(|page| {
            matches!(
                (self.state(page * PAGE_SIZE), kind),
                (
                    PageState::Present | PageState::Cow | PageState::NotPresent,
                    _
                ) | (PageState::ReadOnly, AccessKind::Read)
            )
        })
    }

    /// Kernel read of `N` bytes (get_user, unsafe_get_user, copy_from_user).
    pub fn read<const N: usize>(
        &mut self,
        addr: u64,
        mode: FaultMode,
    ) -> Result<[u8; N], AccessError> {
        self.check(addr, N as u64, AccessKind::Read, mode)?;
        let mut out = [0u8; N];
        self.copy_out(addr, &mut out);
        Ok(out)
    }

    /// Kernel write (put_user, unsafe_put_user): all or nothing, as one store
    /// instruction is on every modelled architecture.
    pub fn write(&mut self, addr: u64, bytes: &[u8], mode: FaultMode) -> Result<(), AccessError> {
        self.check(addr, bytes.len() as u64, AccessKind::Write, mode)?;
        self.copy_in(addr, bytes);
        Ok(())
    }

    /// A store by the user program itself. User-mode faults on resolvable pages
    /// are resolved as for the kernel; a store to an unwritable page would kill
    /// the program, so the driver treats it as not done (returns false).
    pub fn user_store(&mut self, addr: u64, bytes: &[u8]) -> bool {
        self.write(addr, bytes, FaultMode::Enabled).is_ok()
    }

    /// What a debugger would see: the bytes whatever the page state, or None
    /// where a byte's page is unmapped or at/above TASK_SIZE.
    pub fn peek(&self, addr: u64, len: u64) -> Option<Vec<u8>> {
        // Checked before allocating: `len` may be anything a caller passes.
        if !self.peekable(addr, len) {
            return None;
        }
        let mut out = vec![0u8; len as usize];
        self.copy_out(addr, &mut out);
        Some(out)
    }

    /// [`UserMem::peek`] into `out`, without allocating: whether every byte
    /// is mapped (then `out` holds them; else it is left as it was).
    pub fn peek_into(&self, addr: u64, out: &mut [u8]) -> bool {
        if !self.peekable(addr, out.len() as u64) {
            return false;
        }
        self.copy_out(addr, out);
        true
    }

    /// [`UserMem::peek`] of a fixed size, without allocating.
    pub fn peek_n<const N: usize>(&self, addr: u64) -> Option<[u8; N]> {
        let mut out = [0u8; N];
        self.peek_into(addr, &mut out).then_some(out)
    }

    fn peekable(&self, addr: u64, len: u64) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        if end > self.task_size {
            return false;
        }
        if len == 0 {
            return true;
        }
        Self::touched_pages(addr, len).all(|p| self.state(p * PAGE_SIZE) != PageState::Unmapped)
    }

    /// Write bytes regardless of page state (scenario set-up, ptrace POKE).
    /// Bytes at or above TASK_SIZE are dropped.
    pub fn poke(&mut self, addr: u64, bytes: &[u8]) {
        let room = self.task_size.saturating_sub(addr).min(bytes.len() as u64) as usize;
        if addr < self.task_size {
            self.copy_in(addr, &bytes[..room]);
        }
    }

    /// The copy a child gets at fork() without CLONE_VM: present pages become
    /// copy-on-write in both parent and child (the kernel write-protects the
    /// parent's PTEs too); everything else keeps its state.
    pub fn fork_cow(&mut self) -> UserMem {
        self.generation = fresh_generation();
        for entry in self.pages.iter_mut() {
            if entry.1 == PageState::Present && !self.faultless {
                entry.1 = PageState::Cow;
            }
        }
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: u64 = 0x7FFF_FFFF_F000;

    fn mem_with(state: PageState) -> UserMem {
        let mut m = UserMem::new(TS);
        m.set_state(0x1000, state);
        m.poke(0x1008, &[1, 2, 3, 4, 5, 6, 7, 8]);
        m
    }

    #[test]
    fn the_generation_changes_with_contents_and_page_states_only() {
        let mut m = mem_with(PageState::NotPresent);
        let g = m.generation();
        // A read that faults with faults disabled changes nothing.
        assert!(m.read::<8>(0x1008, FaultMode::Disabled).is_err());
        assert_eq!(m.generation(), g);
        // Resolving the fault brings the page in: a new generation.
        assert!(m.read::<8>(0x1008, FaultMode::Enabled).is_ok());
        let g2 = m.generation();
        assert_ne!(g2, g);
        // A read of a present page, and a state set to what it is, do not.
        assert!(m.read::<8>(0x1008, FaultMode::Disabled).is_ok());
        assert!(m.set_state(0x1000, PageState::Present));
        assert_eq!(m.generation(), g2);
        // A clone shares it until either changes; then the two differ
        // from each other too, although each made one change.
        let mut c = m.clone();
        assert_eq!(c.generation(), g2);
        c.poke(0x1010, &[9]);
        m.poke(0x1010, &[8]);
        assert!(c.generation() != g2 && m.generation() != g2);
        assert_ne!(c.generation(), m.generation());
        // Equality looks at contents, not generations.
        m.poke(0x1010, &[9]);
        assert_eq!(m, c);
    }

    #[test]
    fn present_page_reads_and_writes() {
        let mut m = mem_with(PageState::Present);
        assert_eq!(
            m.read::<8>(0x1008, FaultMode::Disabled),
            Ok([1, 2, 3, 4, 5, 6, 7, 8])
        );
        m.write(0x1008, &[9; 4], FaultMode::Disabled).unwrap();
        assert_eq!(m.read::<4>(0x100a, FaultMode::Disabled), Ok([9, 9, 5, 6]));
    }

    #[test]
    fn cow_page_faults_on_write_only_with_faults_disabled() {
        let mut m = mem_with(PageState::Cow);
        assert!(m.read::<8>(0x1008, FaultMode::Disabled).is_ok());
        assert_eq!(
            m.write(0x1008, &[0; 8], FaultMode::Disabled),
            Err(AccessError::Fault)
        );
        assert_eq!(m.state(0x1000), PageState::Cow);
        assert!(m.write(0x1008, &[0; 8], FaultMode::Enabled).is_ok());
        assert_eq!(m.state(0x1000), PageState::Present);
    }

    #[test]
    fn not_present_page_is_resolved_only_with_faults_enabled() {
        let mut m = mem_with(PageState::NotPresent);
        assert_eq!(
            m.read::<4>(0x1008, FaultMode::Disabled),
            Err(AccessError::Fault)
        );
        assert_eq!(m.read::<4>(0x1008, FaultMode::Enabled), Ok([1, 2, 3, 4]));
        assert_eq!(m.state(0x1000), PageState::Present);
    }

    #[test]
    fn unmapped_and_readonly() {
        let mut m = mem_with(PageState::ReadOnly);
        assert!(m.read::<4>(0x1008, FaultMode::Disabled).is_ok());
        assert_eq!(
            m.write(0x1008, &[0; 4], FaultMode::Enabled),
            Err(AccessError::Fault)
        );
        assert_eq!(
            m.read::<4>(0x3000, FaultMode::Enabled),
            Err(AccessError::Fault)
        );
    }

    #[test]
    fn straddling_access_is_decided_by_each_page() {
        let mut m = UserMem::new(TS);
        m.set_state(0x1000, PageState::NotPresent);
        m.set_state(0x2000, PageState::Present);
        m.poke(0x1ffc, &[0xaa; 8]);
        assert_eq!(
            m.read::<8>(0x1ffc, FaultMode::Disabled),
            Err(AccessError::Fault)
        );
        assert_eq!(m.read::<8>(0x1ffc, FaultMode::Enabled), Ok([0xaa; 8]));
        // The first page resolves even when the second fails.
        let mut m = UserMem::new(TS);
        m.set_state(0x1000, PageState::NotPresent);
        assert_eq!(
            m.read::<8>(0x1ffc, FaultMode::Enabled),
            Err(AccessError::Fault)
        );
        assert_eq!(m.state(0x1000), PageState::Present);
    }

    #[test]
    fn task_size_bounds_every_access() {
        let mut m = UserMem::new(TS);
        assert!(!m.set_state(TS, PageState::Present));
        m.set_state(TS - 4096, PageState::Present);
        assert!(m.read::<4>(TS - 4, FaultMode::Enabled).is_ok());
        assert_eq!(
            m.read::<8>(TS - 4, FaultMode::Enabled),
            Err(AccessError::BadAddress)
        );
        assert_eq!(
            m.read::<8>(u64::MAX - 3, FaultMode::Enabled),
            Err(AccessError::BadAddress)
        );
    }

    #[test]
    fn fork_makes_present_pages_cow_in_both() {
        let mut parent = mem_with(PageState::Present);
        let child = parent.fork_cow();
        assert_eq!(parent.state(0x1000), PageState::Cow);
        assert_eq!(child.state(0x1000), PageState::Cow);
        assert_eq!(child.peek(0x1008, 2), Some(vec![1, 2]));
    }

    #[test]
    fn faultless_mode_never_leaves_a_resolvable_page() {
        let mut m = mem_with(PageState::NotPresent);
        m.set_state(0x2000, PageState::Cow);
        m.make_faultless();
        assert_eq!(m.state(0x1000), PageState::Present);
        assert_eq!(m.state(0x2000), PageState::Present);
        m.set_state(0x3000, PageState::NotPresent);
        assert_eq!(m.state(0x3000), PageState::Present);
        let child = m.fork_cow();
        assert_eq!(child.state(0x1000), PageState::Present);
        assert_eq!(m.write(0x1000, &[1], FaultMode::Disabled), Ok(()));
    }

    #[test]
    fn zap_drops_only_that_page() {
        let mut m = mem_with(PageState::Present);
        m.set_state(0x2000, PageState::Present);
        m.poke(0x2000, &[7]);
        m.zap_contents(0x1000);
        assert_eq!(m.peek(0x1008, 1), Some(vec![0]));
        assert_eq!(m.peek(0x2000, 1), Some(vec![7]));
    }

    #[test]
    fn word_walk_matches_a_byte_map() {
        // Unaligned stores and loads of every length up to 40 bytes, across
        // word and page ends, against a plain byte array: copy_in and
        // copy_out search once and walk the sorted words from there.
        let base = 0x1ff0u64;
        let mut m = UserMem::new(TS);
        m.set_state(0x1000, PageState::Present);
        m.set_state(0x2000, PageState::Present);
        let mut reference = [0u8; 96];
        // A fixed linear congruential sequence: deterministic, no crate.
        let mut x: u32 = 12345;
        let mut next = || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as usize
        };
        for round in 0..400 {
            let off = next() % 56;
            let len = 1 + next() % 40;
            let bytes: Vec<u8> = (0..len)
                .map(|k| {
                    if round % 3 == 0 {
                        0
                    } else {
                        (next() + k) as u8
                    }
                })
                .collect();
            m.write(base + off as u64, &bytes, FaultMode::Disabled)
                .unwrap();
            reference[off..off + len].copy_from_slice(&bytes);
            let (a, n) = (next() % 56, 1 + next() % 40);
            assert_eq!(
                m.peek(base + a as u64, n as u64).unwrap(),
                reference[a..a + n].to_vec(),
                "round {round}: {n} bytes at +{a}"
            );
        }
        // Zero stores into absent words allocate nothing.
        let mut z = UserMem::new(TS);
        z.set_state(0x1000, PageState::Present);
        z.write(0x1003, &[0; 20], FaultMode::Disabled).unwrap();
        assert!(z.words.is_empty());
    }
}
