//! The C check constants are the owner side's check bits, in order.
use super::*;

#[test]
fn check_constants_are_the_check_bits() {
    let c = [
        LIBSEV_SNP_CHECK_SIGNATURE,
        LIBSEV_SNP_CHECK_SIGNATURE_ALGO,
        LIBSEV_SNP_CHECK_SIGNING_KEY,
        LIBSEV_SNP_CHECK_GENERATION,
        LIBSEV_SNP_CHECK_CHIP_ID,
        LIBSEV_SNP_CHECK_REPORTED_TCB,
        LIBSEV_SNP_CHECK_CURRENT_TCB,
        LIBSEV_SNP_CHECK_COMMITTED_TCB,
        LIBSEV_SNP_CHECK_LAUNCH_TCB,
        LIBSEV_SNP_CHECK_MINIMUM_TCB,
        LIBSEV_SNP_CHECK_MEASUREMENT,
        LIBSEV_SNP_CHECK_HOST_DATA,
        LIBSEV_SNP_CHECK_ID_KEY_DIGEST,
        LIBSEV_SNP_CHECK_AUTHOR_KEY_DIGEST,
        LIBSEV_SNP_CHECK_FAMILY_ID,
        LIBSEV_SNP_CHECK_IMAGE_ID,
        LIBSEV_SNP_CHECK_GUEST_SVN,
        LIBSEV_SNP_CHECK_POLICY,
        LIBSEV_SNP_CHECK_VMPL,
        LIBSEV_SNP_CHECK_REPORT_DATA,
        LIBSEV_SNP_CHECK_PLATFORM_INFO,
        LIBSEV_SNP_CHECK_REPORT_ID,
        LIBSEV_SNP_CHECK_REPORT_ID_MA,
        LIBSEV_SNP_CHECK_FIRMWARE_VERSION,
    ];
    assert_eq!(c.len(), Check::ALL.len());
    for (k, chk) in c.iter().zip(Check::ALL) {
        assert_eq!(*k, chk as u64, "{}", chk.name());
    }
}
