//! The one error type of the Rust API. It carries both error channels of a failed SEV
//! command (the firmware status and the OS errno) and a readable message with context.

use crate::status::{Command, Status, fw};

/// A libsev failure: a [`Status`], the firmware status (`fw_error`, 0 when the firmware did not
/// fail or was not reached), the OS errno (`os_errno`, 0 when none), the command, and a message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub status: Status,
    pub fw_error: u32,
    pub os_errno: i32,
    pub command: Command,
    pub message: String,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure that is not a firmware or OS failure.
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Error {
            status,
            fw_error: 0,
            os_errno: 0,
            command: Command::LIBSEV_CMD_NONE,
            message: message.into(),
        }
    }

    /// Attach the command this failure belongs to.
    pub fn with_command(mut self, command: Command) -> Self {
        self.command = command;
        self
    }

    /// An argument error.
    pub fn arg(message: impl Into<String>) -> Self {
        Self::new(Status::LIBSEV_STATUS_INVALID_ARGUMENT, message)
    }

    /// A failed ioctl (kernel transport or firmware model): maps `errno` and the firmware
    /// status to a libsev status and writes a message with hints for the known traps.
    pub fn from_command(command: Command, errno: i32, fw_error: u32) -> Self {
        let name = command.name();
        let fw_named = fw_error != 0 && fw_error != fw::NO_FW_CALL;
        let (status, message) = if fw_named {
            (
                Status::from_fw(fw_error),
                format!(
                    "{name} failed: firmware status {:#04x} {} ({})",
                    fw_error,
                    fw::name(fw_error),
                    fw::describe(fw_error)
                ),
            )
        } else {
            let os = std::io::Error::from_raw_os_error(errno);
            let (status, hint) = match errno {
                libc::ENOTTY => (
                    Status::LIBSEV_STATUS_NO_SEV_SUPPORT,
                    " — KVM on this host has no SEV support (kvm_amd not loaded with sev=1, \
                     no SEV-capable CPU, or the guest was not initialised with INIT first)",
                ),
                libc::EACCES | libc::EPERM => (
                    Status::LIBSEV_STATUS_PERMISSION_DENIED,
                    " — /dev/sev must be open for reading and writing (platform-changing \
                     commands need write access) and /dev/kvm for reading and writing",
                ),
                libc::ENOENT | libc::ENODEV | libc::ENXIO => (
                    Status::LIBSEV_STATUS_NO_DEVICE,
                    " — the device is absent: no AMD Secure Processor driver (ccp) or no KVM",
                ),
                libc::EINVAL => (
                    Status::LIBSEV_STATUS_KERNEL_REJECTED,
                    " — firmware status 0: the kernel refused before the firmware ran \
                     (argument, length > 16 KiB, or unregistered range)",
                ),
                libc::ENOMEM => (
                    Status::LIBSEV_STATUS_OUT_OF_MEMORY,
                    " — pinning guest memory may exceed RLIMIT_MEMLOCK",
                ),
                libc::EBUSY | libc::ETIMEDOUT | libc::EAGAIN => (Status::LIBSEV_STATUS_BUSY, ""),
                libc::EBADF => (
                    Status::LIBSEV_STATUS_BAD_FD,
                    " — the /dev/sev fd must stay open at the same number for the VM's life",
                ),
                _ if fw_error == 0 && errno != 0 => (
                    Status::LIBSEV_STATUS_OS_ERROR,
                    " — firmware status 0: the kernel refused before the firmware ran",
                ),
                _ => (Status::LIBSEV_STATUS_OS_ERROR, ""),
            };
            (status, format!("{name} failed: {os} (errno {errno}){hint}"))
        };
        Error {
            status,
            fw_error,
            os_errno: errno,
            command,
            message,
        }
    }

    /// An I/O error while opening a device or file.
    pub fn from_io(command: Command, what: &str, e: &std::io::Error) -> Self {
        let errno = e.raw_os_error().unwrap_or(0);
        let mut err = Self::from_command(command, errno, 0);
        err.message = format!("{what}: {e}{}", hint_for_open(errno));
        err
    }
}

fn hint_for_open(errno: i32) -> &'static str {
    match errno {
        libc::ENOENT => " (device absent: no SEV firmware driver or no KVM on this host)",
        libc::EACCES | libc::EPERM => {
            " (permission denied: the device needs read and write access for this user)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enotty_names_missing_sev() {
        let e = Error::from_command(Command::LIBSEV_CMD_INIT, libc::ENOTTY, 0);
        assert_eq!(e.status, Status::LIBSEV_STATUS_NO_SEV_SUPPORT);
        assert!(e.message.contains("no SEV support"), "{}", e.message);
    }

    #[test]
    fn firmware_status_wins_over_eio() {
        let e = Error::from_command(
            Command::LIBSEV_CMD_LAUNCH_SECRET,
            libc::EIO,
            fw::BAD_MEASUREMENT,
        );
        assert_eq!(e.status, Status::LIBSEV_STATUS_FW_BAD_MEASUREMENT);
        assert_eq!(e.fw_error, 0x0B);
        assert_eq!(e.os_errno, libc::EIO);
        assert!(e.message.contains("BAD_MEASUREMENT"));
    }

    #[test]
    fn einval_without_firmware_says_the_kernel_refused() {
        let e = Error::from_command(Command::LIBSEV_CMD_LAUNCH_UPDATE_DATA, libc::EINVAL, 0);
        assert_eq!(e.status, Status::LIBSEV_STATUS_KERNEL_REJECTED);
        assert!(e.message.contains("before the firmware ran"));
    }
}
