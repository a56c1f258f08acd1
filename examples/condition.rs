//! A coin flip decides which branch runs (Argo `when`).
//!
//! ```text
//! cargo run --release --example condition -- compile              # Argo Workflow YAML
//! cargo run --release --example condition -- run -p seed=3         # run it here
//! ```
use kfp_sdk::dsl::when;
use kfp_sdk::prelude::*;

/// Flips a coin: "heads" or "tails", decided by `seed` (so that runs are reproducible).
#[component]
fn flip_coin(seed: u64) -> String {
    // One step of a 64-bit linear congruential generator; its top bit is the coin.
    let state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    if state >> 63 == 0 { "heads" } else { "tails" }.to_owned()
}

/// Prints a message and returns it.
#[component]
fn announce(message: String) -> String {
    println!("{message}");
    message
}

/// Flips a coin; heads and tails each run their own task, and a big seed runs one more.
#[pipeline]
fn condition(#[default(7)] seed: u64) {
    let coin = flip_coin::task(&seed);
    let side = &coin.outputs.output;
    when(side.eq("heads"), || {
        announce::task("it was heads");
    })
    .otherwise(|| {
        announce::task("it was tails");
    });
    when(seed.gt(1000u64).and(side.ne("heads")), || {
        announce::task("a big seed that gave tails");
    });
}

kfp_sdk::main!();
