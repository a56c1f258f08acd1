// Should pass: a component in a module naming a type of the parent module as `super::Config`.
// Today the type is spliced inside the generated module `steps::configure`, where `super` is
// `steps`, so it is not found.
use kfp_sdk::prelude::*;

#[derive(serde::Serialize, serde::Deserialize)]
struct Config {
    level: u32,
}

impl ParamValue for Config {}

mod steps {
    use kfp_sdk::prelude::*;

    #[component]
    pub fn configure(config: super::Config) -> u32 {
        config.level
    }
}

#[pipeline]
fn configured() -> ParamRef<u32> {
    steps::configure::task(Config { level: 1 })
        .outputs
        .output
        .clone()
}

fn main() {
    assert_eq!(configured::graph().unwrap().tasks.len(), 1);
}
