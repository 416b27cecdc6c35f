//! What the interposer knows: its configuration (read once), the one model platform of this
//! process (opened on first use), and which fds of this process stand for `/dev/sev` and for
//! KVM VMs.
//!
//! Thread safety: the fd table is behind a read-write lock that is never held while the model
//! runs or while a real libc function is called; the model serialises its own commands.

use libc::c_int;
use sev::api::PlatformSpec;
use sev::model::{ModelConfig, ModelPlatform, ModelVm};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The configuration: which model, and which device paths stand for `/dev/sev`.
pub(crate) struct Config {
    model: ModelConfig,
    /// `/dev/sev`, and every `sev-device=PATH` on this process's command line.
    devices: Vec<Vec<u8>>,
}

impl Config {
    /// Whether `path` names the SEV device.
    pub(crate) fn is_device(&self, path: &[u8]) -> bool {
        self.devices.iter().any(|d| d == path)
    }
}

static CONFIG: OnceLock<Option<Config>> = OnceLock::new();

/// `Some` when `LIBSEV_PLATFORM` selects the model (`emulated` or `emulated:DIR`); `None` when
/// it is unset, empty or `kvm` (the kernel is used: the interposer changes nothing), or not
/// understood (said once on stderr; the interposer then changes nothing either).
pub(crate) fn config() -> Option<&'static Config> {
    CONFIG.get_or_init(load_config).as_ref()
}

fn load_config() -> Option<Config> {
    let value = std::env::var_os(sev::api::PLATFORM_ENV)?;
    let spec = value
        .to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", sev::api::PLATFORM_ENV))
        .and_then(|v| PlatformSpec::parse(Some(v)).map_err(|e| e.message));
    let model = match spec {
        Ok(PlatformSpec::Emulated(m)) => m,
        Ok(PlatformSpec::Kvm) => return None,
        Err(msg) => {
            eprintln!("libsev-preload: {msg}; not interposing");
            return None;
        }
    };
    crate::register_fork_handler();
    let mut devices = vec![b"/dev/sev".to_vec()];
    if let Ok(cmdline) = std::fs::read("/proc/self/cmdline") {
        for arg in cmdline.split(|b| *b == 0) {
            devices.extend(sev_device_options(arg));
        }
    }
    Some(Config { model, devices })
}

/// The values of `sev-device=` in one QEMU option argument (`key=value` pairs separated by
/// `,`, a literal comma written `,,`).
fn sev_device_options(arg: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < arg.len() {
        if arg[i] == b',' {
            if arg.get(i + 1) == Some(&b',') {
                cur.push(b',');
                i += 2;
                continue;
            }
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(arg[i]);
        }
        i += 1;
    }
    parts.push(cur);
    for p in parts {
        if let Some(v) = p.strip_prefix(b"sev-device=") {
            if !v.is_empty() {
                out.push(v.to_vec());
            }
        }
    }
    out
}

static PLATFORM: OnceLock<Result<Arc<ModelPlatform>, String>> = OnceLock::new();

/// The model platform of this process (one emulated AMD-SP, like the one PSP of a host),
/// opened on first use. A failure (e.g. an unusable state directory) is said once on stderr.
pub(crate) fn platform() -> Option<&'static Arc<ModelPlatform>> {
    let cfg = config()?;
    PLATFORM
        .get_or_init(|| {
            let p = sev::model::open(cfg.model.clone()).map_err(|e| {
                eprintln!(
                    "libsev-preload: the firmware model cannot be opened: {}",
                    e.message
                );
                e.message
            })?;
            // The PSP driver initialises the platform when it probes the device.
            if let Err(status) = p.init_on_probe() {
                eprintln!("libsev-preload: the model's platform INIT failed: status {status:#x}");
            }
            Ok(p)
        })
        .as_ref()
        .ok()
}

/// A KVM VM created by this process (`KVM_CREATE_VM` on `/dev/kvm`), shared by every fd that
/// names it (dup): the model's VM lives as long as the last of them, as the kernel's does.
pub(crate) struct VmSlot {
    vm_type: u64,
    model: OnceLock<Option<ModelVm>>,
    vcpus: std::sync::Mutex<Vcpus>,
}

/// The vCPU fds created on a VM (`KVM_CREATE_VCPU`), in creation order, and how many of them
/// the model's VM has been given (SEV-ES builds each vCPU's VMSA from its registers at
/// LAUNCH_UPDATE_VMSA).
#[derive(Default)]
struct Vcpus {
    fds: Vec<c_int>,
    given: usize,
}

impl VmSlot {
    pub(crate) fn new(vm_type: u64) -> VmSlot {
        VmSlot {
            vm_type,
            model: OnceLock::new(),
            vcpus: std::sync::Mutex::new(Vcpus::default()),
        }
    }

    /// Record a vCPU fd the hypervisor created on this VM.
    pub(crate) fn add_vcpu(&self, fd: c_int) {
        self.vcpus
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .fds
            .push(fd);
        if let Some(Some(vm)) = self.model.get() {
            self.give_vcpus(vm);
        }
    }

    /// Hand the model's VM the vCPUs it does not have yet, each once, in creation order.
    fn give_vcpus(&self, vm: &ModelVm) {
        let mut v = self.vcpus.lock().unwrap_or_else(|e| e.into_inner());
        while v.given < v.fds.len() {
            // The fd came from KVM_CREATE_VCPU just now: a live KVM vCPU of this process.
            let _ = vm.add_vcpu_fd(v.fds[v.given]);
            v.given += 1;
        }
    }

    /// The model's side of this VM, made on first use (`None` without a platform, or for a
    /// VM type the model does not know), knowing every vCPU created so far.
    pub(crate) fn model(&self) -> Option<&ModelVm> {
        let vm = self
            .model
            .get_or_init(|| platform()?.create_vm_of_type(self.vm_type).ok())
            .as_ref()?;
        self.give_vcpus(vm);
        Some(vm)
    }
}

/// What an fd of this process stands for.
#[derive(Clone)]
pub(crate) enum Entry {
    /// An open of the SEV device: a placeholder fd (`/dev/null` opened with the caller's
    /// flags) whose ioctls the model answers.
    Sev { writable: bool },
    /// A KVM VM fd.
    Vm(Arc<VmSlot>),
}

static TABLE: RwLock<BTreeMap<c_int, Entry>> = RwLock::new(BTreeMap::new());

fn read() -> RwLockReadGuard<'static, BTreeMap<c_int, Entry>> {
    TABLE.read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> RwLockWriteGuard<'static, BTreeMap<c_int, Entry>> {
    TABLE.write().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn get(fd: c_int) -> Option<Entry> {
    read().get(&fd).cloned()
}

pub(crate) fn insert(fd: c_int, e: Entry) {
    write().insert(fd, e);
}

/// Forget `fd`; the caller drops what is returned outside the lock (a VM's last fd going away
/// destroys the model's VM).
pub(crate) fn remove(fd: c_int) -> Option<Entry> {
    write().remove(&fd)
}

/// Forget every fd in `[first, last]`.
pub(crate) fn remove_range(first: c_int, last: c_int) -> Vec<(c_int, Entry)> {
    let mut t = write();
    let keys: Vec<c_int> = t.range(first..=last).map(|(k, _)| *k).collect();
    keys.into_iter()
        .filter_map(|k| t.remove(&k).map(|e| (k, e)))
        .collect()
}

/// The `sev_fd` to hand the model for the fd number a caller put into `kvm_sev_cmd.sev_fd`:
/// the platform's own fd for a SEV device placeholder, else -1 (the kernel's `EBADF`: not
/// `/dev/sev`).
pub(crate) fn model_sev_fd(caller_fd: u32, platform_fd: c_int) -> u32 {
    match get(caller_fd as c_int) {
        Some(Entry::Sev { .. }) => platform_fd as u32,
        _ => u32::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::sev_device_options;

    #[test]
    fn sev_device_is_found_in_qemu_options() {
        let v = sev_device_options(b"sev-guest,id=sev0,sev-device=/tmp/a,,b,cbitpos=0");
        assert_eq!(v, vec![b"/tmp/a,b".to_vec()]);
        assert!(sev_device_options(b"sev-guest,id=sev0").is_empty());
        assert!(sev_device_options(b"sev-device=").is_empty());
    }
}
