//! The SEV-ES C ABI against hostile arguments and the known answers.

use super::*;
use crate::owner::crypto::hex;
use std::ptr::{null, null_mut};

fn err0() -> libsev_error {
    // SAFETY: libsev_error is plain data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/testdata/snp/measurement/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn launch(img: &[u8]) -> libsev_es_launch {
    libsev_es_launch {
        ovmf: img.as_ptr(),
        ovmf_len: img.len(),
        direct_boot: 1,
        kernel: null(),
        kernel_len: 0,
        initrd: null(),
        initrd_len: 0,
        cmdline: null(),
        vcpus: 4,
        vcpu_signature: 0,
        cpu_model: c"EPYC-v4".as_ptr(),
        vmm: LIBSEV_VMM_QEMU,
        init: LIBSEV_ES_PROFILE_INIT2,
        sev_features: 0,
    }
}

#[test]
fn digest_known_answer_through_the_c_abi() {
    let img = fixture("ovmf_AmdSev_suffix.bin");
    let l = launch(&img);
    let mut d = [0u8; 32];
    let mut e = err0();
    // SAFETY: valid struct and buffers.
    let st = unsafe { libsev_es_launch_digest(&l, d.as_mut_ptr(), &mut e) };
    assert_eq!(st, libsev_status::LIBSEV_STATUS_OK);
    // snp-spec §6.3: SEV-ES, 4 vCPUs, kernel = /dev/null, INIT2.
    assert_eq!(
        hex(&d),
        "0dccbcaba8e90b261bd0d2e1863a2f9da714768b7b2a19363cd6ae35aa90de91"
    );
}

#[test]
fn hostile_arguments_write_nothing() {
    let img = fixture("ovmf_AmdSev_suffix.bin");
    let mut d = [0xEEu8; 32];
    let mut e = err0();
    let call = |l: &libsev_es_launch, d: &mut [u8; 32], e: &mut libsev_error| {
        // SAFETY: the pointers inside `l` are valid or NULL with length 0 (tested refusals).
        unsafe { libsev_es_launch_digest(l, d.as_mut_ptr(), e) }
    };
    // SAFETY: NULL launch and NULL output are refused before any access.
    unsafe {
        assert_eq!(
            libsev_es_launch_digest(null(), d.as_mut_ptr(), &mut e),
            libsev_status::LIBSEV_STATUS_NULL_ARGUMENT
        );
        let l = launch(&img);
        assert_eq!(
            libsev_es_launch_digest(&l, null_mut(), &mut e),
            libsev_status::LIBSEV_STATUS_NULL_ARGUMENT
        );
    }
    let bad = [
        libsev_es_launch {
            vmm: 7,
            ..launch(&img)
        },
        libsev_es_launch {
            init: 9,
            ..launch(&img)
        },
        libsev_es_launch {
            vcpus: 0,
            ..launch(&img)
        },
        libsev_es_launch {
            cpu_model: c"Pentium".as_ptr(),
            ..launch(&img)
        },
        libsev_es_launch {
            cpu_model: null(),
            ..launch(&img)
        },
    ];
    for l in &bad {
        assert_eq!(
            call(l, &mut d, &mut e),
            libsev_status::LIBSEV_STATUS_INVALID_ARGUMENT
        );
    }
    let nulls = libsev_es_launch {
        ovmf: null(),
        ..launch(&img)
    };
    assert_eq!(
        call(&nulls, &mut d, &mut e),
        libsev_status::LIBSEV_STATUS_NULL_ARGUMENT
    );
    let nokernel = libsev_es_launch {
        kernel_len: 5,
        ..launch(&img)
    };
    assert_eq!(
        call(&nokernel, &mut d, &mut e),
        libsev_status::LIBSEV_STATUS_NULL_ARGUMENT
    );
    let junk = [0u8; 4096];
    let l = libsev_es_launch {
        ovmf: junk.as_ptr(),
        ovmf_len: junk.len(),
        ..launch(&img)
    };
    assert_eq!(
        call(&l, &mut d, &mut e),
        libsev_status::LIBSEV_STATUS_BAD_FIRMWARE_IMAGE
    );
    assert_eq!(d, [0xEE; 32], "nothing written on failure");
    // EC2/GCE need no CPU model.
    let l = libsev_es_launch {
        cpu_model: null(),
        vmm: LIBSEV_VMM_GCE,
        ..launch(&img)
    };
    assert_eq!(call(&l, &mut d, &mut e), libsev_status::LIBSEV_STATUS_OK);
}

#[test]
fn ovmf_tables_and_the_hash_table_two_call_rule() {
    let img = fixture("ovmf_AmdSev_suffix.bin");
    let mut e = err0();
    let mut info = libsev_ovmf_info::default();
    let mut n = 0usize;
    let mut secs = [libsev_ovmf_section::default(); 7];
    let mut table = [0u8; 176];
    let mut gpa = 0u64;
    // SAFETY: valid buffers with the given lengths.
    unsafe {
        assert_eq!(
            libsev_ovmf_info_get(img.as_ptr(), img.len(), &mut info, &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(
            (
                info.sev_es_reset_addr,
                info.hash_table_base,
                info.metadata_sections
            ),
            (0x80B004, 0x810C00, 7)
        );
        assert_eq!(
            libsev_ovmf_metadata(img.as_ptr(), img.len(), null_mut(), 0, &mut n, &mut e),
            libsev_status::LIBSEV_STATUS_BUFFER_TOO_SMALL
        );
        assert_eq!(n, 7);
        assert_eq!(
            libsev_ovmf_metadata(
                img.as_ptr(),
                img.len(),
                secs.as_mut_ptr(),
                7,
                &mut n,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!((secs[5].gpa, secs[5].kind), (0x810000, 0x10));
        assert_eq!(
            libsev_es_hash_table(
                img.as_ptr(),
                img.len(),
                null(),
                0,
                null(),
                0,
                null(),
                table.as_mut_ptr(),
                175,
                &mut n,
                &mut gpa,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_BUFFER_TOO_SMALL
        );
        assert_eq!((n, gpa, table), (176, 0, [0u8; 176]));
        assert_eq!(
            libsev_es_hash_table(
                img.as_ptr(),
                img.len(),
                null(),
                0,
                null(),
                0,
                null(),
                table.as_mut_ptr(),
                176,
                &mut n,
                &mut gpa,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(gpa, 0x810C00);
        assert_eq!(
            table,
            crate::owner::es::padded_table(&crate::owner::es::DirectBoot::default())
        );
        // The X64 fixture has no hash-table area.
        let x64 = fixture("ovmf_OvmfX64_suffix.bin");
        assert_eq!(
            libsev_es_hash_table(
                x64.as_ptr(),
                x64.len(),
                null(),
                0,
                null(),
                0,
                null(),
                table.as_mut_ptr(),
                176,
                &mut n,
                &mut gpa,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_BAD_FIRMWARE_IMAGE
        );
        let mut sig = 0u32;
        assert_eq!(
            libsev_cpu_model_signature(c"EPYC-Genoa".as_ptr(), &mut sig, &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(sig, 0x00A1_0F10);
        assert_eq!(
            libsev_cpu_model_signature(null(), &mut sig, &mut e),
            libsev_status::LIBSEV_STATUS_NULL_ARGUMENT
        );
        assert_eq!(
            libsev_vcpu_set_reset_state(-1, LIBSEV_VMM_QEMU, sig, 0, 0, &mut e),
            libsev_status::LIBSEV_STATUS_BAD_FD
        );
        assert_eq!(
            libsev_vcpu_set_reset_state(0, 5, sig, 0, 0, &mut e),
            libsev_status::LIBSEV_STATUS_INVALID_ARGUMENT
        );
    }
}
