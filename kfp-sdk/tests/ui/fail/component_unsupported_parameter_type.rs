// A component input whose type is not a parameter value.
use kfp_sdk::prelude::*;

#[component]
fn read(path: std::path::PathBuf) -> String {
    path.display().to_string()
}

fn main() {}
