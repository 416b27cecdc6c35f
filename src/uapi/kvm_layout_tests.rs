//! The `kvm_sev_*` structures libsev relies on, checked byte for byte against sev-spec §1.4.

use crate::uapi::*;
use std::mem::{offset_of, size_of};

#[test]
fn kvm_sev_structs_match_sev_spec_1_4() {
    assert_eq!(size_of::<kvm_sev_cmd>(), 24);
    assert_eq!(offset_of!(kvm_sev_cmd, id), 0);
    assert_eq!(offset_of!(kvm_sev_cmd, data), 8);
    assert_eq!(offset_of!(kvm_sev_cmd, error), 16);
    assert_eq!(offset_of!(kvm_sev_cmd, sev_fd), 20);

    assert_eq!(size_of::<kvm_sev_init>(), 48);
    assert_eq!(offset_of!(kvm_sev_init, vmsa_features), 0);
    assert_eq!(offset_of!(kvm_sev_init, flags), 8);
    assert_eq!(offset_of!(kvm_sev_init, ghcb_version), 12);
    assert_eq!(offset_of!(kvm_sev_init, pad1), 14);
    assert_eq!(offset_of!(kvm_sev_init, pad2), 16);

    assert_eq!(size_of::<kvm_sev_launch_start>(), 40);
    assert_eq!(offset_of!(kvm_sev_launch_start, handle), 0);
    assert_eq!(offset_of!(kvm_sev_launch_start, policy), 4);
    assert_eq!(offset_of!(kvm_sev_launch_start, dh_uaddr), 8);
    assert_eq!(offset_of!(kvm_sev_launch_start, dh_len), 16);
    assert_eq!(offset_of!(kvm_sev_launch_start, session_uaddr), 24);
    assert_eq!(offset_of!(kvm_sev_launch_start, session_len), 32);

    assert_eq!(size_of::<kvm_sev_launch_update_data>(), 16);
    assert_eq!(offset_of!(kvm_sev_launch_update_data, uaddr), 0);
    assert_eq!(offset_of!(kvm_sev_launch_update_data, len), 8);

    assert_eq!(size_of::<kvm_sev_launch_secret>(), 48);
    assert_eq!(offset_of!(kvm_sev_launch_secret, hdr_uaddr), 0);
    assert_eq!(offset_of!(kvm_sev_launch_secret, hdr_len), 8);
    assert_eq!(offset_of!(kvm_sev_launch_secret, guest_uaddr), 16);
    assert_eq!(offset_of!(kvm_sev_launch_secret, guest_len), 24);
    assert_eq!(offset_of!(kvm_sev_launch_secret, trans_uaddr), 32);
    assert_eq!(offset_of!(kvm_sev_launch_secret, trans_len), 40);

    assert_eq!(size_of::<kvm_sev_launch_measure>(), 16);
    assert_eq!(offset_of!(kvm_sev_launch_measure, uaddr), 0);
    assert_eq!(offset_of!(kvm_sev_launch_measure, len), 8);

    assert_eq!(size_of::<kvm_sev_guest_status>(), 12);
    assert_eq!(offset_of!(kvm_sev_guest_status, handle), 0);
    assert_eq!(offset_of!(kvm_sev_guest_status, policy), 4);
    assert_eq!(offset_of!(kvm_sev_guest_status, state), 8);
    assert_eq!(size_of::<u32>(), 4, "state is a u32 (sev-spec §8)");

    assert_eq!(size_of::<kvm_sev_dbg>(), 24);
    assert_eq!(offset_of!(kvm_sev_dbg, src_uaddr), 0);
    assert_eq!(offset_of!(kvm_sev_dbg, dst_uaddr), 8);
    assert_eq!(offset_of!(kvm_sev_dbg, len), 16);

    assert_eq!(size_of::<kvm_sev_attestation_report>(), 32);
    assert_eq!(offset_of!(kvm_sev_attestation_report, mnonce), 0);
    assert_eq!(offset_of!(kvm_sev_attestation_report, uaddr), 16);
    assert_eq!(offset_of!(kvm_sev_attestation_report, len), 24);

    assert_eq!(size_of::<kvm_sev_send_start>(), 72);
    assert_eq!(offset_of!(kvm_sev_send_start, policy), 0);
    assert_eq!(offset_of!(kvm_sev_send_start, pdh_cert_uaddr), 8);
    assert_eq!(offset_of!(kvm_sev_send_start, pdh_cert_len), 16);
    assert_eq!(offset_of!(kvm_sev_send_start, plat_certs_uaddr), 24);
    assert_eq!(offset_of!(kvm_sev_send_start, plat_certs_len), 32);
    assert_eq!(offset_of!(kvm_sev_send_start, amd_certs_uaddr), 40);
    assert_eq!(offset_of!(kvm_sev_send_start, amd_certs_len), 48);
    assert_eq!(offset_of!(kvm_sev_send_start, session_uaddr), 56);
    assert_eq!(offset_of!(kvm_sev_send_start, session_len), 64);

    for (size, hdr, hdr_len, guest, guest_len, trans, trans_len) in [
        (
            size_of::<kvm_sev_send_update_data>(),
            offset_of!(kvm_sev_send_update_data, hdr_uaddr),
            offset_of!(kvm_sev_send_update_data, hdr_len),
            offset_of!(kvm_sev_send_update_data, guest_uaddr),
            offset_of!(kvm_sev_send_update_data, guest_len),
            offset_of!(kvm_sev_send_update_data, trans_uaddr),
            offset_of!(kvm_sev_send_update_data, trans_len),
        ),
        (
            size_of::<kvm_sev_receive_update_data>(),
            offset_of!(kvm_sev_receive_update_data, hdr_uaddr),
            offset_of!(kvm_sev_receive_update_data, hdr_len),
            offset_of!(kvm_sev_receive_update_data, guest_uaddr),
            offset_of!(kvm_sev_receive_update_data, guest_len),
            offset_of!(kvm_sev_receive_update_data, trans_uaddr),
            offset_of!(kvm_sev_receive_update_data, trans_len),
        ),
    ] {
        assert_eq!(
            (size, hdr, hdr_len, guest, guest_len, trans, trans_len),
            (48, 0, 8, 16, 24, 32, 40)
        );
    }

    assert_eq!(size_of::<kvm_sev_receive_start>(), 40);
    assert_eq!(offset_of!(kvm_sev_receive_start, handle), 0);
    assert_eq!(offset_of!(kvm_sev_receive_start, policy), 4);
    assert_eq!(offset_of!(kvm_sev_receive_start, pdh_uaddr), 8);
    assert_eq!(offset_of!(kvm_sev_receive_start, pdh_len), 16);
    assert_eq!(offset_of!(kvm_sev_receive_start, session_uaddr), 24);
    assert_eq!(offset_of!(kvm_sev_receive_start, session_len), 32);

    assert_eq!(size_of::<kvm_enc_region>(), 16);
    assert_eq!(offset_of!(kvm_enc_region, addr), 0);
    assert_eq!(offset_of!(kvm_enc_region, size), 8);

    // The command ids of sev-spec §1.3.
    let ids = [
        (kvm_cmd::INIT, 0),
        (kvm_cmd::ES_INIT, 1),
        (kvm_cmd::LAUNCH_START, 2),
        (kvm_cmd::LAUNCH_UPDATE_DATA, 3),
        (kvm_cmd::LAUNCH_UPDATE_VMSA, 4),
        (kvm_cmd::LAUNCH_SECRET, 5),
        (kvm_cmd::LAUNCH_MEASURE, 6),
        (kvm_cmd::LAUNCH_FINISH, 7),
        (kvm_cmd::SEND_START, 8),
        (kvm_cmd::SEND_UPDATE_DATA, 9),
        (kvm_cmd::SEND_FINISH, 11),
        (kvm_cmd::RECEIVE_START, 12),
        (kvm_cmd::RECEIVE_UPDATE_DATA, 13),
        (kvm_cmd::RECEIVE_FINISH, 15),
        (kvm_cmd::GUEST_STATUS, 16),
        (kvm_cmd::DBG_DECRYPT, 17),
        (kvm_cmd::DBG_ENCRYPT, 18),
        (kvm_cmd::GET_ATTESTATION_REPORT, 20),
        (kvm_cmd::SEND_CANCEL, 21),
        (kvm_cmd::INIT2, 22),
    ];
    for (got, want) in ids {
        assert_eq!(got, want);
    }
}
