// Live check of the KVM_RUN pre-guest path that rseq-fuzz models
// (src/kernel.rs Kctx::xfer_to_guest_mode_handle_work, the kvm_run and
// guest_entry steps) on the host kernel.
//
// A vCPU thread (rseq registered by glibc, pinned to CPU 0) runs a guest
// loop of about a second. A watcher thread on CPU 1 sets the vCPU thread's
// rseq_cs to a valid descriptor whose section contains no IP of the thread,
// migrates the thread to CPU 1 while it is in the guest, and watches its
// struct rseq while KVM_RUN is still running.
//
// The models predict:
//   v6.18 (legacy): the migration raises TIF_NOTIFY_RESUME; the pre-guest
//     work runs __rseq_handle_notify_resume() with NULL regs, which writes
//     cpu_id = 1 while KVM_RUN is still running, and runs no fix-up, so
//     rseq_cs is still set when KVM_RUN returns (no notify-resume is left
//     for the syscall's exit).
//   v6.19 and later: the pre-guest work does nothing for rseq; TIF_RSEQ
//     waits for the exit, so cpu_id stays 0 until KVM_RUN returns.
//
// Prints one line: "during=<cpu_id seen while in KVM_RUN or -1> in_run=<0|1>
// after=<cpu_id after return> rseq_cs_after=<set|clear> exit=<reason>".
// Exit status 2 when the check cannot run here (no /dev/kvm, one CPU, no
// glibc registration).
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile struct rseq *vcpu_rseq;
static volatile pid_t vcpu_tid;
static volatile int in_run;
static volatile long seen_during = -1;
static volatile int seen_in_run;
static struct rseq_cs desc __attribute__((aligned(32)));

static int pin(pid_t tid, int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  return sched_setaffinity(tid, sizeof s, &s);
}

static void *watcher(void *arg) {
  (void)arg;
  pin(0, 1);
  while (!in_run)
    sched_yield();
  usleep(100000);
  desc.version = 0;
  desc.flags = 0;
  desc.start_ip = 0x1000;
  desc.post_commit_offset = 0x10;
  desc.abort_ip = 0x2000;
  vcpu_rseq->rseq_cs = (uint64_t)(uintptr_t)&desc;
  __sync_synchronize();
  pin(vcpu_tid, 1);
  while (in_run) {
    uint32_t cpu = vcpu_rseq->cpu_id;
    if (cpu == 1) {
      seen_during = cpu;
      seen_in_run = in_run;
      break;
    }
    sched_yield();
  }
  return NULL;
}

int main(void) {
  if (__rseq_size == 0) {
    fprintf(stderr, "glibc did not register rseq\n");
    return 2;
  }
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || pin(0, 0)) {
    fprintf(stderr, "needs CPUs 0 and 1\n");
    return 2;
  }
  vcpu_rseq = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
  vcpu_tid = syscall(SYS_gettid);
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) {
    perror("/dev/kvm");
    return 2;
  }
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  uint8_t *mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  // Real mode at 0x1000: mov bx, 0x20; outer: mov cx, 0xffff;
  // inner: loop inner; dec bx; jnz outer; hlt
  static const uint8_t code[] = {0xbb, 0x20, 0x00, 0xb9, 0xff, 0xff,
                                 0xe2, 0xfe, 0x4b, 0x75, 0xf8, 0xf4};
  memcpy(mem + 0x1000, code, sizeof code);
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = 0x10000,
      .userspace_addr = (uintptr_t)mem};
  if (vm < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region)) {
    perror("KVM_CREATE_VM / KVM_SET_USER_MEMORY_REGION");
    return 2;
  }
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  struct kvm_sregs sregs;
  if (vcpu < 0 || run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs)) {
    perror("vCPU");
    return 2;
  }
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) || ioctl(vcpu, KVM_SET_REGS, &regs)) {
    perror("KVM_SET_SREGS / KVM_SET_REGS");
    return 2;
  }
  pthread_t w;
  pthread_create(&w, NULL, watcher, NULL);
  in_run = 1;
  ioctl(vcpu, KVM_RUN, 0);
  in_run = 0;
  pthread_join(w, NULL);
  printf("during=%ld in_run=%d after=%u rseq_cs_after=%s exit=%u\n", seen_during,
         seen_in_run, vcpu_rseq->cpu_id, vcpu_rseq->rseq_cs ? "set" : "clear",
         run->exit_reason);
  vcpu_rseq->rseq_cs = 0;
  return 0;
}
