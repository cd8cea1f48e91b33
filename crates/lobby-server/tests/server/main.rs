//! The server's tests, in one binary: end-to-end over HTTP ([`api`]), the bad-input sweep over
//! raw sockets ([`bad_input`]), the `--demo` binary run ([`demo`]), backup, restore and migrate
//! ([`dump`]), and the fuzzer ([`fuzz`]). [`helpers`] holds what they share.

mod api;
mod bad_input;
mod browser;
mod conversations;
mod demo;
mod disk_full;
mod dump;
mod fuzz;
mod helpers;
mod history;
mod live;
mod permissions;
mod retention;
mod rules;
mod security;
mod storm;
