//! KVM transport (ioctls on the caller's fds). Filled in by the foundation work.
