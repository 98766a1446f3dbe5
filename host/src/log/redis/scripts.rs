//! The Lua scripts that make each multi-key step atomic on Redis (`EVALSHA`, loaded on first
//! use). Each is a file of its own so it reads (and diffs) as Lua; `KEYS` and `ARGV` are
//! documented where the script is called, in the log's operations.

/// Creates the log if missing (new epoch, empty streams) and returns its metadata.
pub(super) const INIT: &str = include_str!("init.lua");

/// Assigns the next index and appends `head .. idx .. tail` as entry `<idx>-1`. Idempotent
/// per request key `KEYS[3]`: a retried request gets the index of its first success.
pub(super) const APPEND: &str = include_str!("append.lua");

/// Writes state version `ARGV[2] + 1` if the stored version is `ARGV[2]`; otherwise returns
/// the stored version and state for the caller to merge again.
pub(super) const SET_STATE: &str = include_str!("set_state.lua");
