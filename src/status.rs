//! Status codes: libsev's own (`libsev_status`) and the firmware's.
//!
//! Every libsev status has a fixed number that is never reused. The numbers are grouped in
//! families so a caller can tell the kind of failure from the range alone:
//!
//! | range | family |
//! | --- | --- |
//! | 0 | success |
//! | 1–99 | bad argument from the caller |
//! | 100–199 | wrong state of a libsev object |
//! | 200–299 | the operating system or kernel refused (see `os_errno`) |
//! | 1000–1255 | the firmware (or its model) failed: 1000 + firmware status (see `fw_error`) |
//! | 2000–2099 | cryptographic verification failed |
//! | 3000–3099 | the built-in firmware model (configuration, state directory) |
//! | 9000–9099 | libsev itself (caught panic, internal error) |

/// A libsev status: `0` is success, every other value is a failure. Functions return it as
/// `uint32_t`. The number alone tells the family of the failure:
///
/// * 1–99: a bad argument from the caller;
/// * 100–199: a libsev object is in the wrong state;
/// * 200–299: the operating system or kernel refused (`libsev_error.os_errno` says why);
/// * 1000–1255: the firmware (or its model) failed: 1000 + the firmware status, which is also
///   in `libsev_error.fw_error`;
/// * 2000–2099: cryptographic verification failed (certificates, chains, measurements);
/// * 3000–3099: the built-in firmware model (configuration, state directory);
/// * 9000–9099: libsev itself (a caught panic: a bug, please report it).
///
/// Numbers are never reused. `libsev_status_str()` gives a static description of each.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum libsev_status {
    /// Success.
    LIBSEV_STATUS_OK = 0,

    /// A required pointer argument was NULL.
    LIBSEV_STATUS_NULL_ARGUMENT = 1,
    /// An argument has a value outside its documented domain.
    LIBSEV_STATUS_INVALID_ARGUMENT = 2,
    /// The caller's buffer is NULL or too small; the needed size was written to `*out_len`.
    LIBSEV_STATUS_BUFFER_TOO_SMALL = 3,
    /// A length is wrong for the command (zero, not the fixed size, too large).
    LIBSEV_STATUS_INVALID_LENGTH = 4,
    /// An address or length is not aligned as the command requires (16 bytes for data paths).
    LIBSEV_STATUS_UNALIGNED = 5,
    /// A string argument is not valid UTF-8 or contains an interior NUL.
    LIBSEV_STATUS_INVALID_STRING = 6,
    /// A handle of the wrong kind or for another platform was passed.
    LIBSEV_STATUS_WRONG_HANDLE = 7,

    /// The object is not in a state that allows the call.
    LIBSEV_STATUS_INVALID_STATE = 100,
    /// The guest has not been initialised for SEV (call `libsev_guest_init` first).
    LIBSEV_STATUS_NOT_INITIALIZED = 101,
    /// The guest was already initialised for SEV.
    LIBSEV_STATUS_ALREADY_INITIALIZED = 102,

    /// The kernel refused the request; `os_errno` says why.
    LIBSEV_STATUS_OS_ERROR = 200,
    /// KVM on this host has no SEV support (`ENOTTY` from `KVM_MEMORY_ENCRYPT_OP`).
    LIBSEV_STATUS_NO_SEV_SUPPORT = 201,
    /// A device (`/dev/kvm`, `/dev/sev`) is missing.
    LIBSEV_STATUS_NO_DEVICE = 202,
    /// Permission denied opening or using a device (`EACCES`/`EPERM`).
    LIBSEV_STATUS_PERMISSION_DENIED = 203,
    /// The kernel rejected the arguments before the firmware ran (`EINVAL`, firmware status 0).
    LIBSEV_STATUS_KERNEL_REJECTED = 204,
    /// Out of memory, or the memory lock limit was reached (`ENOMEM`).
    LIBSEV_STATUS_OUT_OF_MEMORY = 205,
    /// The firmware or the kernel is busy or timed out (`EBUSY`, `ETIMEDOUT`).
    LIBSEV_STATUS_BUSY = 206,
    /// A file descriptor is not valid for the operation (`EBADF`).
    LIBSEV_STATUS_BAD_FD = 207,

    /// Firmware: the platform state does not allow the command.
    LIBSEV_STATUS_FW_INVALID_PLATFORM_STATE = 1001,
    /// Firmware: the guest state does not allow the command.
    LIBSEV_STATUS_FW_INVALID_GUEST_STATE = 1002,
    /// Firmware: invalid platform configuration.
    LIBSEV_STATUS_FW_INVALID_CONFIG = 1003,
    /// Firmware: a length is wrong or a buffer too small.
    LIBSEV_STATUS_FW_INVALID_LENGTH = 1004,
    /// Firmware: the platform is already owned.
    LIBSEV_STATUS_FW_ALREADY_OWNED = 1005,
    /// Firmware: a certificate is malformed or has the wrong usage, algorithm or signer.
    LIBSEV_STATUS_FW_INVALID_CERTIFICATE = 1006,
    /// Firmware: the guest policy forbids the operation.
    LIBSEV_STATUS_FW_POLICY_FAILURE = 1007,
    /// Firmware: the guest is not active (no ASID).
    LIBSEV_STATUS_FW_INACTIVE = 1008,
    /// Firmware: an address is invalid or misaligned.
    LIBSEV_STATUS_FW_INVALID_ADDRESS = 1009,
    /// Firmware: a signature did not verify.
    LIBSEV_STATUS_FW_BAD_SIGNATURE = 1010,
    /// Firmware: a MAC did not verify (session, policy, secret or migration packet).
    LIBSEV_STATUS_FW_BAD_MEASUREMENT = 1011,
    /// Firmware: the ASID is owned by another guest.
    LIBSEV_STATUS_FW_ASID_OWNED = 1012,
    /// Firmware: the ASID is invalid.
    LIBSEV_STATUS_FW_INVALID_ASID = 1013,
    /// Firmware: WBINVD is required first.
    LIBSEV_STATUS_FW_WBINVD_REQUIRED = 1014,
    /// Firmware: DF_FLUSH is required first.
    LIBSEV_STATUS_FW_DF_FLUSH_REQUIRED = 1015,
    /// Firmware: the guest handle is invalid.
    LIBSEV_STATUS_FW_INVALID_GUEST = 1016,
    /// Firmware: the command is unknown.
    LIBSEV_STATUS_FW_INVALID_COMMAND = 1017,
    /// Firmware: the guest is active.
    LIBSEV_STATUS_FW_ACTIVE = 1018,
    /// Firmware: a platform hardware check failed.
    LIBSEV_STATUS_FW_HWERROR_PLATFORM = 1019,
    /// Firmware: unsafe hardware state.
    LIBSEV_STATUS_FW_HWERROR_UNSAFE = 1020,
    /// Firmware: the feature is not supported.
    LIBSEV_STATUS_FW_UNSUPPORTED = 1021,
    /// Firmware: a parameter is invalid.
    LIBSEV_STATUS_FW_INVALID_PARAM = 1022,
    /// Firmware: a resource (guest slots, ASIDs) is exhausted.
    LIBSEV_STATUS_FW_RESOURCE_LIMIT = 1023,
    /// Firmware: persistent data failed its integrity check.
    LIBSEV_STATUS_FW_SECURE_DATA_INVALID = 1024,
    /// Firmware: SNP: the page size does not match the RMP entry.
    LIBSEV_STATUS_FW_INVALID_PAGE_SIZE = 1025,
    /// Firmware: SNP: the page is not in the RMP state the command needs.
    LIBSEV_STATUS_FW_INVALID_PAGE_STATE = 1026,
    /// Firmware: SNP: invalid metadata entry.
    LIBSEV_STATUS_FW_INVALID_MDATA_ENTRY = 1027,
    /// Firmware: SNP: the page belongs to another guest (ASID).
    LIBSEV_STATUS_FW_INVALID_PAGE_OWNER = 1028,
    /// Firmware: SNP: guest message sequence number wrong or exhausted.
    LIBSEV_STATUS_FW_AEAD_OFLOW = 1029,
    /// Firmware: SNP: RMP initialisation required.
    LIBSEV_STATUS_FW_RMP_INIT_REQUIRED = 1032,
    /// Firmware: SNP: bad security version (TCB).
    LIBSEV_STATUS_FW_BAD_SVN = 1033,
    /// Firmware: SNP: bad version.
    LIBSEV_STATUS_FW_BAD_VERSION = 1034,
    /// Firmware: SNP: shutdown required.
    LIBSEV_STATUS_FW_SHUTDOWN_REQUIRED = 1035,
    /// Firmware: SNP: firmware update failed.
    LIBSEV_STATUS_FW_UPDATE_FAILED = 1036,
    /// Firmware: SNP: restore required.
    LIBSEV_STATUS_FW_RESTORE_REQUIRED = 1037,
    /// Firmware: SNP: RMP initialisation failed.
    LIBSEV_STATUS_FW_RMP_INITIALIZATION_FAILED = 1038,
    /// Firmware: SNP: the requested key is not available.
    LIBSEV_STATUS_FW_INVALID_KEY = 1039,
    /// Firmware: another status; the raw value is in `fw_error`.
    LIBSEV_STATUS_FW_OTHER = 1255,

    /// A certificate is malformed (size, version, usage, algorithm, key).
    LIBSEV_STATUS_BAD_CERTIFICATE = 2000,
    /// A certificate signature did not verify.
    LIBSEV_STATUS_BAD_SIGNATURE = 2001,
    /// The certificate chain does not chain up (wrong signer, missing link).
    LIBSEV_STATUS_CHAIN_BROKEN = 2002,
    /// The chain's root is not a known AMD root.
    LIBSEV_STATUS_UNKNOWN_ROOT = 2003,
    /// The chain ends at the built-in model's test-only root, which the caller did not allow.
    LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED = 2004,
    /// The launch measurement does not match the expected value.
    LIBSEV_STATUS_MEASUREMENT_MISMATCH = 2005,
    /// A cryptographic operation failed (bad key, point not on curve).
    LIBSEV_STATUS_CRYPTO_ERROR = 2006,
    /// Serialized owner or model state is malformed.
    LIBSEV_STATUS_BAD_STATE_BLOB = 2007,
    /// A firmware image lacks what the launch needs (OVMF footer table, SEV-ES reset block,
    /// hash-table area for measured direct boot, SEV metadata).
    LIBSEV_STATUS_BAD_FIRMWARE_IMAGE = 2008,
    /// The bytes are not an SEV-SNP attestation report (length, version, reserved bytes).
    LIBSEV_STATUS_BAD_REPORT = 2020,
    /// An SEV-SNP report failed one or more checks (the verdict names each).
    LIBSEV_STATUS_REPORT_CHECK_FAILED = 2021,

    /// The firmware model configuration is invalid (`LIBSEV_PLATFORM`, seed, limits).
    LIBSEV_STATUS_MODEL_CONFIG = 3000,
    /// The firmware model's state directory could not be read or written.
    LIBSEV_STATUS_MODEL_STATE_IO = 3001,
    /// The firmware model's state directory holds damaged data.
    LIBSEV_STATUS_MODEL_STATE_CORRUPT = 3002,

    /// libsev caught a panic at the C boundary; this is a bug in libsev.
    LIBSEV_STATUS_INTERNAL = 9000,
}

pub use libsev_status as Status;

impl libsev_status {
    /// All statuses, in numeric order.
    pub const ALL: &'static [libsev_status] = &[
        Self::LIBSEV_STATUS_OK,
        Self::LIBSEV_STATUS_NULL_ARGUMENT,
        Self::LIBSEV_STATUS_INVALID_ARGUMENT,
        Self::LIBSEV_STATUS_BUFFER_TOO_SMALL,
        Self::LIBSEV_STATUS_INVALID_LENGTH,
        Self::LIBSEV_STATUS_UNALIGNED,
        Self::LIBSEV_STATUS_INVALID_STRING,
        Self::LIBSEV_STATUS_WRONG_HANDLE,
        Self::LIBSEV_STATUS_INVALID_STATE,
        Self::LIBSEV_STATUS_NOT_INITIALIZED,
        Self::LIBSEV_STATUS_ALREADY_INITIALIZED,
        Self::LIBSEV_STATUS_OS_ERROR,
        Self::LIBSEV_STATUS_NO_SEV_SUPPORT,
        Self::LIBSEV_STATUS_NO_DEVICE,
        Self::LIBSEV_STATUS_PERMISSION_DENIED,
        Self::LIBSEV_STATUS_KERNEL_REJECTED,
        Self::LIBSEV_STATUS_OUT_OF_MEMORY,
        Self::LIBSEV_STATUS_BUSY,
        Self::LIBSEV_STATUS_BAD_FD,
        Self::LIBSEV_STATUS_FW_INVALID_PLATFORM_STATE,
        Self::LIBSEV_STATUS_FW_INVALID_GUEST_STATE,
        Self::LIBSEV_STATUS_FW_INVALID_CONFIG,
        Self::LIBSEV_STATUS_FW_INVALID_LENGTH,
        Self::LIBSEV_STATUS_FW_ALREADY_OWNED,
        Self::LIBSEV_STATUS_FW_INVALID_CERTIFICATE,
        Self::LIBSEV_STATUS_FW_POLICY_FAILURE,
        Self::LIBSEV_STATUS_FW_INACTIVE,
        Self::LIBSEV_STATUS_FW_INVALID_ADDRESS,
        Self::LIBSEV_STATUS_FW_BAD_SIGNATURE,
        Self::LIBSEV_STATUS_FW_BAD_MEASUREMENT,
        Self::LIBSEV_STATUS_FW_ASID_OWNED,
        Self::LIBSEV_STATUS_FW_INVALID_ASID,
        Self::LIBSEV_STATUS_FW_WBINVD_REQUIRED,
        Self::LIBSEV_STATUS_FW_DF_FLUSH_REQUIRED,
        Self::LIBSEV_STATUS_FW_INVALID_GUEST,
        Self::LIBSEV_STATUS_FW_INVALID_COMMAND,
        Self::LIBSEV_STATUS_FW_ACTIVE,
        Self::LIBSEV_STATUS_FW_HWERROR_PLATFORM,
        Self::LIBSEV_STATUS_FW_HWERROR_UNSAFE,
        Self::LIBSEV_STATUS_FW_UNSUPPORTED,
        Self::LIBSEV_STATUS_FW_INVALID_PARAM,
        Self::LIBSEV_STATUS_FW_RESOURCE_LIMIT,
        Self::LIBSEV_STATUS_FW_SECURE_DATA_INVALID,
        Self::LIBSEV_STATUS_FW_INVALID_PAGE_SIZE,
        Self::LIBSEV_STATUS_FW_INVALID_PAGE_STATE,
        Self::LIBSEV_STATUS_FW_INVALID_MDATA_ENTRY,
        Self::LIBSEV_STATUS_FW_INVALID_PAGE_OWNER,
        Self::LIBSEV_STATUS_FW_AEAD_OFLOW,
        Self::LIBSEV_STATUS_FW_RMP_INIT_REQUIRED,
        Self::LIBSEV_STATUS_FW_BAD_SVN,
        Self::LIBSEV_STATUS_FW_BAD_VERSION,
        Self::LIBSEV_STATUS_FW_SHUTDOWN_REQUIRED,
        Self::LIBSEV_STATUS_FW_UPDATE_FAILED,
        Self::LIBSEV_STATUS_FW_RESTORE_REQUIRED,
        Self::LIBSEV_STATUS_FW_RMP_INITIALIZATION_FAILED,
        Self::LIBSEV_STATUS_FW_INVALID_KEY,
        Self::LIBSEV_STATUS_FW_OTHER,
        Self::LIBSEV_STATUS_BAD_CERTIFICATE,
        Self::LIBSEV_STATUS_BAD_SIGNATURE,
        Self::LIBSEV_STATUS_CHAIN_BROKEN,
        Self::LIBSEV_STATUS_UNKNOWN_ROOT,
        Self::LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED,
        Self::LIBSEV_STATUS_MEASUREMENT_MISMATCH,
        Self::LIBSEV_STATUS_CRYPTO_ERROR,
        Self::LIBSEV_STATUS_BAD_STATE_BLOB,
        Self::LIBSEV_STATUS_BAD_FIRMWARE_IMAGE,
        Self::LIBSEV_STATUS_BAD_REPORT,
        Self::LIBSEV_STATUS_REPORT_CHECK_FAILED,
        Self::LIBSEV_STATUS_MODEL_CONFIG,
        Self::LIBSEV_STATUS_MODEL_STATE_IO,
        Self::LIBSEV_STATUS_MODEL_STATE_CORRUPT,
        Self::LIBSEV_STATUS_INTERNAL,
    ];

    /// The status for a raw numeric value, if it is one of libsev's.
    pub fn from_u32(v: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| *s as u32 == v)
    }

    /// The libsev status that stands for a firmware status.
    pub fn from_fw(fw: u32) -> Self {
        match fw {
            0 => Self::LIBSEV_STATUS_OK,
            1..=0x27 => Self::from_u32(1000 + fw).unwrap_or(Self::LIBSEV_STATUS_FW_OTHER),
            _ => Self::LIBSEV_STATUS_FW_OTHER,
        }
    }

    /// A static, human-readable description.
    pub fn as_str(self) -> &'static str {
        use libsev_status::*;
        match self {
            LIBSEV_STATUS_OK => "success",
            LIBSEV_STATUS_NULL_ARGUMENT => "a required pointer argument is NULL",
            LIBSEV_STATUS_INVALID_ARGUMENT => "invalid argument",
            LIBSEV_STATUS_BUFFER_TOO_SMALL => {
                "buffer too small (the needed size was written to out_len)"
            }
            LIBSEV_STATUS_INVALID_LENGTH => "invalid length",
            LIBSEV_STATUS_UNALIGNED => "address or length not aligned as the command requires",
            LIBSEV_STATUS_INVALID_STRING => "string argument is not valid UTF-8",
            LIBSEV_STATUS_WRONG_HANDLE => "handle of the wrong kind or for another platform",
            LIBSEV_STATUS_INVALID_STATE => "object is in the wrong state for this call",
            LIBSEV_STATUS_NOT_INITIALIZED => "guest is not initialised for SEV",
            LIBSEV_STATUS_ALREADY_INITIALIZED => "guest is already initialised for SEV",
            LIBSEV_STATUS_OS_ERROR => "the operating system refused the request (see os_errno)",
            LIBSEV_STATUS_NO_SEV_SUPPORT => "KVM on this host has no SEV support",
            LIBSEV_STATUS_NO_DEVICE => "device not present",
            LIBSEV_STATUS_PERMISSION_DENIED => "permission denied",
            LIBSEV_STATUS_KERNEL_REJECTED => {
                "the kernel rejected the arguments before the firmware ran"
            }
            LIBSEV_STATUS_OUT_OF_MEMORY => "out of memory or memory-lock limit reached",
            LIBSEV_STATUS_BUSY => "firmware or kernel busy or timed out",
            LIBSEV_STATUS_BAD_FD => "file descriptor not valid for this operation",
            LIBSEV_STATUS_FW_INVALID_PLATFORM_STATE => "firmware: invalid platform state",
            LIBSEV_STATUS_FW_INVALID_GUEST_STATE => "firmware: invalid guest state",
            LIBSEV_STATUS_FW_INVALID_CONFIG => "firmware: invalid configuration",
            LIBSEV_STATUS_FW_INVALID_LENGTH => "firmware: invalid length",
            LIBSEV_STATUS_FW_ALREADY_OWNED => "firmware: platform already owned",
            LIBSEV_STATUS_FW_INVALID_CERTIFICATE => "firmware: invalid certificate",
            LIBSEV_STATUS_FW_POLICY_FAILURE => "firmware: guest policy forbids the operation",
            LIBSEV_STATUS_FW_INACTIVE => "firmware: guest is inactive",
            LIBSEV_STATUS_FW_INVALID_ADDRESS => "firmware: invalid or misaligned address",
            LIBSEV_STATUS_FW_BAD_SIGNATURE => "firmware: bad signature",
            LIBSEV_STATUS_FW_BAD_MEASUREMENT => "firmware: MAC check failed (bad measurement)",
            LIBSEV_STATUS_FW_ASID_OWNED => "firmware: ASID owned by another guest",
            LIBSEV_STATUS_FW_INVALID_ASID => "firmware: invalid ASID",
            LIBSEV_STATUS_FW_WBINVD_REQUIRED => "firmware: WBINVD required",
            LIBSEV_STATUS_FW_DF_FLUSH_REQUIRED => "firmware: DF_FLUSH required",
            LIBSEV_STATUS_FW_INVALID_GUEST => "firmware: invalid guest handle",
            LIBSEV_STATUS_FW_INVALID_COMMAND => "firmware: invalid command",
            LIBSEV_STATUS_FW_ACTIVE => "firmware: guest is active",
            LIBSEV_STATUS_FW_HWERROR_PLATFORM => "firmware: platform hardware error",
            LIBSEV_STATUS_FW_HWERROR_UNSAFE => "firmware: unsafe hardware state",
            LIBSEV_STATUS_FW_UNSUPPORTED => "firmware: feature not supported",
            LIBSEV_STATUS_FW_INVALID_PARAM => "firmware: invalid parameter",
            LIBSEV_STATUS_FW_RESOURCE_LIMIT => "firmware: resource limit reached",
            LIBSEV_STATUS_FW_SECURE_DATA_INVALID => "firmware: secure data invalid",
            LIBSEV_STATUS_FW_INVALID_PAGE_SIZE => {
                "firmware: SNP: the page size does not match the RMP entry"
            }
            LIBSEV_STATUS_FW_INVALID_PAGE_STATE => {
                "firmware: SNP: the page is not in the RMP state the command needs"
            }
            LIBSEV_STATUS_FW_INVALID_MDATA_ENTRY => "firmware: SNP: invalid metadata entry",
            LIBSEV_STATUS_FW_INVALID_PAGE_OWNER => {
                "firmware: SNP: the page belongs to another guest (ASID)"
            }
            LIBSEV_STATUS_FW_AEAD_OFLOW => {
                "firmware: SNP: guest message sequence number wrong or exhausted"
            }
            LIBSEV_STATUS_FW_RMP_INIT_REQUIRED => "firmware: SNP: RMP initialisation required",
            LIBSEV_STATUS_FW_BAD_SVN => "firmware: SNP: bad security version (TCB)",
            LIBSEV_STATUS_FW_BAD_VERSION => "firmware: SNP: bad version",
            LIBSEV_STATUS_FW_SHUTDOWN_REQUIRED => "firmware: SNP: shutdown required",
            LIBSEV_STATUS_FW_UPDATE_FAILED => "firmware: SNP: firmware update failed",
            LIBSEV_STATUS_FW_RESTORE_REQUIRED => "firmware: SNP: restore required",
            LIBSEV_STATUS_FW_RMP_INITIALIZATION_FAILED => {
                "firmware: SNP: RMP initialisation failed"
            }
            LIBSEV_STATUS_FW_INVALID_KEY => "firmware: SNP: the requested key is not available",
            LIBSEV_STATUS_FW_OTHER => "firmware: other error (see fw_error)",
            LIBSEV_STATUS_BAD_CERTIFICATE => "malformed certificate",
            LIBSEV_STATUS_BAD_SIGNATURE => "certificate signature does not verify",
            LIBSEV_STATUS_CHAIN_BROKEN => "certificate chain is broken",
            LIBSEV_STATUS_UNKNOWN_ROOT => "chain does not end at a known AMD root",
            LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED => {
                "chain ends at the firmware model's test-only root, which was not allowed"
            }
            LIBSEV_STATUS_MEASUREMENT_MISMATCH => "launch measurement does not match",
            LIBSEV_STATUS_CRYPTO_ERROR => "cryptographic operation failed",
            LIBSEV_STATUS_BAD_STATE_BLOB => "serialized state is malformed",
            LIBSEV_STATUS_BAD_FIRMWARE_IMAGE => {
                "firmware image lacks the tables the launch needs (not a suitable OVMF build)"
            }
            LIBSEV_STATUS_BAD_REPORT => "not an SEV-SNP attestation report",
            LIBSEV_STATUS_REPORT_CHECK_FAILED => "the SEV-SNP report failed one or more checks",
            LIBSEV_STATUS_MODEL_CONFIG => "firmware model: invalid configuration",
            LIBSEV_STATUS_MODEL_STATE_IO => "firmware model: state directory I/O failed",
            LIBSEV_STATUS_MODEL_STATE_CORRUPT => "firmware model: state directory is damaged",
            LIBSEV_STATUS_INTERNAL => "internal error in libsev (a bug: please report it)",
        }
    }
}

/// Firmware status codes (`sev-spec` §2.2), as `kvm_sev_cmd.error` and `sev_issue_cmd.error`
/// carry them.
pub mod fw {
    pub const SUCCESS: u32 = 0x00;
    pub const INVALID_PLATFORM_STATE: u32 = 0x01;
    pub const INVALID_GUEST_STATE: u32 = 0x02;
    pub const INVALID_CONFIG: u32 = 0x03;
    pub const INVALID_LENGTH: u32 = 0x04;
    pub const ALREADY_OWNED: u32 = 0x05;
    pub const INVALID_CERTIFICATE: u32 = 0x06;
    pub const POLICY_FAILURE: u32 = 0x07;
    pub const INACTIVE: u32 = 0x08;
    pub const INVALID_ADDRESS: u32 = 0x09;
    pub const BAD_SIGNATURE: u32 = 0x0A;
    pub const BAD_MEASUREMENT: u32 = 0x0B;
    pub const ASID_OWNED: u32 = 0x0C;
    pub const INVALID_ASID: u32 = 0x0D;
    pub const WBINVD_REQUIRED: u32 = 0x0E;
    pub const DF_FLUSH_REQUIRED: u32 = 0x0F;
    pub const INVALID_GUEST: u32 = 0x10;
    pub const INVALID_COMMAND: u32 = 0x11;
    pub const ACTIVE: u32 = 0x12;
    pub const HWERROR_PLATFORM: u32 = 0x13;
    pub const HWERROR_UNSAFE: u32 = 0x14;
    pub const UNSUPPORTED: u32 = 0x15;
    pub const INVALID_PARAM: u32 = 0x16;
    pub const RESOURCE_LIMIT: u32 = 0x17;
    pub const SECURE_DATA_INVALID: u32 = 0x18;
    /// `SEV_RET_NO_FW_CALL`: the kernel did not call the firmware.
    pub const NO_FW_CALL: u32 = 0xFFFF_FFFF;

    /// The firmware's name for a status, or `"UNKNOWN"`.
    pub fn name(code: u32) -> &'static str {
        match code {
            0x00 => "SUCCESS",
            0x01 => "INVALID_PLATFORM_STATE",
            0x02 => "INVALID_GUEST_STATE",
            0x03 => "INVALID_CONFIG",
            0x04 => "INVALID_LENGTH",
            0x05 => "ALREADY_OWNED",
            0x06 => "INVALID_CERTIFICATE",
            0x07 => "POLICY_FAILURE",
            0x08 => "INACTIVE",
            0x09 => "INVALID_ADDRESS",
            0x0A => "BAD_SIGNATURE",
            0x0B => "BAD_MEASUREMENT",
            0x0C => "ASID_OWNED",
            0x0D => "INVALID_ASID",
            0x0E => "WBINVD_REQUIRED",
            0x0F => "DF_FLUSH_REQUIRED",
            0x10 => "INVALID_GUEST",
            0x11 => "INVALID_COMMAND",
            0x12 => "ACTIVE",
            0x13 => "HWERROR_PLATFORM",
            0x14 => "HWERROR_UNSAFE",
            0x15 => "UNSUPPORTED",
            0x16 => "INVALID_PARAM",
            0x17 => "RESOURCE_LIMIT",
            0x18 => "SECURE_DATA_INVALID",
            0x19 => "INVALID_PAGE_SIZE",
            0x1A => "INVALID_PAGE_STATE",
            0x1B => "INVALID_MDATA_ENTRY",
            0x1C => "INVALID_PAGE_OWNER",
            0x1D => "AEAD_OFLOW",
            0x1F => "RING_BUFFER_EXIT",
            0x20 => "RMP_INIT_REQUIRED",
            0x21 => "BAD_SVN",
            0x22 => "BAD_VERSION",
            0x23 => "SHUTDOWN_REQUIRED",
            0x24 => "UPDATE_FAILED",
            0x25 => "RESTORE_REQUIRED",
            0x26 => "RMP_INITIALIZATION_FAILED",
            0x27 => "INVALID_KEY",
            NO_FW_CALL => "NO_FW_CALL",
            _ => "UNKNOWN",
        }
    }

    /// A static sentence describing a firmware status.
    pub fn describe(code: u32) -> &'static str {
        match code {
            0x00 => "success",
            0x01 => "the platform state does not allow this command",
            0x02 => "the guest state does not allow this command",
            0x03 => "platform configuration flags or reserved fields are invalid",
            0x04 => "a length is wrong or a buffer is too small",
            0x05 => "the platform is already owned by an external OCA",
            0x06 => "a certificate is malformed, or has the wrong usage, algorithm or signer",
            0x07 => "the guest policy forbids this operation",
            0x08 => "the guest is not active (no ASID bound)",
            0x09 => "an address is invalid or not 16-byte aligned",
            0x0A => "a signature did not verify",
            0x0B => "a MAC did not verify (session, policy, secret or migration packet)",
            0x0C => "the ASID is owned by another guest",
            0x0D => "the ASID is invalid or outside the allowed range",
            0x0E => "WBINVD must be executed on all cores first",
            0x0F => "DF_FLUSH must be issued first",
            0x10 => "the guest handle is not in use",
            0x11 => "the command id is unknown",
            0x12 => "the guest is (still) active",
            0x13 => "a platform hardware check failed",
            0x14 => "the hardware is in an unsafe state",
            0x15 => "the feature is not supported",
            0x16 => "a parameter is invalid",
            0x17 => "a firmware resource (guest slots, ASIDs) is exhausted",
            0x18 => "persistent firmware data failed its integrity check",
            0x19 => "SNP: invalid page size",
            0x1A => "SNP: invalid page state",
            0x1B => "SNP: invalid metadata entry",
            0x1C => "SNP: invalid page owner",
            0x1D => "SNP: AEAD message counter overflow",
            0x1F => "ring buffer exit",
            0x20 => "SNP: RMP initialisation required",
            0x21 => "bad security version number",
            0x22 => "bad version",
            0x23 => "shutdown required",
            0x24 => "firmware update failed",
            0x25 => "restore required",
            0x26 => "RMP initialisation failed",
            0x27 => "invalid key",
            NO_FW_CALL => "the kernel did not call the firmware",
            _ => "unknown firmware status",
        }
    }
}

/// Which operation a status belongs to (reported in `libsev_error.command` and in logs).
///
/// Guest commands use KVM's `KVM_SEV_*` ids, platform commands `0x100 +` the `/dev/sev`
/// command number, and libsev's own operations the `0x200` range.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum libsev_command {
    LIBSEV_CMD_INIT = 0,
    LIBSEV_CMD_ES_INIT = 1,
    LIBSEV_CMD_LAUNCH_START = 2,
    LIBSEV_CMD_LAUNCH_UPDATE_DATA = 3,
    LIBSEV_CMD_LAUNCH_UPDATE_VMSA = 4,
    LIBSEV_CMD_LAUNCH_SECRET = 5,
    LIBSEV_CMD_LAUNCH_MEASURE = 6,
    LIBSEV_CMD_LAUNCH_FINISH = 7,
    LIBSEV_CMD_SEND_START = 8,
    LIBSEV_CMD_SEND_UPDATE_DATA = 9,
    LIBSEV_CMD_SEND_FINISH = 11,
    LIBSEV_CMD_RECEIVE_START = 12,
    LIBSEV_CMD_RECEIVE_UPDATE_DATA = 13,
    LIBSEV_CMD_RECEIVE_FINISH = 15,
    LIBSEV_CMD_GUEST_STATUS = 16,
    LIBSEV_CMD_DBG_DECRYPT = 17,
    LIBSEV_CMD_DBG_ENCRYPT = 18,
    LIBSEV_CMD_GET_ATTESTATION_REPORT = 20,
    LIBSEV_CMD_SEND_CANCEL = 21,
    LIBSEV_CMD_INIT2 = 22,
    LIBSEV_CMD_SNP_LAUNCH_START = 100,
    LIBSEV_CMD_SNP_LAUNCH_UPDATE = 101,
    LIBSEV_CMD_SNP_LAUNCH_FINISH = 102,
    LIBSEV_CMD_FACTORY_RESET = 0x100,
    LIBSEV_CMD_PLATFORM_STATUS = 0x101,
    LIBSEV_CMD_PEK_GEN = 0x102,
    LIBSEV_CMD_PEK_CSR = 0x103,
    LIBSEV_CMD_PDH_GEN = 0x104,
    LIBSEV_CMD_PDH_CERT_EXPORT = 0x105,
    LIBSEV_CMD_PEK_CERT_IMPORT = 0x106,
    LIBSEV_CMD_GET_ID = 0x108,
    LIBSEV_CMD_SNP_PLATFORM_STATUS = 0x109,
    LIBSEV_CMD_SNP_COMMIT = 0x10A,
    LIBSEV_CMD_SNP_SET_CONFIG = 0x10B,
    LIBSEV_CMD_SNP_VLEK_LOAD = 0x10C,
    LIBSEV_CMD_REGISTER_REGION = 0x200,
    LIBSEV_CMD_UNREGISTER_REGION = 0x201,
    LIBSEV_CMD_OPEN = 0x202,
    LIBSEV_CMD_CREATE_VM = 0x203,
    LIBSEV_CMD_PROBE = 0x204,
    /// A guest's SNP_GUEST_REQUEST message (the model's guest side).
    LIBSEV_CMD_SNP_GUEST_REQUEST = 0x205,
    /// Guest-owner side operations (certificates, session, measurement, secret).
    LIBSEV_CMD_OWNER = 0x300,
    /// No command (argument checks, or an operation that is not a command).
    LIBSEV_CMD_NONE = 0xFFFF,
}

pub use libsev_command as Command;

impl libsev_command {
    /// The command's name as the kernel and firmware documentation spell it.
    pub fn name(self) -> &'static str {
        use libsev_command::*;
        match self {
            LIBSEV_CMD_INIT => "INIT",
            LIBSEV_CMD_ES_INIT => "ES_INIT",
            LIBSEV_CMD_LAUNCH_START => "LAUNCH_START",
            LIBSEV_CMD_LAUNCH_UPDATE_DATA => "LAUNCH_UPDATE_DATA",
            LIBSEV_CMD_LAUNCH_UPDATE_VMSA => "LAUNCH_UPDATE_VMSA",
            LIBSEV_CMD_LAUNCH_SECRET => "LAUNCH_SECRET",
            LIBSEV_CMD_LAUNCH_MEASURE => "LAUNCH_MEASURE",
            LIBSEV_CMD_LAUNCH_FINISH => "LAUNCH_FINISH",
            LIBSEV_CMD_SEND_START => "SEND_START",
            LIBSEV_CMD_SEND_UPDATE_DATA => "SEND_UPDATE_DATA",
            LIBSEV_CMD_SEND_FINISH => "SEND_FINISH",
            LIBSEV_CMD_RECEIVE_START => "RECEIVE_START",
            LIBSEV_CMD_RECEIVE_UPDATE_DATA => "RECEIVE_UPDATE_DATA",
            LIBSEV_CMD_RECEIVE_FINISH => "RECEIVE_FINISH",
            LIBSEV_CMD_GUEST_STATUS => "GUEST_STATUS",
            LIBSEV_CMD_DBG_DECRYPT => "DBG_DECRYPT",
            LIBSEV_CMD_DBG_ENCRYPT => "DBG_ENCRYPT",
            LIBSEV_CMD_GET_ATTESTATION_REPORT => "GET_ATTESTATION_REPORT",
            LIBSEV_CMD_SEND_CANCEL => "SEND_CANCEL",
            LIBSEV_CMD_INIT2 => "INIT2",
            LIBSEV_CMD_FACTORY_RESET => "FACTORY_RESET",
            LIBSEV_CMD_PLATFORM_STATUS => "PLATFORM_STATUS",
            LIBSEV_CMD_PEK_GEN => "PEK_GEN",
            LIBSEV_CMD_PEK_CSR => "PEK_CSR",
            LIBSEV_CMD_PDH_GEN => "PDH_GEN",
            LIBSEV_CMD_PDH_CERT_EXPORT => "PDH_CERT_EXPORT",
            LIBSEV_CMD_PEK_CERT_IMPORT => "PEK_CERT_IMPORT",
            LIBSEV_CMD_GET_ID => "GET_ID",
            LIBSEV_CMD_REGISTER_REGION => "REGISTER_REGION",
            LIBSEV_CMD_UNREGISTER_REGION => "UNREGISTER_REGION",
            LIBSEV_CMD_OPEN => "OPEN",
            LIBSEV_CMD_CREATE_VM => "CREATE_VM",
            LIBSEV_CMD_PROBE => "PROBE",
            LIBSEV_CMD_OWNER => "OWNER",
            LIBSEV_CMD_SNP_LAUNCH_START => "SNP_LAUNCH_START",
            LIBSEV_CMD_SNP_LAUNCH_UPDATE => "SNP_LAUNCH_UPDATE",
            LIBSEV_CMD_SNP_LAUNCH_FINISH => "SNP_LAUNCH_FINISH",
            LIBSEV_CMD_SNP_PLATFORM_STATUS => "SNP_PLATFORM_STATUS",
            LIBSEV_CMD_SNP_COMMIT => "SNP_COMMIT",
            LIBSEV_CMD_SNP_SET_CONFIG => "SNP_SET_CONFIG",
            LIBSEV_CMD_SNP_VLEK_LOAD => "SNP_VLEK_LOAD",
            LIBSEV_CMD_SNP_GUEST_REQUEST => "SNP_GUEST_REQUEST",
            LIBSEV_CMD_NONE => "NONE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_unique_and_described() {
        let mut seen = std::collections::HashSet::new();
        for s in libsev_status::ALL {
            assert!(
                seen.insert(*s as u32),
                "duplicate status number {}",
                *s as u32
            );
            assert!(!s.as_str().is_empty());
            assert_eq!(libsev_status::from_u32(*s as u32), Some(*s));
        }
    }

    #[test]
    fn firmware_statuses_map_into_their_range() {
        for fw in 1..=0x18u32 {
            let s = libsev_status::from_fw(fw);
            assert_eq!(s as u32, 1000 + fw, "fw status {fw:#x}");
            assert_ne!(fw::name(fw), "UNKNOWN");
        }
        assert_eq!(
            libsev_status::from_fw(0x27),
            libsev_status::LIBSEV_STATUS_FW_INVALID_KEY
        );
        assert_eq!(
            libsev_status::from_fw(0x1E),
            libsev_status::LIBSEV_STATUS_FW_OTHER
        );
        assert_eq!(
            libsev_status::from_fw(0x28),
            libsev_status::LIBSEV_STATUS_FW_OTHER
        );
        assert_eq!(fw::name(0x1E), "UNKNOWN");
    }
}
