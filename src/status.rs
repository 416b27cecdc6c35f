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

/// The status table: one row per status, `NAME = number, "text"[, reserved];` under its doc
/// comment. It is the only place a status is defined: this macro makes the Rust enum, the
/// list, the names, the texts and the docs from it, and `build.rs` reads the same rows (a
/// plain text parse: cbindgen does not expand macros) to give C the documented enum. A test
/// compares the generated header with this table. Keep each row in that form, the text on the
/// row or the line after it.
macro_rules! status_table {
    (
        $(#[doc = $edoc:literal])*
        pub enum $enum:ident {
            $(
                $(#[doc = $doc:literal])*
                $name:ident = $num:literal, $text:literal $(, $flag:ident)?;
            )*
        }
    ) => {
        $(#[doc = $edoc])*
        #[repr(u32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(non_camel_case_types)]
        pub enum $enum {
            $($(#[doc = $doc])* $name = $num,)*
        }

        impl $enum {
            /// All statuses, in numeric order (reserved ones included).
            pub const ALL: &'static [$enum] = &[$(Self::$name),*];

            /// The status for a raw numeric value, if it is one of libsev's.
            pub fn from_u32(v: u32) -> Option<Self> {
                match v {
                    $($num => Some(Self::$name),)*
                    _ => None,
                }
            }

            /// A static, human-readable description (what `libsev_status_str` returns).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => $text,)*
                }
            }

            /// The C name (`"LIBSEV_STATUS_OK"`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }

            /// The doc comment, one line per `///` line (what the C header documents).
            pub fn doc(self) -> &'static str {
                match self {
                    $(Self::$name => concat!($($doc, "\n",)*),)*
                }
            }

            /// Whether the number is reserved: defined (and never reused) but not produced by
            /// this version of libsev.
            pub fn is_reserved(self) -> bool {
                match self {
                    $(Self::$name => status_flag!($($flag)?),)*
                }
            }
        }
    };
}

/// A row's flag: none, or `reserved` (any other word does not compile).
macro_rules! status_flag {
    () => {
        false
    };
    (reserved) => {
        true
    };
}

status_table! {
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
    /// Numbers are never reused. A status marked "Reserved" is not produced by this version
    /// (its number stays assigned). `libsev_status_str()` gives a static description of each.
    pub enum libsev_status {
        /// Success.
        LIBSEV_STATUS_OK = 0, "success";

        /// A required pointer argument was NULL.
        LIBSEV_STATUS_NULL_ARGUMENT = 1, "a required pointer argument is NULL";
        /// An argument has a value outside its documented domain.
        LIBSEV_STATUS_INVALID_ARGUMENT = 2, "invalid argument";
        /// The caller's buffer is NULL or too small; the needed size was written to `*out_len`.
        LIBSEV_STATUS_BUFFER_TOO_SMALL = 3,
            "buffer too small (the needed size was written to out_len)";
        /// A length is wrong for the command (zero, not the fixed size, too large).
        LIBSEV_STATUS_INVALID_LENGTH = 4, "invalid length";
        /// An address or length is not aligned as the command requires (16 bytes for data paths).
        LIBSEV_STATUS_UNALIGNED = 5,
            "address or length not aligned as the command requires";
        /// A string argument is not valid UTF-8 or contains an interior NUL.
        LIBSEV_STATUS_INVALID_STRING = 6, "string argument is not valid UTF-8";
        /// A handle of the wrong kind or for another platform was passed.
        ///
        /// Reserved: not produced by this version of libsev; the number stays assigned.
        LIBSEV_STATUS_WRONG_HANDLE = 7,
            "handle of the wrong kind or for another platform", reserved;

        /// The object is not in a state that allows the call.
        LIBSEV_STATUS_INVALID_STATE = 100, "object is in the wrong state for this call";
        /// The guest has not been initialised for SEV (call `libsev_guest_init` first).
        ///
        /// Reserved: not produced by this version of libsev; the number stays assigned.
        LIBSEV_STATUS_NOT_INITIALIZED = 101, "guest is not initialised for SEV", reserved;
        /// The guest was already initialised for SEV.
        ///
        /// Reserved: not produced by this version of libsev; the number stays assigned.
        LIBSEV_STATUS_ALREADY_INITIALIZED = 102, "guest is already initialised for SEV", reserved;

        /// The kernel refused the request; `os_errno` says why.
        LIBSEV_STATUS_OS_ERROR = 200, "the operating system refused the request (see os_errno)";
        /// KVM on this host has no SEV support (`ENOTTY` from `KVM_MEMORY_ENCRYPT_OP`).
        LIBSEV_STATUS_NO_SEV_SUPPORT = 201, "KVM on this host has no SEV support";
        /// A device (`/dev/kvm`, `/dev/sev`) is missing.
        LIBSEV_STATUS_NO_DEVICE = 202, "device not present";
        /// Permission denied opening or using a device (`EACCES`/`EPERM`).
        LIBSEV_STATUS_PERMISSION_DENIED = 203, "permission denied";
        /// The kernel rejected the arguments before the firmware ran (`EINVAL`, firmware status 0).
        LIBSEV_STATUS_KERNEL_REJECTED = 204,
            "the kernel rejected the arguments before the firmware ran";
        /// Out of memory, or the memory lock limit was reached (`ENOMEM`).
        LIBSEV_STATUS_OUT_OF_MEMORY = 205, "out of memory or memory-lock limit reached";
        /// The firmware or the kernel is busy or timed out (`EBUSY`, `ETIMEDOUT`).
        LIBSEV_STATUS_BUSY = 206, "firmware or kernel busy or timed out";
        /// A file descriptor is not valid for the operation (`EBADF`).
        LIBSEV_STATUS_BAD_FD = 207, "file descriptor not valid for this operation";

        /// Firmware: the platform state does not allow the command.
        LIBSEV_STATUS_FW_INVALID_PLATFORM_STATE = 1001, "firmware: invalid platform state";
        /// Firmware: the guest state does not allow the command.
        LIBSEV_STATUS_FW_INVALID_GUEST_STATE = 1002, "firmware: invalid guest state";
        /// Firmware: invalid platform configuration.
        LIBSEV_STATUS_FW_INVALID_CONFIG = 1003, "firmware: invalid configuration";
        /// Firmware: a length is wrong or a buffer too small.
        LIBSEV_STATUS_FW_INVALID_LENGTH = 1004, "firmware: invalid length";
        /// Firmware: the platform is already owned.
        LIBSEV_STATUS_FW_ALREADY_OWNED = 1005, "firmware: platform already owned";
        /// Firmware: a certificate is malformed or has the wrong usage, algorithm or signer.
        LIBSEV_STATUS_FW_INVALID_CERTIFICATE = 1006, "firmware: invalid certificate";
        /// Firmware: the guest policy forbids the operation.
        LIBSEV_STATUS_FW_POLICY_FAILURE = 1007, "firmware: guest policy forbids the operation";
        /// Firmware: the guest is not active (no ASID).
        LIBSEV_STATUS_FW_INACTIVE = 1008, "firmware: guest is inactive";
        /// Firmware: an address is invalid or misaligned.
        LIBSEV_STATUS_FW_INVALID_ADDRESS = 1009, "firmware: invalid or misaligned address";
        /// Firmware: a signature did not verify.
        LIBSEV_STATUS_FW_BAD_SIGNATURE = 1010, "firmware: bad signature";
        /// Firmware: a MAC did not verify (session, policy, secret or migration packet).
        LIBSEV_STATUS_FW_BAD_MEASUREMENT = 1011, "firmware: MAC check failed (bad measurement)";
        /// Firmware: the ASID is owned by another guest.
        LIBSEV_STATUS_FW_ASID_OWNED = 1012, "firmware: ASID owned by another guest";
        /// Firmware: the ASID is invalid.
        LIBSEV_STATUS_FW_INVALID_ASID = 1013, "firmware: invalid ASID";
        /// Firmware: WBINVD is required first.
        LIBSEV_STATUS_FW_WBINVD_REQUIRED = 1014, "firmware: WBINVD required";
        /// Firmware: DF_FLUSH is required first.
        LIBSEV_STATUS_FW_DF_FLUSH_REQUIRED = 1015, "firmware: DF_FLUSH required";
        /// Firmware: the guest handle is invalid.
        LIBSEV_STATUS_FW_INVALID_GUEST = 1016, "firmware: invalid guest handle";
        /// Firmware: the command is unknown.
        LIBSEV_STATUS_FW_INVALID_COMMAND = 1017, "firmware: invalid command";
        /// Firmware: the guest is active.
        LIBSEV_STATUS_FW_ACTIVE = 1018, "firmware: guest is active";
        /// Firmware: a platform hardware check failed.
        LIBSEV_STATUS_FW_HWERROR_PLATFORM = 1019, "firmware: platform hardware error";
        /// Firmware: unsafe hardware state.
        LIBSEV_STATUS_FW_HWERROR_UNSAFE = 1020, "firmware: unsafe hardware state";
        /// Firmware: the feature is not supported.
        LIBSEV_STATUS_FW_UNSUPPORTED = 1021, "firmware: feature not supported";
        /// Firmware: a parameter is invalid.
        LIBSEV_STATUS_FW_INVALID_PARAM = 1022, "firmware: invalid parameter";
        /// Firmware: a resource (guest slots, ASIDs) is exhausted.
        LIBSEV_STATUS_FW_RESOURCE_LIMIT = 1023, "firmware: resource limit reached";
        /// Firmware: persistent data failed its integrity check.
        LIBSEV_STATUS_FW_SECURE_DATA_INVALID = 1024, "firmware: secure data invalid";
        /// Firmware: SNP: the page size does not match the RMP entry.
        LIBSEV_STATUS_FW_INVALID_PAGE_SIZE = 1025,
            "firmware: SNP: the page size does not match the RMP entry";
        /// Firmware: SNP: the page is not in the RMP state the command needs.
        LIBSEV_STATUS_FW_INVALID_PAGE_STATE = 1026,
            "firmware: SNP: the page is not in the RMP state the command needs";
        /// Firmware: SNP: invalid metadata entry.
        LIBSEV_STATUS_FW_INVALID_MDATA_ENTRY = 1027, "firmware: SNP: invalid metadata entry";
        /// Firmware: SNP: the page belongs to another guest (ASID).
        LIBSEV_STATUS_FW_INVALID_PAGE_OWNER = 1028,
            "firmware: SNP: the page belongs to another guest (ASID)";
        /// Firmware: SNP: guest message sequence number wrong or exhausted.
        LIBSEV_STATUS_FW_AEAD_OFLOW = 1029,
            "firmware: SNP: guest message sequence number wrong or exhausted";
        /// Firmware: SNP: RMP initialisation required.
        LIBSEV_STATUS_FW_RMP_INIT_REQUIRED = 1032, "firmware: SNP: RMP initialisation required";
        /// Firmware: SNP: bad security version (TCB).
        LIBSEV_STATUS_FW_BAD_SVN = 1033, "firmware: SNP: bad security version (TCB)";
        /// Firmware: SNP: bad version.
        LIBSEV_STATUS_FW_BAD_VERSION = 1034, "firmware: SNP: bad version";
        /// Firmware: SNP: shutdown required.
        LIBSEV_STATUS_FW_SHUTDOWN_REQUIRED = 1035, "firmware: SNP: shutdown required";
        /// Firmware: SNP: firmware update failed.
        LIBSEV_STATUS_FW_UPDATE_FAILED = 1036, "firmware: SNP: firmware update failed";
        /// Firmware: SNP: restore required.
        LIBSEV_STATUS_FW_RESTORE_REQUIRED = 1037, "firmware: SNP: restore required";
        /// Firmware: SNP: RMP initialisation failed.
        LIBSEV_STATUS_FW_RMP_INITIALIZATION_FAILED = 1038,
            "firmware: SNP: RMP initialisation failed";
        /// Firmware: SNP: the requested key is not available.
        LIBSEV_STATUS_FW_INVALID_KEY = 1039, "firmware: SNP: the requested key is not available";
        /// Firmware: another status; the raw value is in `fw_error`.
        LIBSEV_STATUS_FW_OTHER = 1255, "firmware: other error (see fw_error)";

        /// A certificate is malformed (size, version, usage, algorithm, key).
        LIBSEV_STATUS_BAD_CERTIFICATE = 2000, "malformed certificate";
        /// A certificate signature did not verify.
        LIBSEV_STATUS_BAD_SIGNATURE = 2001, "certificate signature does not verify";
        /// The certificate chain does not chain up (wrong signer, missing link).
        LIBSEV_STATUS_CHAIN_BROKEN = 2002, "certificate chain is broken";
        /// The chain's root is not a known AMD root.
        LIBSEV_STATUS_UNKNOWN_ROOT = 2003, "chain does not end at a known AMD root";
        /// The chain ends at the built-in model's test-only root, which the caller did not allow.
        LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED = 2004,
            "chain ends at the firmware model's test-only root, which was not allowed";
        /// The launch measurement does not match the expected value.
        LIBSEV_STATUS_MEASUREMENT_MISMATCH = 2005, "launch measurement does not match";
        /// A key is not usable: not a P-384 private key in a known encoding, or a point not on
        /// the curve.
        LIBSEV_STATUS_CRYPTO_ERROR = 2006, "cryptographic operation failed (unusable key)";
        /// Serialized owner or model state is malformed.
        LIBSEV_STATUS_BAD_STATE_BLOB = 2007, "serialized state is malformed";
        /// A firmware image lacks what the launch needs (OVMF footer table, SEV-ES reset block,
        /// hash-table area for measured direct boot, SEV metadata).
        LIBSEV_STATUS_BAD_FIRMWARE_IMAGE = 2008,
            "firmware image lacks the tables the launch needs (not a suitable OVMF build)";
        /// The bytes are not an SEV-SNP attestation report (length, version, reserved bytes).
        LIBSEV_STATUS_BAD_REPORT = 2020, "not an SEV-SNP attestation report";
        /// An SEV-SNP report failed one or more checks (the verdict names each).
        LIBSEV_STATUS_REPORT_CHECK_FAILED = 2021, "the SEV-SNP report failed one or more checks";

        /// The firmware model configuration is invalid (`LIBSEV_PLATFORM`, seed, limits).
        LIBSEV_STATUS_MODEL_CONFIG = 3000, "firmware model: invalid configuration";
        /// The firmware model's state directory could not be read or written.
        LIBSEV_STATUS_MODEL_STATE_IO = 3001, "firmware model: state directory I/O failed";
        /// The firmware model's state directory holds damaged data.
        LIBSEV_STATUS_MODEL_STATE_CORRUPT = 3002, "firmware model: state directory is damaged";

        /// libsev caught a panic at the C boundary; this is a bug in libsev.
        LIBSEV_STATUS_INTERNAL = 9000, "internal error in libsev (a bug: please report it)";
    }
}

pub use libsev_status as Status;

impl libsev_status {
    /// The libsev status that stands for a firmware status.
    pub fn from_fw(fw: u32) -> Self {
        match fw {
            0 => Self::LIBSEV_STATUS_OK,
            1..=0x27 => Self::from_u32(1000 + fw).unwrap_or(Self::LIBSEV_STATUS_FW_OTHER),
            _ => Self::LIBSEV_STATUS_FW_OTHER,
        }
    }
}

/// Firmware status codes (`sev-spec` §2.2, SNP's from `snp-spec`), as `kvm_sev_cmd.error` and
/// `sev_issue_cmd.error` carry them: one table of code, name and sentence, from which the
/// constants, [`fw::name`] and [`fw::describe`] are made.
pub mod fw {
    macro_rules! fw_table {
        ($($code:literal $name:ident $text:literal;)*) => {
            $(
                #[doc = $text]
                pub const $name: u32 = $code;
            )*

            /// The firmware's name for a status, or `"UNKNOWN"`.
            pub fn name(code: u32) -> &'static str {
                match code {
                    $($code => stringify!($name),)*
                    NO_FW_CALL => "NO_FW_CALL",
                    _ => "UNKNOWN",
                }
            }

            /// A static sentence describing a firmware status.
            pub fn describe(code: u32) -> &'static str {
                match code {
                    $($code => $text,)*
                    NO_FW_CALL => "the kernel did not call the firmware",
                    _ => "unknown firmware status",
                }
            }
        };
    }

    fw_table! {
        0x00 SUCCESS "success";
        0x01 INVALID_PLATFORM_STATE "the platform state does not allow this command";
        0x02 INVALID_GUEST_STATE "the guest state does not allow this command";
        0x03 INVALID_CONFIG "platform configuration flags or reserved fields are invalid";
        0x04 INVALID_LENGTH "a length is wrong or a buffer is too small";
        0x05 ALREADY_OWNED "the platform is already owned by an external OCA";
        0x06 INVALID_CERTIFICATE
            "a certificate is malformed, or has the wrong usage, algorithm or signer";
        0x07 POLICY_FAILURE "the guest policy forbids this operation";
        0x08 INACTIVE "the guest is not active (no ASID bound)";
        0x09 INVALID_ADDRESS "an address is invalid or not 16-byte aligned";
        0x0A BAD_SIGNATURE "a signature did not verify";
        0x0B BAD_MEASUREMENT "a MAC did not verify (session, policy, secret or migration packet)";
        0x0C ASID_OWNED "the ASID is owned by another guest";
        0x0D INVALID_ASID "the ASID is invalid or outside the allowed range";
        0x0E WBINVD_REQUIRED "WBINVD must be executed on all cores first";
        0x0F DF_FLUSH_REQUIRED "DF_FLUSH must be issued first";
        0x10 INVALID_GUEST "the guest handle is not in use";
        0x11 INVALID_COMMAND "the command id is unknown";
        0x12 ACTIVE "the guest is (still) active";
        0x13 HWERROR_PLATFORM "a platform hardware check failed";
        0x14 HWERROR_UNSAFE "the hardware is in an unsafe state";
        0x15 UNSUPPORTED "the feature is not supported";
        0x16 INVALID_PARAM "a parameter is invalid";
        0x17 RESOURCE_LIMIT "a firmware resource (guest slots, ASIDs) is exhausted";
        0x18 SECURE_DATA_INVALID "persistent firmware data failed its integrity check";
        0x19 INVALID_PAGE_SIZE "SNP: invalid page size";
        0x1A INVALID_PAGE_STATE "SNP: invalid page state";
        0x1B INVALID_MDATA_ENTRY "SNP: invalid metadata entry";
        0x1C INVALID_PAGE_OWNER "SNP: invalid page owner";
        0x1D AEAD_OFLOW "SNP: AEAD message counter overflow";
        0x1F RING_BUFFER_EXIT "ring buffer exit";
        0x20 RMP_INIT_REQUIRED "SNP: RMP initialisation required";
        0x21 BAD_SVN "bad security version number";
        0x22 BAD_VERSION "bad version";
        0x23 SHUTDOWN_REQUIRED "shutdown required";
        0x24 UPDATE_FAILED "firmware update failed";
        0x25 RESTORE_REQUIRED "restore required";
        0x26 RMP_INITIALIZATION_FAILED "RMP initialisation failed";
        0x27 INVALID_KEY "invalid key";
    }

    /// `SEV_RET_NO_FW_CALL`: the kernel did not call the firmware.
    pub const NO_FW_CALL: u32 = 0xFFFF_FFFF;
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

    /// The header's `enum libsev_status` (made by build.rs from the table's text) has exactly
    /// the macro's rows: the same names, numbers and order, each with its doc lines.
    #[test]
    fn header_enum_matches_the_table() {
        let h = include_str!("../include/libsev.h");
        let start = h
            .find("enum libsev_status\n")
            .expect("enum libsev_status in the header");
        let body = &h[start..];
        let body = &body[body.find(" {\n").expect("enum body") + 3..];
        let body = &body[..body.find("\n};").expect("enum end")];
        let mut rows = Vec::new();
        let mut doc = String::new();
        for l in body.lines().map(str::trim) {
            if l == "/**" || l == "*/" {
                continue;
            }
            if let Some(d) = l.strip_prefix('*') {
                doc.push_str(d.trim());
                doc.push('\n');
            } else if let Some((name, num)) = l.trim_end_matches(',').split_once(" = ") {
                rows.push((name.to_string(), num.parse::<u32>().unwrap(), doc.clone()));
                doc.clear();
            }
        }
        assert_eq!(rows.len(), libsev_status::ALL.len(), "number of statuses");
        for (s, (name, num, doc)) in libsev_status::ALL.iter().zip(&rows) {
            assert_eq!(s.name(), name);
            assert_eq!(*s as u32, *num, "{name}");
            let want: String = s.doc().lines().map(|l| format!("{}\n", l.trim())).collect();
            assert_eq!(&want, doc, "doc of {name}");
        }
    }

    #[test]
    fn numbers_ascend_and_reserved_ones_say_so() {
        for w in libsev_status::ALL.windows(2) {
            assert!(
                (w[0] as u32) < (w[1] as u32),
                "{:?} before {:?}",
                w[0],
                w[1]
            );
        }
        let reserved: Vec<_> = libsev_status::ALL
            .iter()
            .filter(|s| s.is_reserved())
            .collect();
        assert!(!reserved.is_empty());
        for s in libsev_status::ALL {
            assert_eq!(
                s.doc().contains("Reserved: not produced"),
                s.is_reserved(),
                "{}",
                s.name()
            );
        }
    }

    /// No source file outside this table names a reserved status, i.e. none is produced. When
    /// a change starts producing one, drop its `reserved` flag (and the doc line) in the table.
    #[test]
    fn reserved_statuses_are_not_produced() {
        fn scan(dir: &std::path::Path, hits: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    scan(&p, hits);
                } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("status.rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    for s in libsev_status::ALL.iter().filter(|s| s.is_reserved()) {
                        let n = s.name();
                        let named = text.match_indices(n).any(|(i, _)| {
                            !text[i + n.len()..]
                                .starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric())
                        });
                        if named {
                            hits.push(format!("{} in {}", n, p.display()));
                        }
                    }
                }
            }
        }
        let mut hits = Vec::new();
        scan(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut hits,
        );
        assert!(hits.is_empty(), "reserved statuses are used: {hits:?}");
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
