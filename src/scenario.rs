//! Scenarios: an initial address space, a registration and a bounded sequence
//! of kernel events and user actions, plus the versions to run them on.
//!
//! A scenario has two forms that convert both ways without loss:
//! * JSON (serde), documented in docs/scenario-format.md;
//! * a compact binary form that any byte string decodes to (the fuzz input).
//!   [`Scenario::decode`] is total: every byte string is a scenario; missing
//!   bytes read as zero. [`Scenario::encode`] writes the canonical bytes, and
//!   `decode(encode(s)) == s` for every scenario `s`.
//!
//! Generation is productive, not uniform: addresses and descriptor fields are
//! [`Val`]s, either raw or an [`Anchor`] plus a small delta, so that "the IP is
//! inside the section", "abort_ip points just past the signature" or "the
//! descriptor straddles a page" take a byte or two, not a 1-in-2^64 guess.

use crate::abi::{self, Arch};
use crate::kernel::{Event, Setup, Syscall};
use crate::mem::{PageState, UserMem, PAGE_SIZE};
use crate::testkit;

use crate::versions::{VersionEntry, VERSIONS};
use serde::{Deserialize, Serialize};

/// Most steps a scenario holds.
pub const MAX_STEPS: usize = 64;
/// Most page overrides and initial-memory items.
pub const MAX_PAGES: usize = 8;
pub const MAX_INITS: usize = 6;
/// An unmapped hole, for "the descriptor is in unmapped memory".
pub const HOLE: u64 = 0x90_0000;

/// Named addresses a value can be relative to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// 0 (with a negative delta: the top of the address space).
    Zero,
    /// The user IP as the scenario last set it.
    Ip,
    CsStart,
    /// start + length: the first address after the section.
    CsEnd,
    AbortIp,
    /// Where the signature sits: abort_ip - 4.
    SigAddr,
    /// The struct rseq area.
    Area,
    /// The descriptor.
    Desc,
    /// The end of the descriptor's page (a descriptor at -8 straddles).
    DescPageEnd,
    Code,
    Handler,
    /// An unmapped page.
    Hole,
    TaskSize,
    /// 0xFFFF_FFFF: the 32-bit edge.
    U32Max,
    /// u64::MAX: the 64-bit wrap-around edge.
    Top,
}

const ANCHORS: [Anchor; 15] = [
    Anchor::Zero,
    Anchor::Ip,
    Anchor::CsStart,
    Anchor::CsEnd,
    Anchor::AbortIp,
    Anchor::SigAddr,
    Anchor::Area,
    Anchor::Desc,
    Anchor::DescPageEnd,
    Anchor::Code,
    Anchor::Handler,
    Anchor::Hole,
    Anchor::TaskSize,
    Anchor::U32Max,
    Anchor::Top,
];

/// An address or 64-bit value: raw, or an anchor plus a delta. In JSON a
/// number, or `{"anchor": ..., "delta": ...}` (delta defaults to 0; any
/// other key is an error, so a misspelt delta is not silently 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Val {
    Raw(u64),
    At {
        anchor: Anchor,
        #[serde(default)]
        delta: i32,
    },
}

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Val;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"an unsigned 64-bit number or {"anchor": ..., "delta": ...}"#)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Val, E> {
                Ok(Val::Raw(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
                let (mut anchor, mut delta) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "anchor" if anchor.is_none() => anchor = Some(map.next_value::<Anchor>()?),
                        "delta" if delta.is_none() => delta = Some(map.next_value::<i32>()?),
                        "anchor" | "delta" => {
                            return Err(serde::de::Error::custom(format!(
                                "duplicate field `{key}`"
                            )))
                        }
                        other => {
                            return Err(serde::de::Error::unknown_field(
                                other,
                                &["anchor", "delta"],
                            ))
                        }
                    }
                }
                let anchor = anchor.ok_or_else(|| serde::de::Error::missing_field("anchor"))?;
                Ok(Val::At {
                    anchor,
                    delta: delta.unwrap_or(0),
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Val {
    pub const fn at(anchor: Anchor, delta: i32) -> Val {
        Val::At { anchor, delta }
    }
}

/// A signature value: the one the architecture registers, or a raw word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SigVal {
    Raw(u32),
    Named(SigName),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigName {
    /// The architecture's RSEQ_SIG (what libc registers).
    Arch,
}

impl SigVal {
    pub const ARCH: SigVal = SigVal::Named(SigName::Arch);
}

/// The scenario's well-known addresses. Their pages (code, area, descriptor,
/// handler) are present and writable unless `pages` says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Layout {
    pub code: u64,
    pub area: u64,
    pub desc: u64,
    pub cs_start: u64,
    pub cs_len: u64,
    pub abort_ip: u64,
    pub handler: u64,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            code: testkit::CODE,
            area: testkit::AREA,
            desc: testkit::DESC,
            cs_start: testkit::CS_START,
            cs_len: testkit::CS_LEN,
            abort_ip: testkit::ABORT_IP,
            handler: testkit::HANDLER,
        }
    }
}

/// A named set of runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RunSet {
    /// Every version and configuration of the scenario's architecture.
    #[default]
    All,
    /// Every version under the architecture's native entry configuration,
    /// debug off and on, with the slice extension (where built) on: the
    /// cheap set the cs_analysis target uses.
    Native,
}

/// Which runs a scenario asks for. In JSON: `"all"` (also `null`, which
/// older files wrote), `"native"`, or a list of `version/config` names such
/// as `"v6.19/x86_64+ge+gie+tifb"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunSelect {
    Set(RunSet),
    Only(Vec<String>),
}

impl RunSelect {
    pub const ALL: RunSelect = RunSelect::Set(RunSet::All);
    pub const NATIVE: RunSelect = RunSelect::Set(RunSet::Native);
}

impl Default for RunSelect {
    fn default() -> Self {
        RunSelect::ALL
    }
}

impl Serialize for RunSelect {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RunSelect::Set(set) => set.serialize(s),
            RunSelect::Only(names) => names.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for RunSelect {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RunSelect;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#""all", "native" or a list of "version/config" names"#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RunSelect, E> {
                match v {
                    "all" => Ok(RunSelect::ALL),
                    "native" => Ok(RunSelect::NATIVE),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<RunSelect, E> {
                Ok(RunSelect::ALL)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<RunSelect, E> {
                Ok(RunSelect::ALL)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RunSelect, A::Error> {
                let mut names = Vec::new();
                while let Some(n) = seq.next_element::<String>()? {
                    names.push(n);
                }
                Ok(RunSelect::Only(names))
            }
        }
        d.deserialize_any(V)
    }
}

/// A page whose state differs from the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSpec {
    pub addr: Val,
    pub state: PageState,
}

/// Initial memory contents, written regardless of page state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Init {
    /// A struct rseq_cs.
    Desc {
        at: Val,
        version: u32,
        flags: u32,
        start_ip: Val,
        post_commit_offset: Val,
        abort_ip: Val,
    },
    /// A 32-bit signature word.
    Sig {
        at: Val,
        value: SigVal,
    },
    Bytes {
        at: Val,
        bytes: Vec<u8>,
    },
}

/// The registration libc makes at thread start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSpec {
    pub addr: Val,
    pub len: u32,
    pub flags: u32,
    pub sig: SigVal,
}

impl Default for RegistrationSpec {
    fn default() -> Self {
        RegistrationSpec {
            addr: Val::at(Anchor::Area, 0),
            len: abi::ORIG_RSEQ_SIZE,
            flags: 0,
            sig: SigVal::ARCH,
        }
    }
}

/// One step: a kernel event or a user action, with anchored values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    // Syscalls: enter the kernel and run the body.
    Rseq {
        addr: Val,
        len: u32,
        flags: u32,
        sig: SigVal,
    },
    Getpid,
    Sigreturn,
    Fork {
        clone_vm: bool,
        follow_child: bool,
    },
    Execve {
        ok: bool,
    },
    Membarrier {
        own_cpu: bool,
    },
    PrctlSlice {
        op: u32,
        arg: u32,
    },
    SliceYield,
    /// ioctl(KVM_RUN) from a vCPU thread (ENODEV on arm32, which has no KVM host).
    KvmRun,
    // Kernel events.
    Interrupt,
    /// A synchronous exception from user mode, handled without a signal.
    Exception,
    SwitchOut,
    SwitchIn {
        cpu: u32,
        mm_cid: u32,
    },
    Signal {
        sig: u8,
    },
    MembarrierIpi,
    SliceTimer,
    /// The next slice extension granted expires before the task leaves the
    /// kernel ([`Event::SliceExpiresInKernel`]).
    SliceExpiresInKernel,
    /// The scheduler wants the CPU back (TIF_NEED_RESCHED).
    NeedResched,
    /// task_work_add() (or another set_notify_resume() caller) for the task.
    TaskWork,
    ExitToUser,
    /// Inside KVM_RUN, the guest is entered again after a VM exit (the
    /// pre-guest work runs again); nothing outside KVM_RUN.
    GuestEntry,
    // User actions.
    /// Store 8 bytes at area + 8 (rseq_cs).
    SetRseqCs {
        value: Val,
    },
    /// Store a descriptor.
    WriteDesc {
        at: Val,
        version: u32,
        flags: u32,
        start_ip: Val,
        post_commit_offset: Val,
        abort_ip: Val,
    },
    /// Store a 32-bit word (a signature, or a clobber of a read-only field).
    Store32 {
        addr: Val,
        value: u32,
    },
    Store {
        addr: Val,
        bytes: Vec<u8>,
    },
    SetIp {
        ip: Val,
    },
    SetHandler {
        sig: u8,
        installed: bool,
    },
    Mmap {
        addr: Val,
        state: PageState,
    },
    Munmap {
        addr: Val,
    },
    Mprotect {
        addr: Val,
        readable: bool,
        writable: bool,
    },
    MadviseDontneed {
        addr: Val,
    },
    Reclaim {
        addr: Val,
    },
}

/// A complete scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub arch: Arch,
    #[serde(default)]
    pub run: RunSelect,
    #[serde(default)]
    pub layout: Layout,
    /// Page-state overrides on top of the layout's present pages.
    #[serde(default)]
    pub pages: Vec<PageSpec>,
    /// Memory written before the run, on top of the defaults (a valid
    /// descriptor at `layout.desc`, the arch signature before `abort_ip`,
    /// `cpu_id = -1` in the area).
    #[serde(default)]
    pub init: Vec<Init>,
    #[serde(default)]
    pub cpu: u32,
    #[serde(default)]
    pub mm_cid: u32,
    /// Signals with a user handler at start (bit n = signal n).
    #[serde(default)]
    pub handlers: u64,
    /// The initial user IP.
    #[serde(default = "default_ip")]
    pub ip: Val,
    /// The registration made before the first step (None: not registered).
    #[serde(default = "default_registration")]
    pub registration: Option<RegistrationSpec>,
    pub steps: Vec<Step>,
}

fn default_ip() -> Val {
    Val::Raw(testkit::IP_OUTSIDE)
}

fn default_registration() -> Option<RegistrationSpec> {
    Some(RegistrationSpec::default())
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            arch: Arch::X86_64,
            run: RunSelect::ALL,
            layout: Layout::default(),
            pages: Vec::new(),
            init: Vec::new(),
            cpu: 0,
            mm_cid: 0,
            handlers: 0,
            ip: default_ip(),
            registration: default_registration(),
            steps: Vec::new(),
        }
    }
}

/// A scenario resolved to concrete addresses: the machine set-up and the
/// event sequence every version runs.
#[derive(Clone, Debug)]
pub struct Lowered {
    pub arch: Arch,
    pub setup: Setup,
    pub events: Vec<Event>,
    /// How many leading events are the registration prologue.
    pub prologue: usize,
    pub layout: Layout,
}

impl Lowered {
    /// The events that ran in the window that ends at an observation made
    /// at event `step`, when the previous observation was made at
    /// `before_step` (0 for the first window). A syscall made from the
    /// kernel returns to user first (that observation is made at its
    /// index), then runs: it belongs to the next window, which therefore
    /// starts at `before_step` itself and ends before `step`. The last
    /// observation of a run is made at the end, one past the last event.
    pub fn window_events(&self, before_step: usize, step: usize) -> &[Event] {
        let end = step.min(self.events.len());
        self.events.get(before_step.min(end)..end).unwrap_or(&[])
    }
}

impl Scenario {
    /// Resolve a value: anchors are version-independent, so every version
    /// runs the same addresses. Arithmetic wraps, as the anchors at the
    /// edges of the address space are meant to.
    pub fn resolve(&self, v: Val, ip: u64) -> u64 {
        match v {
            Val::Raw(x) => x,
            Val::At { anchor, delta } => {
                let l = &self.layout;
                let base = match anchor {
                    Anchor::Zero => 0,
                    Anchor::Ip => ip,
                    Anchor::CsStart => l.cs_start,
                    Anchor::CsEnd => l.cs_start.wrapping_add(l.cs_len),
                    Anchor::AbortIp => l.abort_ip,
                    Anchor::SigAddr => l.abort_ip.wrapping_sub(4),
                    Anchor::Area => l.area,
                    Anchor::Desc => l.desc,
                    Anchor::DescPageEnd => {
                        (l.desc / PAGE_SIZE).wrapping_add(1).wrapping_mul(PAGE_SIZE)
                    }
                    Anchor::Code => l.code,
                    Anchor::Handler => l.handler,
                    Anchor::Hole => HOLE,
                    Anchor::TaskSize => self.arch.task_size(),
                    Anchor::U32Max => u32::MAX as u64,
                    Anchor::Top => u64::MAX,
                };
                base.wrapping_add_signed(delta as i64)
            }
        }
    }

    fn sig(&self, s: SigVal) -> u32 {
        match s {
            SigVal::Raw(x) => x,
            SigVal::Named(SigName::Arch) => self.arch.rseq_sig(),
        }
    }

    /// The initial address space.
    pub fn initial_mem(&self) -> UserMem {
        let l = &self.layout;
        let mut m = UserMem::new(self.arch.task_size());
        for page in [l.code, l.area, l.desc, l.handler] {
            m.set_state(page, PageState::Present);
        }
        let ip0 = self.resolve(self.ip, 0);
        for p in &self.pages {
            m.set_state(self.resolve(p.addr, ip0), p.state);
        }
        m.poke(
            l.abort_ip.wrapping_sub(4),
            &self.arch.rseq_sig().to_le_bytes(),
        );
        m.poke(
            l.desc,
            &testkit::rseq_cs_bytes(0, 0, l.cs_start, l.cs_len, l.abort_ip),
        );
        m.poke(
            l.area.wrapping_add(abi::rseq::CPU_ID),
            &abi::RSEQ_CPU_ID_UNINITIALIZED.to_le_bytes(),
        );
        for init in &self.init {
            match init {
                Init::Desc {
                    at,
                    version,
                    flags,
                    start_ip,
                    post_commit_offset,
                    abort_ip,
                } => m.poke(
                    self.resolve(*at, ip0),
                    &testkit::rseq_cs_bytes(
                        *version,
                        *flags,
                        self.resolve(*start_ip, ip0),
                        self.resolve(*post_commit_offset, ip0),
                        self.resolve(*abort_ip, ip0),
                    ),
                ),
                Init::Sig { at, value } => {
                    m.poke(self.resolve(*at, ip0), &self.sig(*value).to_le_bytes())
                }
                Init::Bytes { at, bytes } => m.poke(self.resolve(*at, ip0), bytes),
            }
        }
        m
    }

    /// Resolve everything into a set-up and an event sequence.
    pub fn lower(&self) -> Lowered {
        let mut ip = self.resolve(self.ip, 0);
        let setup = Setup {
            mem: self.initial_mem(),
            ip,
            cpu: self.cpu,
            mm_cid: self.mm_cid,
            handlers: self.handlers,
            handler_ip: self.layout.handler,
            exec_entry_ip: self.layout.code,
            area: self.layout.area,
            area_len: 32,
        };
        let mut events = Vec::with_capacity(self.steps.len() + 2);
        if let Some(r) = &self.registration {
            events.push(Event::Syscall(Syscall::Rseq {
                addr: self.resolve(r.addr, ip),
                len: r.len,
                flags: r.flags,
                sig: self.sig(r.sig),
            }));
            events.push(Event::ExitToUser);
        }
        let prologue = events.len();
        for step in self.steps.iter().take(MAX_STEPS) {
            let ev = self.lower_step(step, ip);
            if let Event::SetIp { ip: new } = ev {
                ip = new;
            }
            events.push(ev);
        }
        Lowered {
            arch: self.arch,
            setup,
            events,
            prologue,
            layout: self.layout,
        }
    }

    fn lower_step(&self, step: &Step, ip: u64) -> Event {
        let r = |v: Val| self.resolve(v, ip);
        let area = self.layout.area;
        match step {
            Step::Rseq {
                addr,
                len,
                flags,
                sig,
            } => Event::Syscall(Syscall::Rseq {
                addr: r(*addr),
                len: *len,
                flags: *flags,
                sig: self.sig(*sig),
            }),
            Step::Getpid => Event::Syscall(Syscall::Getpid),
            Step::Sigreturn => Event::Syscall(Syscall::Sigreturn),
            Step::Fork {
                clone_vm,
                follow_child,
            } => Event::Syscall(Syscall::Fork {
                clone_vm: *clone_vm,
                follow_child: *follow_child,
            }),
            Step::Execve { ok } => Event::Syscall(Syscall::Execve { ok: *ok }),
            Step::Membarrier { own_cpu } => {
                Event::Syscall(Syscall::Membarrier { own_cpu: *own_cpu })
            }
            Step::PrctlSlice { op, arg } => {
                Event::Syscall(Syscall::PrctlSlice { op: *op, arg: *arg })
            }
            Step::SliceYield => Event::Syscall(Syscall::SliceYield),
            Step::KvmRun => Event::Syscall(Syscall::KvmRun),
            Step::GuestEntry => Event::GuestEntry,
            Step::Interrupt => Event::Interrupt,
            Step::Exception => Event::Exception,
            Step::SwitchOut => Event::SwitchOut,
            Step::SwitchIn { cpu, mm_cid } => Event::SwitchIn {
                cpu: *cpu,
                mm_cid: *mm_cid,
            },
            Step::Signal { sig } => Event::Signal { sig: *sig },
            Step::MembarrierIpi => Event::MembarrierIpi,
            Step::SliceTimer => Event::SliceTimer,
            Step::SliceExpiresInKernel => Event::SliceExpiresInKernel,
            Step::NeedResched => Event::NeedResched,
            Step::TaskWork => Event::TaskWork,
            Step::ExitToUser => Event::ExitToUser,
            Step::SetRseqCs { value } => Event::Store {
                addr: area.wrapping_add(abi::rseq::RSEQ_CS),
                bytes: r(*value).to_le_bytes().to_vec(),
            },
            Step::WriteDesc {
                at,
                version,
                flags,
                start_ip,
                post_commit_offset,
                abort_ip,
            } => Event::Store {
                addr: r(*at),
                bytes: testkit::rseq_cs_bytes(
                    *version,
                    *flags,
                    r(*start_ip),
                    r(*post_commit_offset),
                    r(*abort_ip),
                ),
            },
            Step::Store32 { addr, value } => Event::Store {
                addr: r(*addr),
                bytes: value.to_le_bytes().to_vec(),
            },
            Step::Store { addr, bytes } => Event::Store {
                addr: r(*addr),
                bytes: bytes.clone(),
            },
            Step::SetIp { ip: v } => Event::SetIp { ip: r(*v) },
            Step::SetHandler { sig, installed } => Event::SetHandler {
                sig: *sig,
                installed: *installed,
            },
            Step::Mmap { addr, state } => Event::Mmap {
                addr: r(*addr),
                state: *state,
            },
            Step::Munmap { addr } => Event::Munmap { addr: r(*addr) },
            Step::Mprotect {
                addr,
                readable,
                writable,
            } => Event::Mprotect {
                addr: r(*addr),
                readable: *readable,
                writable: *writable,
            },
            Step::MadviseDontneed { addr } => Event::MadviseDontneed { addr: r(*addr) },
            Step::Reclaim { addr } => Event::Reclaim { addr: r(*addr) },
        }
    }

    /// The (version, config) runs the scenario selects, or an error naming
    /// an unknown run.
    pub fn runs(&self) -> Result<Vec<(&'static VersionEntry, crate::config::Config)>, String> {
        // From the per-architecture table: listing the registry's builds
        // and formatting every run's name cost about a tenth of an
        // exit_to_user input.
        let table = RunTable::of(self.arch);
        match &self.run {
            RunSelect::Set(RunSet::All) => Ok(table.runs.clone()),
            RunSelect::Set(RunSet::Native) => Ok(table
                .runs
                .iter()
                .copied()
                .filter(|(_, c)| {
                    let native = crate::config::Config::native(c.arch, c.debug);
                    c.generic_entry == native.generic_entry
                        && c.generic_irq_entry == native.generic_irq_entry
                        && c.generic_tif_bits == native.generic_tif_bits
                        && (!c.slice_extension || c.slice_key)
                })
                .collect()),
            RunSelect::Only(names) => names
                .iter()
                .map(|n| {
                    let i = table.names.iter().position(|x| x == n).ok_or_else(|| {
                        format!("unknown run '{n}' for architecture {}", self.arch.name())
                    })?;
                    Ok(table.runs[i])
                })
                .collect(),
        }
    }

    /// Parse a scenario from JSON, with a message fit for the command line.
    pub fn from_json(text: &str) -> Result<Scenario, String> {
        let s: Scenario =
            serde_json::from_str(text).map_err(|e| format!("malformed scenario JSON: {e}"))?;
        // serde ignores extra keys beside the tag of a unit step
        // ({"step": "getpid", "cpu": 3}); every key must mean something.
        let input: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("malformed scenario JSON: {e}"))?;
        let canonical = serde_json::to_value(&s).map_err(|e| e.to_string())?;
        if let Some((path, key)) = unknown_key(&input, &canonical, String::new()) {
            return Err(format!(
                "malformed scenario JSON: unknown field `{key}` in {path}"
            ));
        }
        if s.steps.len() > MAX_STEPS {
            return Err(format!(
                "scenario has {} steps; at most {MAX_STEPS}",
                s.steps.len()
            ));
        }
        if s.run == RunSelect::Only(Vec::new()) {
            return Err(r#"scenario "run" is an empty list and selects no run; use "all""#.into());
        }
        if s.pages.len() > MAX_PAGES || s.init.len() > MAX_INITS {
            return Err(format!(
                "scenario has more than {MAX_PAGES} pages or {MAX_INITS} init items"
            ));
        }
        Ok(s)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The first key of `input` that the scenario parsed from it does not
/// write back (serialization writes every field), as (path, key).
fn unknown_key(
    input: &serde_json::Value,
    canonical: &serde_json::Value,
    path: String,
) -> Option<(String, String)> {
    use serde_json::Value;
    match (input, canonical) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(k, va)| match b.get(k) {
            None => Some((
                if path.is_empty() {
                    "the scenario".into()
                } else {
                    path.clone()
                },
                k.clone(),
            )),
            Some(vb) => unknown_key(
                va,
                vb,
                if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                },
            ),
        }),
        (Value::Array(a), Value::Array(b)) => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (va, vb))| unknown_key(va, vb, format!("{path}[{i}]"))),
        _ => None,
    }
}

/// `version/config`.
pub fn run_name(v: &VersionEntry, c: &crate::config::Config) -> String {
    registered_run_name(v.name, c).map_or_else(|| format_run_name(v.name, c), str::to_string)
}

/// The name of a registered run, from the per-architecture table: a copy
/// instead of formatting the configuration's name, which the fuzz targets
/// did several times an input. None for a version outside the registry (a
/// test double).
pub fn registered_run_name(version: &str, c: &crate::config::Config) -> Option<&'static str> {
    let table = RunTable::of(c.arch);
    let i = table
        .runs
        .iter()
        .position(|(v, rc)| v.name == version && rc == c)?;
    Some(table.names[i].as_str())
}

fn format_run_name(version: &str, c: &crate::config::Config) -> String {
    format!("{version}/{}", c.name())
}

/// The run that the binary form's selector byte picks, among one
/// architecture's runs.
///
/// Saved inputs (campaign corpora, findings, OSS-Fuzz testcases) must keep
/// selecting the same run when a kernel version or build is added, and the
/// registry grows that way with every release. An index into the run list
/// (`byte % runs.len()`) moved nearly every saved input to another run at
/// each addition. Rendezvous (highest-random-weight) hashing gives each
/// selector the run whose name scores highest with it: adding a run moves
/// only the selectors it wins, about one in N+1, and to the new run;
/// removing one moves only its own. Each run wins about 256/N selectors.
pub fn run_for_selector(
    arch: Arch,
    selector: u8,
) -> (&'static VersionEntry, crate::config::Config) {
    let table = RunTable::of(arch);
    table.runs[usize::from(table.by_selector[usize::from(selector)])]
}

/// A selector byte that picks the named run of this architecture, if any:
/// the inverse of [`run_for_selector`], for encoders and seeds.
pub fn selector_for_run(arch: Arch, name: &str) -> Option<u8> {
    let table = RunTable::of(arch);
    let index = table.names.iter().position(|n| n == name)?;
    (0..=255u8).find(|&s| usize::from(table.by_selector[usize::from(s)]) == index)
}

/// Rendezvous hashing over run names: the index of the name that scores
/// highest with the selector (ties, which a 64-bit score makes unlikely, go
/// to the earlier name). Depends on the names alone, never on their order.
pub fn rendezvous_pick(names: &[String], selector: u8) -> usize {
    let mut best = (0u64, 0usize);
    for (i, name) in names.iter().enumerate() {
        let score = rendezvous_score(name, selector);
        if i == 0 || score > best.0 || (score == best.0 && name < &names[best.1]) {
            best = (score, i);
        }
    }
    best.1
}

/// FNV-1a over the selector and the name, then a SplitMix64 finaliser so
/// that neighbouring selectors score independently.
fn rendezvous_score(name: &str, selector: u8) -> u64 {
    let fnv = std::iter::once(selector)
        .chain(name.bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    let mut z = fnv.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One architecture's runs and which of them each selector byte picks,
/// computed once per process.
struct RunTable {
    runs: Vec<(&'static VersionEntry, crate::config::Config)>,
    names: Vec<String>,
    by_selector: [u8; 256],
}

impl RunTable {
    fn of(arch: Arch) -> &'static RunTable {
        static TABLES: [std::sync::OnceLock<RunTable>; Arch::ALL.len()] =
            [const { std::sync::OnceLock::new() }; Arch::ALL.len()];
        let slot = Arch::ALL.iter().position(|&a| a == arch).unwrap_or(0);
        TABLES[slot].get_or_init(|| {
            let runs = runs_for_arch(arch);
            // Not run_name(), which looks names up in this table.
            let names: Vec<String> = runs
                .iter()
                .map(|(v, c)| format_run_name(v.name, c))
                .collect();
            let mut by_selector = [0u8; 256];
            for (s, pick) in by_selector.iter_mut().enumerate() {
                // At most 256 runs per architecture (checked by a test).
                *pick = rendezvous_pick(&names, s as u8) as u8;
            }
            RunTable {
                runs,
                names,
                by_selector,
            }
        })
    }
}

/// Every (version, config) of one architecture, in registry order.
pub fn runs_for_arch(arch: Arch) -> Vec<(&'static VersionEntry, crate::config::Config)> {
    let mut out = Vec::new();
    for v in VERSIONS {
        for c in (v.configs)() {
            if c.arch == arch {
                out.push((v, c));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The binary form.

/// Reads bytes; past the end every read is zero, so decoding is total.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in out.iter_mut() {
            *b = self.u8();
        }
        out
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
}

/// Writes the canonical bytes that [`Reader`]-based decoding reads back.
#[derive(Default)]
pub struct Writer {
    pub out: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, b: u8) {
        self.out.push(b);
    }
    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bool(&mut self, b: bool) {
        self.out.push(b as u8);
    }
}

/// Architectures by header byte: x86-64 (4-level) is the common case.
const ARCH_TABLE: [Arch; 8] = [
    Arch::X86_64,
    Arch::X86_64,
    Arch::X86_64,
    Arch::X86_64,
    Arch::X86_64La57,
    Arch::Arm64,
    Arch::Riscv64,
    Arch::Arm32,
];

/// A 64-bit field with a default: tag < 0x80 is the default, else 8 raw bytes.
fn dec_opt_u64(r: &mut Reader, default: u64) -> u64 {
    if r.u8() < 0x80 {
        default
    } else {
        r.u64()
    }
}

fn enc_opt_u64(w: &mut Writer, v: u64, default: u64) {
    if v == default {
        w.u8(0);
    } else {
        w.u8(0x80);
        w.u64(v);
    }
}

/// A 32-bit field drawn mostly from `choices`: tag t < len picks choices[t];
/// len <= t < 255 is the value t itself; 255 is followed by 4 raw bytes.
fn dec_u32_choice(r: &mut Reader, choices: &[u32]) -> u32 {
    let t = r.u8();
    if (t as usize) < choices.len() {
        choices[t as usize]
    } else if t < 255 {
        t as u32
    } else {
        r.u32()
    }
}

fn enc_u32_choice(w: &mut Writer, v: u32, choices: &[u32]) {
    if let Some(i) = choices.iter().position(|&c| c == v) {
        w.u8(i as u8);
    } else if v >= choices.len() as u32 && v < 255 {
        w.u8(v as u8);
    } else {
        w.u8(255);
        w.u32(v);
    }
}

const LEN_CHOICES: [u32; 8] = [32, 64, 33, 28, 0, 20, 36, 128];
const FLAG_CHOICES: [u32; 6] = [0, 1, 2, 3, 4, 8];
const DESC_FLAG_CHOICES: [u32; 5] = [0, 1, 2, 4, 8];

/// Val: tag t; low nibble 0 = raw u64, 1..=15 = anchor; high nibble: 0 =
/// delta 0, 1..=7 = delta (n - 4), 8..=11 = i8 delta, 12..=15 = i32 delta.
pub fn dec_val(r: &mut Reader) -> Val {
    let t = r.u8();
    let kind = (t & 0x0f) as usize;
    if kind == 0 {
        return Val::Raw(r.u64());
    }
    let anchor = ANCHORS[kind - 1];
    let d = t >> 4;
    let delta = match d {
        0 => 0,
        1..=7 => d as i32 - 4,
        8..=11 => r.u8() as i8 as i32,
        _ => r.u32() as i32,
    };
    Val::At { anchor, delta }
}

pub fn enc_val(w: &mut Writer, v: Val) {
    match v {
        Val::Raw(x) => {
            w.u8(0);
            w.u64(x);
        }
        Val::At { anchor, delta } => {
            let kind = ANCHORS.iter().position(|&a| a == anchor).unwrap_or(0) as u8 + 1;
            if delta == 0 {
                w.u8(kind);
            } else if (-3..=3).contains(&delta) {
                w.u8((((delta + 4) as u8) << 4) | kind);
            } else if let Ok(d8) = i8::try_from(delta) {
                w.u8(0x80 | kind);
                w.u8(d8 as u8);
            } else {
                w.u8(0xc0 | kind);
                w.u32(delta as u32);
            }
        }
    }
}

pub fn dec_sig(r: &mut Reader) -> SigVal {
    let t = r.u8();
    match t {
        0..=191 => SigVal::ARCH,
        192..=254 => SigVal::Raw(abi::ALL_RSEQ_SIGS[(t - 192) as usize % abi::ALL_RSEQ_SIGS.len()]),
        255 => SigVal::Raw(r.u32()),
    }
}

pub fn enc_sig(w: &mut Writer, s: SigVal) {
    match s {
        SigVal::Named(SigName::Arch) => w.u8(0),
        SigVal::Raw(x) => match abi::ALL_RSEQ_SIGS.iter().position(|&c| c == x) {
            Some(i) => w.u8(192 + i as u8),
            None => {
                w.u8(255);
                w.u32(x);
            }
        },
    }
}

fn dec_state(r: &mut Reader) -> PageState {
    PageState::ALL[r.u8() as usize % PageState::ALL.len()]
}

fn enc_state(w: &mut Writer, s: PageState) {
    w.u8(PageState::ALL.iter().position(|&p| p == s).unwrap_or(0) as u8);
}

fn dec_desc_fields(r: &mut Reader) -> (Val, u32, u32, Val, Val, Val) {
    let at = dec_val(r);
    let version = dec_u32_choice(r, &[0, 1]);
    let flags = dec_u32_choice(r, &DESC_FLAG_CHOICES);
    (at, version, flags, dec_val(r), dec_val(r), dec_val(r))
}

fn enc_desc_fields(w: &mut Writer, f: (&Val, &u32, &u32, &Val, &Val, &Val)) {
    enc_val(w, *f.0);
    enc_u32_choice(w, *f.1, &[0, 1]);
    enc_u32_choice(w, *f.2, &DESC_FLAG_CHOICES);
    enc_val(w, *f.3);
    enc_val(w, *f.4);
    enc_val(w, *f.5);
}

fn dec_bytes(r: &mut Reader) -> Vec<u8> {
    let n = (r.u8() % 17) as usize;
    (0..n).map(|_| r.u8()).collect()
}

fn enc_bytes(w: &mut Writer, b: &[u8]) {
    let n = b.len().min(16);
    w.u8(n as u8);
    for &x in &b[..n] {
        w.u8(x);
    }
}

/// Step kinds by tag (tag % len). Frequent kernel events appear twice so that
/// random bytes make preemptions and exits often.
const STEP_KINDS: u8 = 32;

fn dec_step(r: &mut Reader) -> Step {
    match r.u8() % STEP_KINDS {
        0 => Step::Rseq {
            addr: dec_val(r),
            len: dec_u32_choice(r, &LEN_CHOICES),
            flags: dec_u32_choice(r, &FLAG_CHOICES),
            sig: dec_sig(r),
        },
        1 => Step::Getpid,
        2 => Step::Sigreturn,
        3 => Step::Fork {
            clone_vm: r.bool(),
            follow_child: r.bool(),
        },
        4 => Step::Execve { ok: r.bool() },
        5 => Step::Membarrier { own_cpu: r.bool() },
        6 => Step::PrctlSlice {
            op: dec_u32_choice(r, &[1, 2, 0]),
            arg: dec_u32_choice(r, &[1, 0, 2]),
        },
        7 => Step::SliceYield,
        8 => Step::Interrupt,
        9 => Step::Exception,
        10 => Step::SwitchOut,
        11 | 12 => Step::SwitchIn {
            cpu: r.u8() as u32,
            mm_cid: r.u8() as u32,
        },
        13 => Step::Signal { sig: r.u8() },
        14 => Step::MembarrierIpi,
        15 => Step::SliceTimer,
        16 => Step::ExitToUser,
        // Was ExitToUser's second tag.
        17 => Step::SliceExpiresInKernel,
        18 => Step::SetRseqCs { value: dec_val(r) },
        19 => {
            let (at, version, flags, start_ip, post_commit_offset, abort_ip) = dec_desc_fields(r);
            Step::WriteDesc {
                at,
                version,
                flags,
                start_ip,
                post_commit_offset,
                abort_ip,
            }
        }
        20 => Step::Store32 {
            addr: dec_val(r),
            value: r.u32(),
        },
        21 => Step::Store {
            addr: dec_val(r),
            bytes: dec_bytes(r),
        },
        22 => Step::SetIp { ip: dec_val(r) },
        // Was set_ip's second tag: KVM_RUN and the guest re-entry.
        23 => {
            if r.bool() {
                Step::GuestEntry
            } else {
                Step::KvmRun
            }
        }
        24 => Step::SetHandler {
            sig: r.u8(),
            installed: r.bool(),
        },
        25 => Step::Mmap {
            addr: dec_val(r),
            state: dec_state(r),
        },
        26 => Step::Munmap { addr: dec_val(r) },
        27 => Step::Mprotect {
            addr: dec_val(r),
            readable: r.bool(),
            writable: r.bool(),
        },
        28 => Step::MadviseDontneed { addr: dec_val(r) },
        29 => Step::Reclaim { addr: dec_val(r) },
        30 => Step::NeedResched,
        _ => Step::TaskWork,
    }
}

fn enc_step(w: &mut Writer, s: &Step) {
    match s {
        Step::Rseq {
            addr,
            len,
            flags,
            sig,
        } => {
            w.u8(0);
            enc_val(w, *addr);
            enc_u32_choice(w, *len, &LEN_CHOICES);
            enc_u32_choice(w, *flags, &FLAG_CHOICES);
            enc_sig(w, *sig);
        }
        Step::Getpid => w.u8(1),
        Step::Sigreturn => w.u8(2),
        Step::Fork {
            clone_vm,
            follow_child,
        } => {
            w.u8(3);
            w.bool(*clone_vm);
            w.bool(*follow_child);
        }
        Step::Execve { ok } => {
            w.u8(4);
            w.bool(*ok);
        }
        Step::Membarrier { own_cpu } => {
            w.u8(5);
            w.bool(*own_cpu);
        }
        Step::PrctlSlice { op, arg } => {
            w.u8(6);
            enc_u32_choice(w, *op, &[1, 2, 0]);
            enc_u32_choice(w, *arg, &[1, 0, 2]);
        }
        Step::SliceYield => w.u8(7),
        Step::KvmRun => {
            w.u8(23);
            w.bool(false);
        }
        Step::GuestEntry => {
            w.u8(23);
            w.bool(true);
        }
        Step::Interrupt => w.u8(8),
        Step::Exception => w.u8(9),
        Step::SwitchOut => w.u8(10),
        Step::SwitchIn { cpu, mm_cid } => {
            w.u8(11);
            w.u8(*cpu as u8);
            w.u8(*mm_cid as u8);
        }
        Step::Signal { sig } => {
            w.u8(13);
            w.u8(*sig);
        }
        Step::MembarrierIpi => w.u8(14),
        Step::SliceTimer => w.u8(15),
        Step::NeedResched => w.u8(30),
        Step::TaskWork => w.u8(31),
        Step::ExitToUser => w.u8(16),
        Step::SliceExpiresInKernel => w.u8(17),
        Step::SetRseqCs { value } => {
            w.u8(18);
            enc_val(w, *value);
        }
        Step::WriteDesc {
            at,
            version,
            flags,
            start_ip,
            post_commit_offset,
            abort_ip,
        } => {
            w.u8(19);
            enc_desc_fields(
                w,
                (at, version, flags, start_ip, post_commit_offset, abort_ip),
            );
        }
        Step::Store32 { addr, value } => {
            w.u8(20);
            enc_val(w, *addr);
            w.u32(*value);
        }
        Step::Store { addr, bytes } => {
            w.u8(21);
            enc_val(w, *addr);
            enc_bytes(w, bytes);
        }
        Step::SetIp { ip } => {
            w.u8(22);
            enc_val(w, *ip);
        }
        Step::SetHandler { sig, installed } => {
            w.u8(24);
            w.u8(*sig);
            w.bool(*installed);
        }
        Step::Mmap { addr, state } => {
            w.u8(25);
            enc_val(w, *addr);
            enc_state(w, *state);
        }
        Step::Munmap { addr } => {
            w.u8(26);
            enc_val(w, *addr);
        }
        Step::Mprotect {
            addr,
            readable,
            writable,
        } => {
            w.u8(27);
            enc_val(w, *addr);
            w.bool(*readable);
            w.bool(*writable);
        }
        Step::MadviseDontneed { addr } => {
            w.u8(28);
            enc_val(w, *addr);
        }
        Step::Reclaim { addr } => {
            w.u8(29);
            enc_val(w, *addr);
        }
    }
}

fn dec_init(r: &mut Reader) -> Init {
    match r.u8() % 3 {
        0 => {
            let (at, version, flags, start_ip, post_commit_offset, abort_ip) = dec_desc_fields(r);
            Init::Desc {
                at,
                version,
                flags,
                start_ip,
                post_commit_offset,
                abort_ip,
            }
        }
        1 => Init::Sig {
            at: dec_val(r),
            value: dec_sig(r),
        },
        _ => Init::Bytes {
            at: dec_val(r),
            bytes: dec_bytes(r),
        },
    }
}

fn enc_init(w: &mut Writer, i: &Init) {
    match i {
        Init::Desc {
            at,
            version,
            flags,
            start_ip,
            post_commit_offset,
            abort_ip,
        } => {
            w.u8(0);
            enc_desc_fields(
                w,
                (at, version, flags, start_ip, post_commit_offset, abort_ip),
            );
        }
        Init::Sig { at, value } => {
            w.u8(1);
            enc_val(w, *at);
            enc_sig(w, *value);
        }
        Init::Bytes { at, bytes } => {
            w.u8(2);
            enc_val(w, *at);
            enc_bytes(w, bytes);
        }
    }
}

/// Known signal handlers in the compact handler byte.
const HANDLER_SIGS: [u8; 4] = [
    abi::sig::SIGSEGV,
    abi::sig::SIGUSR1,
    abi::sig::SIGUSR2,
    abi::sig::SIGALRM,
];

fn dec_handlers(r: &mut Reader) -> u64 {
    let b = r.u8();
    if b < 0x80 {
        HANDLER_SIGS
            .iter()
            .enumerate()
            .filter(|(i, _)| b & (1 << i) != 0)
            .fold(0u64, |m, (_, &s)| m | (1u64 << s))
    } else {
        r.u64()
    }
}

fn enc_handlers(w: &mut Writer, mask: u64) {
    let mut b = 0u8;
    let mut rest = mask;
    for (i, &s) in HANDLER_SIGS.iter().enumerate() {
        if mask & (1u64 << s) != 0 {
            b |= 1 << i;
            rest &= !(1u64 << s);
        }
    }
    if rest == 0 {
        w.u8(b);
    } else {
        w.u8(0x80);
        w.u64(mask);
    }
}

impl Scenario {
    /// Decode any byte string. Total and deterministic.
    pub fn decode(data: &[u8]) -> Scenario {
        let mut r = Reader::new(data);
        let arch = ARCH_TABLE[r.u8() as usize % ARCH_TABLE.len()];
        // Mostly every run (what the differential oracle wants); sometimes
        // the native set; sometimes one to three named runs.
        let run = {
            let t = r.u8();
            if t < 0xc0 {
                RunSelect::ALL
            } else if t < 0xe0 {
                RunSelect::NATIVE
            } else {
                let n = 1 + (t - 0xe0) % 3;
                let names = (0..n)
                    .map(|_| {
                        let (v, c) = run_for_selector(arch, r.u8());
                        run_name(v, &c)
                    })
                    .collect::<Vec<_>>();
                RunSelect::Only(names)
            }
        };
        let d = Layout::default();
        let layout = Layout {
            code: dec_opt_u64(&mut r, d.code),
            area: dec_opt_u64(&mut r, d.area),
            desc: dec_opt_u64(&mut r, d.desc),
            cs_start: dec_opt_u64(&mut r, d.cs_start),
            cs_len: dec_opt_u64(&mut r, d.cs_len),
            abort_ip: dec_opt_u64(&mut r, d.abort_ip),
            handler: dec_opt_u64(&mut r, d.handler),
        };
        let npages = (r.u8() as usize) % (MAX_PAGES + 1);
        let pages = (0..npages)
            .map(|_| PageSpec {
                addr: dec_val(&mut r),
                state: dec_state(&mut r),
            })
            .collect();
        let ninit = (r.u8() as usize) % (MAX_INITS + 1);
        let init = (0..ninit).map(|_| dec_init(&mut r)).collect();
        let cpu = r.u8() as u32;
        let mm_cid = r.u8() as u32;
        let handlers = dec_handlers(&mut r);
        let ip = dec_val(&mut r);
        let registration = if r.u8() < 0xf0 {
            Some(RegistrationSpec {
                addr: dec_val(&mut r),
                len: dec_u32_choice(&mut r, &LEN_CHOICES),
                flags: dec_u32_choice(&mut r, &FLAG_CHOICES),
                sig: dec_sig(&mut r),
            })
        } else {
            None
        };
        let mut steps = Vec::new();
        while !r.is_empty() && steps.len() < MAX_STEPS {
            steps.push(dec_step(&mut r));
        }
        Scenario {
            arch,
            run,
            layout,
            pages,
            init,
            cpu,
            mm_cid,
            handlers,
            ip,
            registration,
            steps,
        }
    }

    /// The canonical bytes of this scenario. Values that the compact form
    /// cannot hold (more than 3 selected runs, cpu numbers above 255, stores
    /// of more than 16 bytes, more than 64 steps) are cut to what it holds;
    /// `encodable` says whether that happens.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(ARCH_TABLE.iter().position(|&a| a == self.arch).unwrap_or(0) as u8);
        match &self.run {
            RunSelect::Set(RunSet::All) => w.u8(0),
            RunSelect::Set(RunSet::Native) => w.u8(0xc0),
            RunSelect::Only(names) => {
                let idx: Vec<u8> = names
                    .iter()
                    .filter_map(|n| selector_for_run(self.arch, n))
                    .take(3)
                    .collect();
                if idx.is_empty() {
                    w.u8(0);
                } else {
                    w.u8(0xe0 + idx.len() as u8 - 1);
                    for i in idx {
                        w.u8(i);
                    }
                }
            }
        }
        let d = Layout::default();
        let l = &self.layout;
        for (v, dv) in [
            (l.code, d.code),
            (l.area, d.area),
            (l.desc, d.desc),
            (l.cs_start, d.cs_start),
            (l.cs_len, d.cs_len),
            (l.abort_ip, d.abort_ip),
            (l.handler, d.handler),
        ] {
            enc_opt_u64(&mut w, v, dv);
        }
        let pages = &self.pages[..self.pages.len().min(MAX_PAGES)];
        w.u8(pages.len() as u8);
        for p in pages {
            enc_val(&mut w, p.addr);
            enc_state(&mut w, p.state);
        }
        let init = &self.init[..self.init.len().min(MAX_INITS)];
        w.u8(init.len() as u8);
        for i in init {
            enc_init(&mut w, i);
        }
        w.u8(self.cpu as u8);
        w.u8(self.mm_cid as u8);
        enc_handlers(&mut w, self.handlers);
        enc_val(&mut w, self.ip);
        match &self.registration {
            Some(reg) => {
                w.u8(0);
                enc_val(&mut w, reg.addr);
                enc_u32_choice(&mut w, reg.len, &LEN_CHOICES);
                enc_u32_choice(&mut w, reg.flags, &FLAG_CHOICES);
                enc_sig(&mut w, reg.sig);
            }
            None => w.u8(0xff),
        }
        for s in self.steps.iter().take(MAX_STEPS) {
            enc_step(&mut w, s);
        }
        w.out
    }

    /// Whether the binary form holds this scenario exactly.
    pub fn encodable(&self) -> bool {
        Scenario::decode(&self.encode()) == *self
    }
}

impl<'a> arbitrary::Arbitrary<'a> for Scenario {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let len = u.len();
        Ok(Scenario::decode(u.bytes(len)?))
    }

    fn arbitrary_take_rest(u: arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Scenario::decode(u.take_rest()))
    }
}
