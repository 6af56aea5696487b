//! Threads, rings and channels around the engine (in progress).
