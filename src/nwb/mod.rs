//! NWB session files (in progress).
