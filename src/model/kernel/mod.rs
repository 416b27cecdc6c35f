//! What the kernel does in front of the firmware: KVM's `KVM_MEMORY_ENCRYPT_OP` and region
//! ioctls on a VM ([`vm`], with the command families in `vm_cmds` and `vm_migrate`) and the
//! PSP driver's `/dev/sev` ioctls ([`devsev`]); the platform handle that owns the firmware
//! ([`platform`]); and the user-memory access rules both apply ([`uaccess`]: what the kernel's
//! `copy_from_user` / `get_user_pages` would refuse, with the same errno).

pub(crate) mod devsev;
pub(crate) mod platform;
pub(crate) mod uaccess;
pub(crate) mod vm;
pub(crate) mod vm_cmds;
pub(crate) mod vm_es;
pub(crate) mod vm_migrate;
