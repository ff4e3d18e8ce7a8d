//! A standard process layout and a small driver, shared by the model tests,
//! the seed scenarios and the live-kernel comparison, so that each of them
//! says only what is particular to it.
//!
//! Layout (all 4 KiB pages, present and writable unless a test changes them):
//! * [`CODE`]: the code page; the critical section, the abort handler (with the
//!   signature in the 4 bytes before it) and the syscall sites live here.
//! * [`AREA`]: the registered `struct rseq` (32-byte aligned).
//! * [`DESC`]: the `struct rseq_cs` descriptor.
//! * [`HANDLER`]: where signal handlers run.

use crate::abi::{self, rseq, rseq_cs};
use crate::config::Config;
use crate::kernel::{Event, Model, Observation, Setup, Syscall};
use crate::mem::{PageState, UserMem};
use crate::versions::VersionEntry;

pub const CODE: u64 = 0x40_0000;
pub const AREA: u64 = 0x60_0000;
pub const DESC: u64 = 0x70_0000;
pub const HANDLER: u64 = 0x50_0000;
pub const EXEC_ENTRY: u64 = 0x40_1000;
/// The critical section: [CS_START, CS_START + CS_LEN).
pub const CS_START: u64 = CODE + 0x100;
pub const CS_LEN: u64 = 0x40;
/// The abort handler; the signature sits at ABORT_IP - 4.
pub const ABORT_IP: u64 = CODE + 0x200;
/// An IP inside the critical section.
pub const IP_INSIDE: u64 = CS_START + 0x10;
/// An IP outside any critical section.
pub const IP_OUTSIDE: u64 = CODE + 0x800;

/// The bytes of a `struct rseq_cs`.
pub fn rseq_cs_bytes(version: u32, flags: u32, start: u64, offset: u64, abort: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(rseq_cs::SIZE as usize);
    b.extend_from_slice(&version.to_le_bytes());
    b.extend_from_slice(&flags.to_le_bytes());
    b.extend_from_slice(&start.to_le_bytes());
    b.extend_from_slice(&offset.to_le_bytes());
    b.extend_from_slice(&abort.to_le_bytes());
    b
}

/// The standard address space: code, area, descriptor and handler pages
/// present; the architecture's signature before [`ABORT_IP`]; a valid
/// descriptor at [`DESC`]; `cpu_id` = RSEQ_CPU_ID_UNINITIALIZED as libc sets it.
pub fn standard_mem(cfg: &Config) -> UserMem {
    let mut m = UserMem::new(cfg.task_size());
    for page in [CODE, AREA, DESC, HANDLER] {
        m.set_state(page, PageState::Present);
    }
    m.poke(ABORT_IP - 4, &cfg.arch.rseq_sig().to_le_bytes());
    m.poke(DESC, &rseq_cs_bytes(0, 0, CS_START, CS_LEN, ABORT_IP));
    m.poke(
        AREA + rseq::CPU_ID,
        &abi::RSEQ_CPU_ID_UNINITIALIZED.to_le_bytes(),
    );
    m
}

/// The standard set-up around `mem`.
pub fn standard_setup(mem: UserMem) -> Setup {
    Setup {
        mem,
        ip: IP_OUTSIDE,
        cpu: 0,
        mm_cid: 0,
        handlers: 0,
        handler_ip: HANDLER,
        exec_entry_ip: EXEC_ENTRY,
        area: AREA,
        area_len: 32,
    }
}

/// A model under test with a step counter.
pub struct Fixture {
    pub model: Box<dyn Model>,
    pub cfg: Config,
    step: usize,
}

impl Fixture {
    /// A machine of `version` under `cfg` with the standard layout.
    pub fn new(version: &VersionEntry, cfg: Config) -> Fixture {
        Self::with_setup(version, cfg, standard_setup(standard_mem(&cfg)))
    }

    pub fn with_setup(version: &VersionEntry, cfg: Config, setup: Setup) -> Fixture {
        Fixture {
            model: version.machine(cfg, setup),
            cfg,
            step: 0,
        }
    }

    /// Apply one event.
    pub fn step(&mut self, e: Event) -> &mut Self {
        self.model.step(self.step, &e);
        self.step += 1;
        self
    }

    /// Apply events in order.
    pub fn steps(&mut self, events: impl IntoIterator<Item = Event>) -> &mut Self {
        for e in events {
            self.step(e);
        }
        self
    }

    /// rseq(AREA, len, 0, sig of the arch) and return to user; the return value.
    pub fn register(&mut self, len: u32) -> Option<i64> {
        let sig = self.cfg.arch.rseq_sig();
        self.syscall(Syscall::Rseq {
            addr: AREA,
            len,
            flags: 0,
            sig,
        })
    }

    /// Make a syscall and return to user mode; the syscall's return value.
    pub fn syscall(&mut self, sc: Syscall) -> Option<i64> {
        self.step(Event::Syscall(sc));
        self.step(Event::ExitToUser);
        self.last().and_then(|o| o.syscall_ret)
    }

    /// Point rseq_cs at `desc` (a user store).
    pub fn set_rseq_cs(&mut self, desc: u64) -> &mut Self {
        self.step(Event::Store {
            addr: AREA + rseq::RSEQ_CS,
            bytes: desc.to_le_bytes().to_vec(),
        })
    }

    /// Write a descriptor at DESC (a user store).
    pub fn write_desc(
        &mut self,
        version: u32,
        flags: u32,
        start: u64,
        off: u64,
        abort: u64,
    ) -> &mut Self {
        self.step(Event::Store {
            addr: DESC,
            bytes: rseq_cs_bytes(version, flags, start, off, abort),
        })
    }

    /// Enter the critical section: rseq_cs = DESC, ip inside.
    pub fn enter_cs(&mut self) -> &mut Self {
        self.set_rseq_cs(DESC);
        self.step(Event::SetIp { ip: IP_INSIDE })
    }

    /// Interrupt from user mode, preemption on the same CPU, return to user.
    pub fn preempt_irq(&mut self) -> &mut Self {
        let (cpu, cid) = (self.model.current().cpu, self.model.current().mm_cid);
        self.steps([
            Event::Interrupt,
            Event::SwitchOut,
            Event::SwitchIn { cpu, mm_cid: cid },
            Event::ExitToUser,
        ])
    }

    /// Interrupt from user mode, migration to `cpu`, return to user.
    pub fn migrate_irq(&mut self, cpu: u32) -> &mut Self {
        let cid = self.model.current().mm_cid;
        self.steps([
            Event::Interrupt,
            Event::SwitchOut,
            Event::SwitchIn { cpu, mm_cid: cid },
            Event::ExitToUser,
        ])
    }

    /// The newest observation.
    pub fn last(&self) -> Option<&Observation> {
        self.model.observations().last()
    }

    /// The user-visible u32 at AREA + off.
    pub fn area_u32(&self, off: u64) -> Option<u32> {
        let b = self.model.current_mem().peek(AREA + off, 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The user-visible rseq_cs.
    pub fn rseq_cs_value(&self) -> Option<u64> {
        let b = self.model.current_mem().peek(AREA + rseq::RSEQ_CS, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Some(u64::from_le_bytes(a))
    }

    pub fn ip(&self) -> u64 {
        self.model.current().ip
    }

    /// Whether any trace entry since the start took `point`.
    pub fn took(&self, point: &str) -> bool {
        self.model.trace().decisions().any(|d| d == point)
    }

    /// Every decision point taken so far, in order.
    pub fn decisions(&self) -> Vec<&'static str> {
        self.model.trace().decisions().collect()
    }
}
