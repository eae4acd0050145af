//! Golden traces: one short scenario per allocator, each showing the mechanism a lesson
//! teaches, rendered as canonical lines and compared byte for byte with
//! `tests/golden/<name>.trace`. Regenerate with `MEMPLAY_BLESS=1 cargo test --test golden`
//! and review the diff: a changed golden file is a changed trace format or behaviour.
//!
//! The scenarios themselves are in `memplay_engine::scenarios`, shared with the board
//! firmware (`board/`), which prints the same traces under QEMU for `cargo xtask board`.

mod common;

use common::assert_golden;
use memplay_engine::scenarios::{Scenario, RAM_BYTES};
use memplay_engine::trace::TextSink;

/// Runs `scenario` on a fresh machine and compares its numbered trace with the golden file.
fn golden(scenario: Scenario) {
    let mut sink = TextSink::new(String::new());
    if let Err(e) = scenario.run(vec![0u8; RAM_BYTES], &mut sink) {
        panic!(
            "scenario {} stopped: {e}\ntrace so far:\n{}",
            scenario.name(),
            sink.out
        );
    }
    assert!(!sink.overflowed);
    assert_golden(scenario.name(), &sink.out);
}

#[test]
fn sysmem_boot_carves_internal_first_and_never_frees() {
    golden(Scenario::SysmemBoot);
}

#[test]
fn partition_pool_free_list_magic_and_bad_frees() {
    golden(Scenario::PartitionMembox);
}

#[test]
fn ctrl_buffer_takes_the_smallest_class_and_falls_through() {
    golden(Scenario::CtrlBufferFallback);
}

#[test]
fn dynmem_best_fit_split_and_coalesce() {
    golden(Scenario::DynmemSplitCoalesce);
}

#[test]
fn tlsf_classes_split_merge_and_realloc() {
    golden(Scenario::TlsfSplitMerge);
}

#[test]
fn policy_lab_one_workload_four_fits() {
    golden(Scenario::PolicyLabFourFits);
}
