//! Guest memory encryption in the model: the address-tweaked AES of `memcrypt` (portable) and
//! `memcrypt_ni` (AES-NI/VAES, chosen at run time). Every generation encrypts guest pages here.

pub(crate) mod memcrypt;
#[cfg(target_arch = "x86_64")]
pub(crate) mod memcrypt_ni;
