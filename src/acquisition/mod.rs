//! Live acquisition devices (in progress).
