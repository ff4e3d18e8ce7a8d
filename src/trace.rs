//! What a model did: every user access in kernel order and every decision point
//! taken, plus the decision-coverage map that fuzzers use as feedback.

use crate::mem::{AccessError, AccessKind};
use serde::Serialize;

/// A version's set of named decision points. Implemented by the enums that
/// [`decision_points!`](crate::decision_points) declares, one per version file.
pub trait DecisionSet: Copy + 'static {
    /// `kernel_function/condition`, indexed by [`DecisionSet::index`].
    const NAMES: &'static [&'static str];
    fn index(self) -> usize;
    fn name(self) -> &'static str {
        Self::NAMES[self.index()]
    }
}

/// Declares a version's decision points as an enum whose variants carry their
/// names. Each name is `kernel_function/condition`, so that a kernel developer
/// can find the check in the source.
///
/// ```
/// rseq_fuzz::decision_points! {
///     pub enum Demo {
///         IpOutside = "rseq_update_user_cs/ip_outside_cs",
///         IpInside = "rseq_update_user_cs/ip_inside_cs",
///     }
/// }
/// use rseq_fuzz::trace::DecisionSet;
/// assert_eq!(Demo::IpInside.name(), "rseq_update_user_cs/ip_inside_cs");
/// ```
#[macro_export]
macro_rules! decision_points {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u16)]
        $vis enum $name { $($(#[$vm])* $variant,)* }
        impl $crate::trace::DecisionSet for $name {
            const NAMES: &'static [&'static str] = &[$($text,)*];
            fn index(self) -> usize { self as usize }
        }
    };
}

/// The kernel function part of a decision point name.
pub fn function_of(point: &str) -> &str {
    point.split('/').next().unwrap_or(point)
}

/// One entry of a model's trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceEvent {
    /// A driver event or user action began (its index in the event
    /// sequence; `explain` renders the event itself).
    Step { index: usize },
    /// A user-memory access by the kernel, in the order the kernel makes it.
    Access {
        function: &'static str,
        addr: u64,
        width: u8,
        kind: AccessKind,
        /// For reads of up to 8 bytes that succeeded: the value read
        /// (little-endian); for writes of up to 8 bytes: the value written.
        value: Option<u64>,
        result: Result<(), AccessError>,
    },
    /// A decision point was taken.
    Decision { point: &'static str },
    /// The user instruction pointer was moved by the kernel (an rseq abort or
    /// a signal frame), with the reason.
    IpSet { ip: u64, reason: &'static str },
    /// A signal was forced on the task by rseq code.
    Kill { path: KillPath },
    /// A signal frame was built (saving `saved_ip`) and the handler for
    /// `sig` entered.
    SignalFrame { sig: u8, saved_ip: u64 },
    /// The task died of the default action of `sig`.
    Death { sig: u8 },
    /// A signal rseq code forced was dropped because the same signal was
    /// already pending (kernel/signal.c legacy_queue()): one signal is
    /// delivered, with the earlier sender's siginfo.
    SignalMerged { sig: u8 },
    /// A kernel work loop other than the exit-to-user loop (named by its
    /// kernel function) still had work after
    /// [`EXIT_LOOP_BOUND`](crate::kernel::EXIT_LOOP_BOUND) passes and gave
    /// up. The observation of the next return says `livelock`, so the
    /// liveness oracle reports it.
    WorkLoopBound { function: &'static str },
}

/// How rseq code forces SIGSEGV on a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillPath {
    /// `force_sig(SIGSEGV)`: a user SIGSEGV handler can catch it.
    ForceSig,
    /// `force_sigsegv(sig)`: with `sig == SIGSEGV` the handler is reset to the
    /// default first (certain death); otherwise as `force_sig(SIGSEGV)`.
    ForceSigsegv { sig: u8 },
}

/// A model's trace, plus the version's base in the global coverage map.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trace {
    pub events: Vec<TraceEvent>,
    #[serde(skip)]
    coverage_base: usize,
    /// An access with page faults disabled failed only because a page was
    /// copy-on-write or not present. Until this is set, the fault-free
    /// reference run of the same scenario would repeat this run access for
    /// access, so the fault-transparency oracle need not make it.
    #[serde(skip)]
    pub fault_free_run_may_differ: bool,
}

thread_local! {
    /// Event buffers of traces that were dropped, kept for the next runs on
    /// this thread. A fuzz target makes one to a few dozen runs an input,
    /// and a long scenario's trace grows to a thousand events or more:
    /// allocating each buffer, growing it by reallocation and freeing it
    /// again was about a tenth of an exit_to_user input's instructions
    /// (callgrind, 2026-12-02). Reuse only saves that work; a buffer comes
    /// back empty, so no run can see another's events.
    static SPARE_EVENT_BUFFERS: std::cell::RefCell<Vec<Vec<TraceEvent>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// How many spare buffers a thread keeps (the differential target holds the
/// most traces at once: one a run, plus the fault-free references).
const SPARE_BUFFERS_KEPT: usize = 32;
/// A buffer larger than this (in events) is freed, not kept.
const SPARE_BUFFER_MAX_EVENTS: usize = 1 << 14;

impl Trace {
    pub fn new(coverage_base: usize) -> Self {
        let events = SPARE_EVENT_BUFFERS
            .with(|spare| spare.borrow_mut().pop())
            .unwrap_or_else(|| Vec::with_capacity(256));
        debug_assert!(events.is_empty());
        Trace {
            events,
            coverage_base,
            fault_free_run_may_differ: false,
        }
    }

    pub fn push(&mut self, event: TraceEvent) {
        self.events.push(event);
    }

    /// Record a decision point and count it in the global coverage map.
    pub fn decide<D: DecisionSet>(&mut self, point: D) {
        crate::coverage::hit(self.coverage_base + point.index());
        self.events.push(TraceEvent::Decision {
            point: point.name(),
        });
    }

    /// The decision points in trace order.
    pub fn decisions(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.events.iter().filter_map(|e| match e {
            TraceEvent::Decision { point } => Some(*point),
            _ => None,
        })
    }
}

impl Drop for Trace {
    /// Give the event buffer back for the next run (see
    /// `SPARE_EVENT_BUFFERS`). `try_with`: a trace dropped while the
    /// thread's locals are being destroyed just frees its buffer.
    fn drop(&mut self) {
        let mut events = std::mem::take(&mut self.events);
        if events.capacity() == 0 || events.capacity() > SPARE_BUFFER_MAX_EVENTS {
            return;
        }
        events.clear();
        let _ = SPARE_EVENT_BUFFERS.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                if spare.len() < SPARE_BUFFERS_KEPT {
                    spare.push(events);
                }
            }
        });
    }
}
