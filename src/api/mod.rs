//! The safe Rust API: platform and guest commands, marshalled into the kernel's structs and
//! issued through the transport seam. (Being implemented: see the foundation issue.)
